// Issue 11 items 3 and 7 end to end: events nested 5,000 and 100,000 deep, documents whose
// type is not their topic frame, and dates no Date holds (as the time or deep in a field) are
// rejected one by one by tap and the sinks; no such event stops a component, and every stats
// line counts them.
import assert from "node:assert/strict";
import { BSON } from "bson";
import { Emitter } from "@eventstorm/core";
import { EventStore } from "@eventstorm/sink-store";
import { deepEvent } from "../core/testdata/deep_bson.ts";
import { farDatedEvent } from "../core/testdata/far_date.ts";
import { cli, finish, startRouter, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Sends the hostile documents, then one good event, on `public.x`. */
async function sendHostile(sources: string, ready: () => boolean): Promise<void> {
  const out = await Emitter.open({ endpoints: sources, host: "h" });
  try {
    await waitFor(() => out.stats().subscriptions > 0 && ready(), "the receiver's subscription");
    out.sendEncoded("public.x", deepEvent("public.x", 5000), 1);
    out.sendEncoded("public.x", deepEvent("public.x", 100_000), 1);
    const mismatch = BSON.serialize({ type: "secret.x", time: new Date(), host: "h" });
    out.sendEncoded("public.x", mismatch, 1);
    out.sendEncoded("public.x", farDatedEvent("public.x", 2n ** 62n), 1);
    out.sendEncoded("public.x", farDatedEvent("public.x", -(10n ** 16n), 3), 1);
    out.emit("public.x", { good: true });
  } finally {
    await out.close();
  }
}

Deno.test(
  "tap: deep and mismatched documents are counted as rejected, tap goes on",
  opts,
  async () => {
    const r = startRouter();
    try {
      const tap = cli(["tap", "--from", r.sinks, "--limit", "1"]);
      await sendHostile(r.sources, () => r.router.stats().subscriptions.length > 0);
      const result = await finish(tap);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /"good":true/);
      assert.match(result.stderr, /rejected 5/);
    } finally {
      await r.stop();
    }
  },
);

Deno.test(
  "store sink: deep and mismatched documents are refused and counted on its line",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const r = startRouter();
    try {
      const sink = cli(["sink", "store", "--db", `${dir}/e.db`, "--from", r.sinks]);
      await sendHostile(r.sources, () => r.router.stats().subscriptions.length > 0);
      await waitFor(() => {
        try {
          const store = EventStore.open(`${dir}/e.db`, { readOnly: true });
          const count = store.count();
          store.close();
          return count === 1;
        } catch {
          return false;
        }
      }, "the good event stored");
      sink.kill("SIGTERM");
      const result = await finish(sink);
      assert.equal(result.code, 0, result.stderr);
      // The store reads documents itself (no event objects): what is not a valid
      // event of its topic arrives, is refused by the backend, and counts as dropped.
      assert.match(
        result.stderr,
        /received 6, stored 1, buffered 0, dropped 5 \(rejected 5\), .*malformed 0/,
      );
      assert.match(result.stderr, /refused: cannot read event: nested deeper than 100 levels/);
      assert.match(result.stderr, /refused: type is not its topic public\.x/);
      assert.match(result.stderr, /refused: cannot read event: holds a date more than/);
    } finally {
      await r.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
