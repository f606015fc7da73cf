// Issue 11 item 2 against the store sink: a sender's `_id` never takes the id the sink
// derives for another source's event, and a row the database ignores as a replay is
// counted as a duplicate, never as stored.
import assert from "node:assert/strict";
import { Emitter } from "@eventstorm/core";
import { StoreBackend } from "@eventstorm/sink-store";
import { startRouter, tempDir, waitFor } from "./helpers.ts";
import { runSink } from "./sink_run.ts";
import { squatSink } from "./squat.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function startStoreSink(path: string, endpoints: string) {
  return runSink(new StoreBackend(path), endpoints);
}

Deno.test("store sink: a sender's _id cannot squat another source's derived id", opts, async () => {
  await using temp = await tempDir();
  const dir = temp.path;
  const stats = await squatSink(new StoreBackend(`${dir}/events.db`));
  assert.equal(stats.stored, 21);
  assert.equal(stats.duplicates, 0);
  const check = new StoreBackend(`${dir}/events.db`);
  assert.equal(check.store.count(), 21);
  await check.close();
});

Deno.test(
  "store sink: a replay after a restart counts as duplicates, not stored",
  opts,
  async () => {
    await using temp = await tempDir();
    const dir = temp.path;
    const r = startRouter();
    for (let round = 0; round < 2; round++) {
      // A new sink each round: the positions the store saved make the replay duplicates on
      // the wire (tests/sink_restart_test.ts); the ids would keep it out anyway.
      const sink = await startStoreSink(`${dir}/events.db`, r.sinks);
      const out = await Emitter.open({ endpoints: r.sources, host: "h", sourceId: 0xfeedn });
      await waitFor(() => out.stats().subscriptions > 0, "the sink's subscription");
      for (let i = 0; i < 50; i++) out.emit("app.tick", { i });
      await out.close();
      await waitFor(() => {
        const stats = sink.runner.stats();
        return stats.received + stats.duplicatesOnWire === 50 && stats.buffered === 0;
      }, "50 events accounted");
      const stats = await sink.stop();
      assert.equal(stats.stored, round === 0 ? 50 : 0, `round ${round}`);
      assert.equal(
        stats.duplicates + stats.duplicatesOnWire,
        round === 0 ? 0 : 50,
        `round ${round}`,
      );
    }
    await r.stop();
  },
);
