// Issue 11 item 9 (the last part): a message libzmq cuts off for size shows in the router's
// counters. A raw ZMTP 3.0 peer (no library between the test and the wire) sends a message
// whose frames together pass the limit, then a frame a little over it, which the router reads
// and counts as `oversized`, then one far over it, which libzmq cuts (connection closed, no
// reason given), counted as a `disconnect`.
import assert from "node:assert/strict";
import { gather, startRouter, waitFor } from "./helpers.ts";
import { rawPublisher } from "./zmtp_peer.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const LIMIT = 64 * 1024;

Deno.test(
  "router: a frame over the limit is counted oversized; one libzmq cuts off is counted as a disconnect",
  opts,
  async () => {
    const lines: string[] = [];
    const r = startRouter(
      { maxMessageSize: LIMIT, statsIntervalMs: 100 },
      (line) => lines.push(line),
    );
    const stats = await gather({ endpoints: r.sinks, topics: ["eventstorm.stats"] });
    const peer = await rawPublisher(r.sources);
    try {
      const topic = new TextEncoder().encode("app.tick");
      const header = new Uint8Array(24);
      // A body within the limit, but not with its topic and header: the limit is the
      // message's, all frames together. Dropped and counted, connection kept.
      await peer.send([topic, header, new Uint8Array(LIMIT - 8)]);
      await waitFor(() => r.router.stats().malformed.oversized === 1, "the message over the limit");
      // A little over the limit: read by the router, dropped and counted, connection kept.
      await peer.send([topic, header, new Uint8Array(LIMIT + 100)]);
      await waitFor(() => r.router.stats().malformed.oversized === 2, "the oversized frame");
      assert.equal(r.router.stats().disconnects, 0);
      // Far over the cap (1.25 times the limit): libzmq cuts the connection before the router
      // sees anything.
      await peer.send([topic, header, new Uint8Array(LIMIT * 4)]).catch(() => {});
      await waitFor(() => r.router.stats().disconnects === 1, "the cut connection");
      const last = () => stats.events.findLast((event) => event.type === "eventstorm.stats");
      await waitFor(() => last()?.disconnects === 1, "a stats event with the disconnect");
      assert.equal(last()!.malformed_oversized, 2);
      await waitFor(
        () => /malformed 2 \(oversized 2\), disconnects 1$/.test(lines.at(-1) ?? ""),
        "a stats line with both",
      );
    } finally {
      peer.close();
      await stats.stop();
      await r.stop();
    }
  },
);
