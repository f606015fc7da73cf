// A loss a sink counts at once (an index jump on its one path, or a stream's tail that
// only a position announcement shows) shows in `lost` only once a position past it is
// saved: until then a kill -9 would bring the loss back, for the next run to count it
// again. Each test reads the saved position at the moment the loss shows.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Emitter } from "@eventstorm/core";
import type { SinkBackend } from "@eventstorm/core/sink";
import { FileBackend } from "@eventstorm/sink-file";
import { StoreBackend } from "@eventstorm/sink-store";
import { startRouter } from "./helpers.ts";
import { type RunningSink, runSink } from "./sink_run.ts";
import { tempDir } from "./temp.ts";
import { waitFor } from "./wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TOPIC = "app.tick";

/** The position the store at `db` saved for `source`'s stream (0: none). */
function storeNext(db: string, source: bigint): number {
  const database = new DatabaseSync(db, { readOnly: true });
  try {
    const row = database.prepare("SELECT next FROM streams WHERE source = ? AND topic = ?")
      .get(source.toString(16), TOPIC) as { next: number } | undefined;
    return row?.next ?? 0;
  } finally {
    database.close();
  }
}

/** The position the file sink in `dir` saved for `source`'s stream (0: none). */
function fileNext(dir: string, source: bigint): number {
  let next = 0;
  for (const line of Deno.readTextFileSync(`${dir}/.positions`).split("\n")) {
    if (line === "") continue;
    const { s, t, n } = JSON.parse(line);
    if (s === source.toString(16) && t === TOPIC) next = Math.max(next, n);
  }
  return next;
}

/** An emitter of `source` through `endpoints` whose events above 200 bytes are dropped. */
async function emitter(endpoints: string, source: bigint): Promise<Emitter> {
  const out = await Emitter.open({ endpoints, host: "h", sourceId: source, maxEventBytes: 200 });
  await waitFor(() => out.stats().subscriptions > 0, "the sink's subscription");
  return out;
}

/** Emits `[from, to)`; too large to send, their indexes are a gap the sink counts lost. */
function emitDropped(out: Emitter, from: number, to: number): void {
  for (let i = from; i < to; i++) out.emit(TOPIC, { i, pad: "x".repeat(300) });
}

function emit(out: Emitter, from: number, to: number): void {
  for (let i = from; i < to; i++) out.emit(TOPIC, { i });
}

/**
 * 10 events stored, then 5 dropped by the source at the stream's end: only the
 * announcement of the emitter's close shows them, and no batch of the stream
 * follows to save a position past them. The moment the sink shows them lost, the
 * position saved is 15.
 */
async function tailShownOnceSaved(
  backend: SinkBackend,
  savedNext: () => number,
  source: bigint,
): Promise<void> {
  const r = startRouter();
  const sink = await runSink(backend, r.sinks, { collector: { topics: [TOPIC] } });
  try {
    const out = await emitter(r.sources, source);
    emit(out, 0, 10);
    await waitFor(() => sink.runner.stats().stored === 10, "0..9 stored");
    emitDropped(out, 10, 15);
    await out.close();
    await waitFor(() => sink.runner.stats().lostOnWire > 0, "the tail counted lost");
    assert.equal(savedNext(), 15);
    assert.equal(sink.runner.stats().lostOnWire, 5);
  } finally {
    await sink.stop();
    await r.stop();
  }
}

Deno.test(
  "store sink: a tail lost shows once a position past it is saved, not before",
  opts,
  async () => {
    await using dir = await tempDir();
    const db = `${dir.path}/events.db`;
    await tailShownOnceSaved(new StoreBackend(db), () => storeNext(db, 0x1055an), 0x1055an);
  },
);

Deno.test(
  "file sink: a tail lost shows once a position past it is saved, not before",
  opts,
  async () => {
    await using dir = await tempDir();
    await tailShownOnceSaved(
      await FileBackend.open({ dir: dir.path, format: "jsonl" }),
      () => fileNext(dir.path, 0x1055bn),
      0x1055bn,
    );
  },
);

/** What a test on a locked store is given (see `lockedStore`). */
interface LockedStore {
  sink: RunningSink;
  out: Emitter;
  /** The position saved for the stream now. */
  savedNext: () => number;
  /** Lets the sink write again. */
  unlock: () => void;
}

/**
 * A store sink (writing inline, so that a write fails where it runs) behind a
 * router, 0..9 of `source`'s stream stored, then its database locked by another
 * writer: nothing more can be stored, and no position saved, until `unlock`.
 */
async function lockedStore(
  source: bigint,
  options: { bufferEvents?: number },
  body: (store: LockedStore) => Promise<void>,
): Promise<void> {
  await using dir = await tempDir();
  const db = `${dir.path}/events.db`;
  const r = startRouter();
  const sink = await runSink(new StoreBackend(db, { writer: "inline" }), r.sinks, {
    collector: { topics: [TOPIC] },
    ...options,
  });
  const lock = new DatabaseSync(db);
  let locked = false;
  let out: Emitter | undefined;
  try {
    out = await emitter(r.sources, source);
    emit(out, 0, 10);
    await waitFor(() => sink.runner.stats().stored === 10, "0..9 stored");
    lock.exec("BEGIN IMMEDIATE");
    locked = true;
    const unlock = () => {
      lock.exec("ROLLBACK");
      locked = false;
    };
    await body({ sink, out, savedNext: () => storeNext(db, source), unlock });
  } finally {
    if (locked) lock.exec("ROLLBACK");
    lock.close();
    await out?.close();
    await sink.stop();
    await r.stop();
  }
}

Deno.test(
  "store sink that cannot save (database locked) does not show an index jump lost until it can",
  opts,
  () =>
    lockedStore(0x1055cn, {}, async ({ sink, out, savedNext, unlock }) => {
      emitDropped(out, 10, 15);
      emit(out, 15, 20);
      await out.flush();
      await waitFor(() => sink.runner.stats().writeErrors > 0, "a write refused", 60_000);
      // The jump from 10 to 15 is a gap, held 10 s for late copies, then a loss; but no
      // position past it is saved: a crash now would have the next run count it, so this
      // one does not show it in lost yet. Shown all the same, apart: the loss is known
      // while the backend is down.
      await waitFor(() => sink.runner.stats().lostUnsaved === 5, "10..14 lost, unsaved", 60_000);
      assert.equal(sink.runner.stats().received, 15);
      assert.equal(sink.runner.stats().lostOnWire, 0);
      assert.equal(sink.runner.counters().lost_unsaved, 5);
      assert.equal(savedNext(), 10);
      unlock();
      await waitFor(() => sink.runner.stats().stored === 15, "15..19 stored", 60_000);
      assert.equal(sink.runner.stats().lostOnWire, 5);
      assert.equal(sink.runner.stats().lostUnsaved, 0);
      assert.equal(savedNext(), 20);
    }),
);

Deno.test(
  "store sink: events dropped at a full buffer show in dropped_full once a position past them is saved",
  opts,
  () =>
    lockedStore(0x1055dn, { bufferEvents: 10 }, async ({ sink, out, savedNext, unlock }) => {
      // 10..19 fill the buffer while nothing can be stored; 20..39 are dropped (drop-newest),
      // the stream's tail: no later batch of it saves a position past them.
      emit(out, 10, 40);
      await out.flush();
      await waitFor(() => sink.runner.stats().received === 40, "10..39 received", 60_000);
      await waitFor(() => sink.runner.stats().writeErrors > 0, "a write refused", 60_000);
      // A crash now would have the next run count 20..39 lost: not counted dropped yet.
      assert.deepEqual(
        [sink.runner.stats().droppedFull, sink.runner.stats().droppedUnsaved],
        [0, 20],
      );
      assert.equal(sink.runner.counters().dropped, 0);
      unlock();
      await waitFor(() => sink.runner.stats().droppedFull > 0, "the drops counted", 60_000, 2);
      assert.equal(savedNext(), 40);
      assert.deepEqual(
        [sink.runner.stats().stored, sink.runner.stats().droppedFull],
        [20, 20],
      );
      assert.equal(sink.runner.stats().droppedUnsaved, 0);
    }),
);
