/**
 * A central router whose --sources both binds (sources connect to it) and chains
 * to upstream routers (scaling.md §5): copies that come through the upstream
 * routers are replays, counted as duplicates, never refused as another peer's
 * stream; peers of the bound endpoint are still judged as stream owners.
 */
import assert from "node:assert/strict";
import { encodeHeader } from "@eventstorm/core/protocol";
import { SocketType, ZmqContext } from "../core/zmq/socket.ts";
import { emitter, gather, sleep, startRouter, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "a central router that binds and chains takes a second regional router's copies as duplicates, and loses nothing when the first dies",
  opts,
  async () => {
    // Peers are told apart by address: the regional routers' sinks sides on two.
    const a = startRouter({ sinks: ["@tcp://127.0.0.2:*"] });
    const b = startRouter({ sinks: ["@tcp://127.0.0.3:*"] });
    // The bound endpoint last: boundEndpoints() names it.
    const central = startRouter({ sources: [a.sinks, b.sinks, "@tcp://127.0.0.1:*"] });
    const sink = await gather({ endpoints: central.sinks });
    const out = await emitter({ endpoints: [a.sources, b.sources] });
    const context = new ZmqContext();
    let aStopped = false;
    try {
      await waitFor(
        () =>
          a.router.stats().subscriptions.length > 0 && b.router.stats().subscriptions.length > 0,
        "the central router's subscriptions at both regional routers",
      );
      await waitFor(() => out.stats().subscriptions > 0, "the regional routers' subscriptions");
      // The source sends only to the subscribers it has heard: give both time.
      await sleep(500);
      for (let i = 0; i < 200; i++) out.emit("app.mix", { i });
      await out.flush();
      await waitFor(() => {
        const { eventsIn, malformed } = central.router.stats();
        return eventsIn >= 400 || (malformed.owner ?? 0) > 0;
      }, "both copies at the central");
      let stats = central.router.stats();
      assert.equal(stats.malformed.owner ?? 0, 0, JSON.stringify(stats.malformed));
      assert.equal(stats.duplicates, 200);
      // Regional A dies; B's copies are all there is now.
      await a.stop();
      aStopped = true;
      for (let i = 200; i < 400; i++) out.emit("app.mix", { i });
      await out.flush();
      await waitFor(
        () => new Set(sink.events.filter((e) => e.type === "app.mix").map((e) => e.i)).size === 400,
        "all 400 events at the sink",
      );
      stats = central.router.stats();
      assert.equal(stats.malformed.owner ?? 0, 0, JSON.stringify(stats.malformed));
      assert.equal(stats.lost, 0);
      assert.equal(sink.collector.stats().lost, 0);
      // The bound endpoint still judges its peers: a source connected there owns
      // its stream, and another peer's claim on it is refused.
      const direct = await emitter({ endpoints: central.sources });
      try {
        await waitFor(() => direct.stats().subscriptions > 0, "the central's subscription");
        await sleep(200);
        for (let i = 0; i < 10; i++) direct.emit("app.direct", { i });
        await direct.flush();
        await waitFor(() => sink.events.filter((e) => e.type === "app.direct").length === 10, "10");
        const header = encodeHeader({ flags: 0, count: 0, source: direct.sourceId, first: 1000 });
        const forger = context.socket(SocketType.XPUB);
        forger.configure({ lingerMs: 1000 });
        forger.attach({ bind: false, address: `tcp://127.0.0.2:0;${central.sources.slice(7)}` });
        await waitFor(
          () => forger.receive([new Uint8Array(64)], new Int32Array(1)) > 0,
          "the central's subscription at the forger",
        );
        assert.ok(forger.send([new TextEncoder().encode("app.direct"), header, new Uint8Array(0)]));
        await waitFor(() => central.router.stats().malformed.owner === 1, "the claim refused");
        forger.close();
      } finally {
        await direct.close();
      }
    } finally {
      await out.close();
      await sink.stop();
      await central.stop();
      await b.stop();
      if (!aStopped) await a.stop();
      await context.terminate();
    }
  },
);
