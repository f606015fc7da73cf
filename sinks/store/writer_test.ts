import assert from "node:assert/strict";
import { encodeBatch, type WireMessage } from "@eventstorm/core/protocol";
import { tempDir } from "../../tests/temp.ts";
import { EventStore, type PreparedBatch } from "./store.ts";
import { StoreWriter } from "./writer.ts";
import { StoreBackend } from "./backend.ts";
import { connect } from "./rows.ts";

function prepared(store: EventStore, first: number, count: number): PreparedBatch {
  const events = Array.from({ length: count }, (_, i) => ({
    type: "app.tick",
    time: new Date(1_700_000_000_000 + i),
    host: "h",
    n: first + i,
  }));
  const header = { flags: 0, count, source: 7n, first };
  return store.prepareMessages([{ topic: "app.tick", header, body: encodeBatch(events), count }]);
}

Deno.test("store writer: a failed batch fails the ones given before it was seen, then writes again", async () => {
  await using temp = await tempDir({ prefix: "store_writer_" });
  const path = `${temp.path}/events.db`;
  const store = EventStore.open(path);
  const writer = new StoreWriter(path);
  try {
    const position = (next: number) => [{ source: 7n, topic: "app.tick", next, at: 1 }];
    // Two in flight, committed in order.
    const [a, b] = await Promise.all([
      writer.commit(prepared(store, 0, 100), position(100)),
      writer.commit(prepared(store, 100, 100), position(200)),
    ]);
    assert.deepEqual([a.inserted, b.inserted], [100, 100]);
    // A value SQLite cannot bind breaks its transaction; the batch given right after
    // it (before its failure is seen) must not be stored ahead of it.
    const broken = prepared(store, 200, 10);
    // A type no row names: SQLite cannot bind it.
    broken.rows[0] = broken.strings.length;
    const failing = writer.commit(broken, position(210));
    const following = writer.commit(prepared(store, 210, 10), position(220));
    await assert.rejects(failing, /cannot write batch/);
    await assert.rejects(following, /an earlier batch failed/);
    assert.equal(store.count(), 200);
    assert.deepEqual(store.positions().map((p) => p.next), [200]);
    // Seen: the next batch writes again.
    const retried = await writer.commit(prepared(store, 200, 20), position(220));
    assert.equal(retried.inserted, 20);
    assert.equal(store.count(), 220);
    assert.deepEqual(store.positions().map((p) => p.next), [220]);
  } finally {
    await writer.close();
    store.close();
  }
});

Deno.test("store backend: with its writer thread, replays are duplicates and close waits for the last commit", async () => {
  await using temp = await tempDir({ prefix: "store_writer_" });
  const path = `${temp.path}/events.db`;
  const backend = new StoreBackend(path);
  assert.equal(backend.concurrency, 2);
  const inline = new StoreBackend(":memory:");
  assert.equal(inline.concurrency, 1);
  await inline.close();
  const body = encodeBatch(
    Array.from({ length: 500 }, (_, i) => ({ type: "app.tick", time: new Date(), host: "h", i })),
  );
  const message = (first: number) => ({
    topic: "app.tick",
    header: { flags: 0, count: 500, source: 9n, first },
    body,
    count: 500,
  });
  const first = backend.writeMessages([message(0)]);
  const replay = backend.writeMessages([message(0)]);
  const last = backend.writeMessages([message(500)]);
  assert.deepEqual(await first, { rejected: 0, duplicates: 0 });
  assert.deepEqual(await replay, { rejected: 0, duplicates: 500 });
  await backend.close();
  assert.deepEqual(await last, { rejected: 0, duplicates: 0 });
  const store = EventStore.open(path, { readOnly: true });
  assert.equal(store.count(), 1000);
  store.close();
});

function detached(message: WireMessage): boolean {
  return (message.body.buffer as ArrayBuffer).detached;
}

/** Events `[from, to)` of `message`, on its buffer (as the runner splits a message). */
function piece(message: WireMessage, from: number, to: number): WireMessage {
  const body = message.body;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const offsets = [0];
  for (let i = 0; i < to; i++) offsets.push(offsets[i] + view.getInt32(offsets[i], true));
  const header = { ...message.header!, first: message.header!.first + from, count: to - from };
  return {
    topic: message.topic,
    header,
    body: body.subarray(offsets[from], offsets[to]),
    count: to - from,
  };
}

function tickMessage(first: number, count: number): WireMessage {
  const events = Array.from({ length: count }, (_, i) => ({
    type: "app.tick",
    time: new Date(1_700_000_000_000 + i),
    host: "h",
    n: first + i,
  }));
  const header = { flags: 0, count, source: 7n, first };
  return { topic: "app.tick", header, body: encodeBatch(events), count };
}

Deno.test("store writer: a committed batch's bodies are released, a failed one's kept for its retry", async () => {
  await using temp = await tempDir({ prefix: "store_writer_" });
  const path = `${temp.path}/events.db`;
  const store = EventStore.open(path);
  const writer = new StoreWriter(path);
  try {
    // A message split where a batch ends: its pieces share one buffer.
    const whole = tickMessage(0, 300);
    const [head, tail] = [piece(whole, 0, 120), piece(whole, 120, 300)];
    assert.equal(head.body.buffer, tail.body.buffer);
    await writer.commit(store.prepareMessages([head]), [], [head]);
    assert.equal(detached(head), false, "the tail still needs the buffer");
    const broken = store.prepareMessages([tail]);
    // A type no row names: SQLite cannot bind it.
    broken.rows[0] = broken.strings.length;
    await assert.rejects(writer.commit(broken, [], [tail]), /cannot write batch/);
    assert.equal(detached(tail), false, "kept for the retry");
    // The retry (the runner's same message) reads it again, and then it goes.
    const retried = await writer.commit(store.prepareMessages([tail]), [], [tail]);
    assert.equal(retried.inserted, 180);
    assert.equal(detached(tail), true);
    assert.equal(store.count(), 300);
  } finally {
    await writer.close();
    store.close();
  }
});

Deno.test("store backend: a batch written by its thread releases its messages' bodies once stored", async () => {
  await using temp = await tempDir({ prefix: "store_writer_" });
  const path = `${temp.path}/events.db`;
  const backend = new StoreBackend(path);
  try {
    const messages = [tickMessage(0, 400), tickMessage(400, 400)];
    assert.deepEqual(await backend.writeMessages(messages), { rejected: 0, duplicates: 0 });
    assert.deepEqual(messages.map(detached), [true, true]);
  } finally {
    await backend.close();
  }
  const store = EventStore.open(path, { readOnly: true });
  assert.equal(store.count(), 800);
  store.close();
});

Deno.test("store connections: the sink's and the writer thread's commit with synchronous=NORMAL", async () => {
  await using temp = await tempDir({ prefix: "store_connect_" });
  const path = `${temp.path}/events.db`;
  const store = EventStore.open(path);
  // The thread opens its connection with connect(), as EventStore.open does.
  const thread = connect(path);
  try {
    const synchronous = (db: { prepare(sql: string): { get(): unknown } }) =>
      (db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
    assert.equal(synchronous(store.database), 1, "NORMAL");
    assert.equal(synchronous(thread), 1, "NORMAL");
  } finally {
    thread.close();
    store.close();
  }
});

Deno.test("store writer: checkpoints run on their own thread, and the WAL starts over at its bound under a writer that never pauses", async () => {
  await using temp = await tempDir({ prefix: "store_checkpoints_" });
  const path = `${temp.path}/events.db`;
  const store = EventStore.open(path);
  // 64 pages of 16 KiB: 1 MiB, where the sink's own is 64 MiB.
  const writer = new StoreWriter(path, { walRestartPages: 64 });
  const walBytes = () => {
    try {
      return Deno.statSync(`${path}-wal`).size;
    } catch {
      return 0;
    }
  };
  try {
    const deadline = Date.now() + 10_000;
    while (!writer.checkpointThread && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(writer.checkpointThread, "the checkpoint thread is up");
    // Two batches in flight all the time: PASSIVE checkpoints beside a writer that
    // never pauses would let the WAL hold every page ever written (here 13 times
    // the database's size).
    let mostWal = 0;
    let next = 0;
    const inFlight: Promise<unknown>[] = [];
    while (next < 120_000 || inFlight.length > 0) {
      while (next < 120_000 && inFlight.length < 2) {
        inFlight.push(writer.commit(prepared(store, next, 1000)));
        next += 1000;
      }
      await inFlight.shift();
      mostWal = Math.max(mostWal, walBytes());
    }
    assert.ok(mostWal < 2 * Deno.statSync(path).size, `the WAL reached ${mostWal} bytes`);
    // The WAL header's checkpoint sequence counts its start-overs.
    const header = new Uint8Array(16);
    using wal = Deno.openSync(`${path}-wal`);
    wal.readSync(header);
    const startedOver = new DataView(header.buffer).getUint32(12);
    assert.ok(startedOver >= 5, `the WAL started over ${startedOver} times`);
    assert.equal(store.count(), 120_000);
  } finally {
    await writer.close();
    store.close();
  }
  // The last connection closed copied the rest and removed the WAL.
  assert.equal(walBytes(), 0);
  const reopened = EventStore.open(path, { readOnly: true });
  assert.equal(reopened.count(), 120_000);
  reopened.close();
});
