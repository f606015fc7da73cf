// Events still buffered when --shutdown-timeout runs out are counted dropped_shutdown.
// The restarted sink must not count them again as lost (nor store a replay of them):
// over both runs each event is counted once.
import assert from "node:assert/strict";
import { Emitter, type Event } from "@eventstorm/core";
import type { SinkBackend, StreamPosition } from "@eventstorm/core/sink";
import { StoreBackend } from "@eventstorm/sink-store";
import { startRouter } from "./helpers.ts";
import { runSink } from "./sink_run.ts";
import { tempDir } from "./temp.ts";
import { waitFor } from "./wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SOURCE = 0x5d0n;
const TOPIC = "app.tick";

/** The store, except that once `stall()` is called its writes never answer. */
class StallingStore implements SinkBackend {
  readonly name = "store";
  readonly store: StoreBackend;
  #stalled = false;
  constructor(path: string) {
    this.store = new StoreBackend(path, { writer: "inline" });
  }
  stall(): void {
    this.#stalled = true;
  }
  write(events: Event[], positions?: StreamPosition[]) {
    if (this.#stalled) return new Promise<never>(() => {});
    return this.store.write(events, positions);
  }
  positions(): Promise<StreamPosition[]> {
    return this.store.positions();
  }
  savePositions(positions: StreamPosition[]): Promise<void> {
    return this.store.savePositions(positions);
  }
  close(): Promise<void> {
    return this.store.close();
  }
}

async function emitter(endpoints: string, from: number): Promise<Emitter> {
  return await Emitter.open({
    endpoints,
    host: "h",
    sourceId: SOURCE,
    positions: { [TOPIC]: from },
  });
}

Deno.test(
  "store sink: events dropped at a shutdown that timed out are not counted lost by the next run",
  opts,
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/events.db`;
    const r = startRouter();
    try {
      const backend = new StallingStore(path);
      const first = await runSink(backend, r.sinks, {
        shutdownTimeoutMs: 300,
        collector: { topics: [TOPIC] },
      });
      const out = await emitter(r.sources, 0);
      await waitFor(() => out.stats().subscriptions > 0, "the sink's subscription");
      for (let i = 0; i < 10; i++) out.emit(TOPIC, { i });
      await out.ready();
      await waitFor(() => first.runner.stats().stored === 10, "0..9 stored");
      backend.stall();
      for (let i = 10; i < 20; i++) out.emit(TOPIC, { i });
      await out.close();
      await waitFor(() => first.runner.stats().received === 20, "10..19 received");
      const one = await first.stop();
      assert.deepEqual(
        { stored: one.stored, droppedShutdown: one.droppedShutdown, lost: one.lostOnWire },
        { stored: 10, droppedShutdown: 10, lost: 0 },
      );

      // The next run: the stream goes on at 20, and a source replays 10..19.
      const second = await runSink(new StoreBackend(path), r.sinks, {
        collector: { topics: [TOPIC] },
      });
      const more = await emitter(r.sources, 20);
      await waitFor(() => more.stats().subscriptions > 0, "the restarted sink's subscription");
      for (let i = 20; i < 25; i++) more.emit(TOPIC, { i });
      await more.close();
      const replay = await emitter(r.sources, 10);
      await waitFor(() => replay.stats().subscriptions > 0, "the replay's subscription");
      for (let i = 10; i < 20; i++) replay.emit(TOPIC, { i });
      await replay.close();
      await waitFor(() => {
        const stats = second.runner.stats();
        return stats.stored + stats.lostOnWire >= 5 && stats.duplicatesOnWire >= 10;
      }, "20..24 and the replay accounted");
      const two = await second.stop();
      // 25 events: 15 stored, 10 dropped at the first shutdown, none counted twice.
      assert.deepEqual(
        { stored: two.stored, lost: two.lostOnWire, duplicates: two.duplicatesOnWire },
        { stored: 5, lost: 0, duplicates: 10 },
      );
      const check = new StoreBackend(path);
      assert.equal(check.store.count(), 15);
      await check.close();
    } finally {
      await r.stop();
    }
  },
);
