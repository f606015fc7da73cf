// A sink reading two paths (protocol 5.2) stops while a gap one path left is still
// held open, and resumes its saved position (5.3): the gap's events must end up
// stored or counted lost, once, not skipped as replays by the next run.
import assert from "node:assert/strict";
import { Emitter } from "@eventstorm/core";
import { StoreBackend } from "@eventstorm/sink-store";
import { runSink } from "./sink_run.ts";
import { tempDir } from "./temp.ts";
import { waitFor } from "./wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SOURCE = 0x9a9an;

/** A bound emitter of SOURCE's `app.tick` stream from `from` on, as one path carries it. */
function path(from: number): Promise<Emitter> {
  return Emitter.open({
    endpoints: "@tcp://127.0.0.1:*",
    host: "h",
    sourceId: SOURCE,
    positions: { "app.tick": from },
  });
}

async function send(emitter: Emitter, from: number, to: number): Promise<void> {
  await waitFor(() => emitter.stats().subscriptions > 0, "the sink's subscription");
  for (let i = from; i < to; i++) emitter.emit("app.tick", { i });
  await emitter.close();
}

Deno.test(
  "store sink: a gap still held at a clean stop counts lost, once, across the restart",
  opts,
  async () => {
    await using dir = await tempDir();
    const db = `${dir.path}/events.db`;
    const early = await path(0);
    const ahead = await path(200);
    const first = await runSink(
      new StoreBackend(db),
      `>${early.boundEndpoint()},>${ahead.boundEndpoint()}`,
    );
    await send(early, 0, 100);
    await waitFor(() => first.runner.stats().stored === 100, "0..99 stored");
    // The fast path skips [100, 200): a gap held open for the other path.
    await send(ahead, 200, 300);
    await waitFor(() => first.runner.stats().stored === 200, "200..299 stored");
    const one = await first.stop();

    // The slow path brings the gap's events to the restarted sink.
    const late = await path(100);
    const spare = await path(300);
    const second = await runSink(
      new StoreBackend(db),
      `>${late.boundEndpoint()},>${spare.boundEndpoint()}`,
    );
    await send(late, 100, 200);
    await waitFor(
      () => second.runner.stats().stored + second.runner.stats().duplicatesOnWire === 100,
      "the late copies accounted",
    );
    const two = await second.stop();
    await spare.close();
    // Each of the 300 events is stored once or counted lost once, over both runs.
    assert.equal(one.stored + two.stored + one.lostOnWire + two.lostOnWire, 300);
    assert.deepEqual({ lost: one.lostOnWire, duplicates: two.duplicatesOnWire }, {
      lost: 100,
      duplicates: 100,
    });
    const backend = new StoreBackend(db);
    assert.equal(backend.store.count(), 200);
    await backend.close();
  },
);
