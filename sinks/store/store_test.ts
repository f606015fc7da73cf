import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { BSON, ObjectId } from "bson";
import type { Event } from "@eventstorm/core";
import { decodeBatch, encodeBatch } from "@eventstorm/core/protocol";
import { mulberry32 } from "@eventstorm/core/internal";
import { deepEvent } from "../../core/testdata/deep_bson.ts";
import { EventStore } from "./store.ts";
import { queryEvents } from "./query.ts";
import { SCHEMA_VERSION } from "./schema.ts";

function tempStorePath(): { path: string; cleanup: () => void } {
  const dir = Deno.makeTempDirSync({ prefix: "store_test_" });
  return { path: `${dir}/events.db`, cleanup: () => Deno.removeSync(dir, { recursive: true }) };
}

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);

Deno.test("events written to a file come back, also after reopening it", () => {
  const { path, cleanup } = tempStorePath();
  try {
    const events: Event[] = Array.from({ length: 257 }, (_, i) => ({
      type: i % 3 === 0 ? "mail.sent" : "http.hit",
      time: new Date(T0 + i * 1000),
      host: `web${i % 4}`,
      status: 200 + (i % 5),
      ratio: i / 7,
      path: `/p/${i}`,
      seenAt: new Date(T0 - i),
      bytes: BigInt(i) * 1_000_000_000_000n,
    }));
    let store = EventStore.open(path);
    // 257 is five full multi-row statements and seven single rows.
    assert.deepEqual(store.insertBatch(events), { inserted: 257, duplicates: 0, rejected: 0 });
    store.close();

    store = EventStore.open(path);
    assert.equal(store.count(), 257);
    // A file store writes ahead (readers never block the sink) and finds a type's
    // events by time through an index.
    const pragma = store.database.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
    assert.equal(pragma.journal_mode, "wal");
    const plan = store.database.prepare(
      "EXPLAIN QUERY PLAN SELECT * FROM events WHERE type = 'http.hit' AND time >= 0 ORDER BY time",
    ).all() as { detail: string }[];
    assert.match(plan.map((row) => row.detail).join("; "), /USING INDEX events_type_time/);
    assert.deepEqual(store.types(), ["http.hit", "mail.sent"]);
    const back = queryEvents(store);
    store.close();
    assert.equal(back.length, 257);
    for (const [i, event] of back.entries()) {
      assert.deepEqual(event, events[i]);
      assert.ok(event.seenAt instanceof Date);
    }
  } finally {
    cleanup();
  }
});

Deno.test("a replayed _id is stored once, within and across batches and reopens", () => {
  const { path, cleanup } = tempStorePath();
  try {
    const oid = new ObjectId();
    const batch = (n: number): Event[] => [
      { type: "a.b", time: new Date(T0), host: "h", _id: "k1", n },
      { type: "a.b", time: new Date(T0), host: "h", _id: 7, n },
      { type: "a.b", time: new Date(T0), host: "h", _id: "7", n },
      { type: "a.b", time: new Date(T0), host: "h", _id: oid, n },
      { type: "a.b", time: new Date(T0), host: "h", n },
    ];
    let store = EventStore.open(path);
    assert.deepEqual(store.insertBatch([...batch(1), ...batch(2)]), {
      inserted: 6,
      duplicates: 4,
      rejected: 0,
    });
    store.close();
    store = EventStore.open(path);
    assert.deepEqual(store.insertBatch(batch(3)), { inserted: 1, duplicates: 4, rejected: 0 });
    const stored = queryEvents(store);
    store.close();
    assert.equal(stored.length, 7);
    // The first copy of each identified event wins; the number 7 and the string "7" differ.
    const withId = stored.filter((e) => e._id !== undefined);
    assert.deepEqual(withId.map((e) => e.n), [1, 1, 1, 1]);
    assert.ok(withId.some((e) => e._id === 7) && withId.some((e) => e._id === "7"));
    assert.ok(withId.some((e) => e._id instanceof ObjectId && e._id.equals(oid)));
  } finally {
    cleanup();
  }
});

Deno.test("bad events are counted and skipped, the rest of the batch is stored", () => {
  const store = EventStore.open(":memory:");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const result = store.insertBatch([
    { type: "ok.one", time: new Date(T0), host: "h" },
    { type: "Not Valid", time: new Date(T0), host: "h" },
    { type: "ok.two", time: new Date(NaN), host: "h" },
    { type: "ok.two", time: new Date(T0), host: 5 } as unknown as Event,
    null as unknown as Event,
    { type: "ok.three", time: new Date(T0), host: "h", loop: cyclic },
    { type: "ok.four", time: new Date(T0), host: "h" },
  ]);
  assert.equal(result.inserted, 2);
  assert.equal(result.rejected, 5);
  assert.match(result.problem ?? "", /cannot store event/);
  assert.deepEqual(store.types(), ["ok.four", "ok.one"]);
  assert.deepEqual(store.insertBatch([]), { inserted: 0, duplicates: 0, rejected: 0 });
  store.close();
});

Deno.test("retention deletes events older than the age, of every type", () => {
  const store = EventStore.open(":memory:", { retain: 30 * 86_400_000 });
  const now = Date.UTC(2026, 5, 30);
  const ages = [0, 1, 29, 30, 31, 400];
  const events = ages.flatMap((days, i) =>
    ["x.a", "y.b"].map((type) => ({
      type,
      time: new Date(now - days * 86_400_000 + (days === 30 ? 1 : 0)),
      host: "h",
      i,
    }))
  );
  store.insertBatch(events);
  // Just inside 30 days (by 1 ms) is kept; 31 and 400 days are deleted, for both types.
  assert.equal(store.applyRetention(new Date(now)), 4);
  assert.deepEqual(
    queryEvents(store).map((e) => [e.type, e.i]).sort(),
    [["x.a", 0], ["x.a", 1], ["x.a", 2], ["x.a", 3], ["y.b", 0], ["y.b", 1], ["y.b", 2], [
      "y.b",
      3,
    ]],
  );
  assert.equal(store.applyRetention(now), 0);
  assert.equal(store.applyRetention(now + 86_400_000), 2);
  store.close();

  const keepAll = EventStore.open(":memory:");
  keepAll.insertBatch([{ type: "x.a", time: new Date(0), host: "h" }]);
  assert.equal(keepAll.applyRetention(), 0);
  assert.equal(keepAll.count(), 1);
  keepAll.close();
  assert.throws(() => EventStore.open(":memory:", { retain: 0 }), RangeError);
});

Deno.test("a directory is said to be one; a new store's missing directories are made", () => {
  // SQLite said "disk I/O error" for a directory and "unable to open database
  // file" for a missing directory, where the file sink and checkpoints make it.
  const dir = Deno.makeTempDirSync();
  try {
    for (const readOnly of [true, false]) {
      for (const path of [dir, `${dir}/`]) {
        assert.throws(
          () => EventStore.open(path, { readOnly }),
          new Error(`${path}: is a directory, not a store file`),
        );
      }
    }
    const path = `${dir}/state/deep/events.db`;
    assert.throws(() => EventStore.open(path, { readOnly: true }), /no such store file/);
    assert.equal(Deno.statSync(dir).isDirectory && [...Deno.readDirSync(dir)].length, 0);
    const store = EventStore.open(path);
    store.insertBatch([{ type: "x.a", time: new Date(T0), host: "h" }]);
    store.close();
    const reader = EventStore.open(path, { readOnly: true });
    assert.equal(reader.count(), 1);
    reader.close();
    Deno.writeTextFileSync(`${dir}/file`, "");
    assert.throws(() => EventStore.open(`${dir}/file/events.db`), /cannot make its directory/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("read-only opening needs an existing store and refuses writes", () => {
  const { path, cleanup } = tempStorePath();
  try {
    assert.throws(() => EventStore.open(path, { readOnly: true }), /no such store file/);
    const writer = EventStore.open(path);
    writer.insertBatch([{ type: "x.a", time: new Date(T0), host: "h" }]);
    // A reader alongside a live writer sees what is committed.
    const reader = EventStore.open(path, { readOnly: true });
    assert.equal(reader.count(), 1);
    assert.throws(
      () => reader.insertBatch([{ type: "x.a", time: new Date(T0), host: "h" }]),
      /read-only/,
    );
    writer.insertBatch([{ type: "x.a", time: new Date(T0 + 1), host: "h" }]);
    assert.equal(reader.count(), 2);
    reader.close();
    writer.close();
    writer.close();
  } finally {
    cleanup();
  }
});

Deno.test("a file that is not a store, or from a newer schema, is refused by name", () => {
  const { path, cleanup } = tempStorePath();
  try {
    Deno.writeTextFileSync(path, "this is a text file, not a database\n".repeat(200));
    assert.throws(() => EventStore.open(path), (error: Error) => error.message.startsWith(path));
    assert.throws(() => EventStore.open(path, { readOnly: true }), /not a database/);
    Deno.removeSync(path);

    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE other (x)");
    db.close();
    assert.throws(() => EventStore.open(path, { readOnly: true }), /not an eventstorm store/);
    Deno.removeSync(path);

    EventStore.open(path).close();
    const bump = new DatabaseSync(path);
    bump.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    bump.close();
    assert.throws(() => EventStore.open(path), /newer eventstorm/);
  } finally {
    cleanup();
  }
});

/** The rows of a store, as SQLite holds them. */
function rowsOf(store: EventStore): unknown[] {
  return store.database.prepare("SELECT type, time, host, id, data FROM events ORDER BY seq").all()
    .map((row) => ({ ...row }));
}

Deno.test("messages are stored as the same events decoded would be, ids from the header", () => {
  const events: Event[] = Array.from({ length: 120 }, (_, i) => ({
    type: "http.hit",
    time: new Date(T0 + i),
    host: i % 2 ? "web1" : "wéb2",
    ...(i % 10 === 0 ? { _id: `sender's ${i}` } : {}),
    status: 200 + (i % 5),
    path: `/p/${i}?q="x"\n`,
    "clé": i % 3 ? "café ✓" : "plain",
    ratio: i / 7,
    big: 2n ** 60n + BigInt(i),
    at: new Date(T0 - i),
    nested: { list: [i, "two", null, true], deep: { n: i } },
    // Shapes the transcoder leaves to the ordinary path, in the same batch.
    ...(i % 7 === 0 ? { oid: new ObjectId("65a1b2c3d4e5f60718293a4b"), "1": "index key" } : {}),
  }));
  const header = { flags: 0, count: 60, source: 0xabn, first: 100 };
  const messages = [
    { topic: "http.hit", header, body: encodeBatch(events.slice(0, 60)), count: 60 },
    // No header (a minimal client): no derived id, and a sender's own is dropped.
    { topic: "http.hit", body: encodeBatch(events.slice(60)), count: 60 },
  ];
  const viaMessages = EventStore.open(":memory:");
  assert.deepEqual(viaMessages.insertMessages(messages), {
    inserted: 120,
    duplicates: 0,
    rejected: 0,
  });
  // The ordinary path: decode, set or drop _id as the sink runner does, insertBatch.
  const decoded = messages.flatMap(({ body, header }) =>
    (decodeBatch(body) as Event[]).map((event, i) => {
      if (header) event._id = `ab-http.hit-${header.first + i}`;
      else delete event._id;
      return event;
    })
  );
  const viaEvents = EventStore.open(":memory:");
  viaEvents.insertBatch(decoded);
  assert.deepEqual(rowsOf(viaMessages), rowsOf(viaEvents));
  // Ids and JSON go in as UTF-8 bytes: stored as text, not as blobs.
  const kinds = viaMessages.database.prepare(
    "SELECT typeof(id) AS id, typeof(data) AS data, json_valid(data) AS valid, count(*) AS n " +
      "FROM events GROUP BY 1, 2, 3 ORDER BY 1",
  ).all().map((row) => ({ ...row }));
  assert.deepEqual(kinds, [
    { id: "null", data: "text", valid: 1, n: 60 },
    { id: "text", data: "text", valid: 1, n: 60 },
  ]);
  assert.equal(queryEvents(viaMessages)[1]["clé"], "café ✓");
  assert.equal((rowsOf(viaMessages)[0] as { id: string }).id, '"ab-http.hit-100"');
  // A replay of the first message is all duplicates.
  assert.deepEqual(viaMessages.insertMessages(messages.slice(0, 1)), {
    inserted: 0,
    duplicates: 60,
    rejected: 0,
  });
  viaMessages.close();
  viaEvents.close();
});

/** Messages and positions of one stream (events numbered `n` by index), and a write's counts. */
function oneStream() {
  const source = 0xabn, topic = "http.hit";
  return {
    message: (from: number, to: number) => ({
      topic,
      header: { flags: 0, count: to - from, source, first: from },
      body: encodeBatch(
        Array.from({ length: to - from }, (_, i) => ({
          type: topic,
          time: new Date(T0 + from + i),
          host: "web1",
          n: from + i,
        })),
      ),
      count: to - from,
    }),
    position: (next: number, gaps?: number[]) => ({ source, topic, next, at: T0, gaps }),
    stored: (result: { inserted: number; duplicates: number }) => [
      result.inserted,
      result.duplicates,
    ],
  };
}

Deno.test("a stream's saved position decides what is a duplicate, for every writer of the file", () => {
  const { path, cleanup } = tempStorePath();
  // Two writers of one file, as two sink processes: neither knows what the other stored.
  const first = EventStore.open(path), second = EventStore.open(path);
  try {
    const { message, position, stored } = oneStream();
    assert.deepEqual(stored(first.insertMessages([message(0, 10)], [position(10)])), [10, 0]);
    // The position saved with them covers them for the other writer too.
    assert.deepEqual(stored(second.insertMessages([message(0, 10)], [position(10)])), [0, 10]);
    // 10-14 missing: a gap the first writer holds open for a late copy.
    assert.deepEqual(
      stored(first.insertMessages([message(15, 20)], [position(20, [10, 15])])),
      [5, 0],
    );
    // The late copies fill the gap; what the first writer stored is not stored again.
    assert.deepEqual(stored(second.insertMessages([message(10, 20)], [position(20)])), [5, 5]);
    // Below a position and outside its gaps: stored, or counted lost. Above: new.
    assert.deepEqual(stored(first.insertMessages([message(3, 25)], [position(25)])), [5, 17]);
    // Prepared without the positions it is then committed with: still no id.
    const late = first.prepareMessages([message(25, 27)]);
    assert.deepEqual(stored(first.commitPrepared(late, [position(27)])), [2, 0]);
    const rows = first.database.prepare("SELECT id, data FROM events ORDER BY seq").all() as {
      id: string | null;
      data: string;
    }[];
    assert.deepEqual(
      rows.map(({ data }) => JSON.parse(data).n).sort((a, b) => a - b),
      Array.from({ length: 27 }, (_, i) => i),
    );
    // Rows deduplicated by position keep no id: the unique index on ids is not theirs.
    assert.ok(rows.every(({ id }) => id === null));
    // Without a position the id stays, and so does its check.
    assert.deepEqual(stored(first.insertMessages([message(30, 32)])), [2, 0]);
    assert.deepEqual(stored(second.insertMessages([message(30, 32)])), [0, 2]);
    const ids = first.database.prepare("SELECT id FROM events WHERE id IS NOT NULL").all();
    assert.deepEqual(ids.map(({ id }) => id), ['"ab-http.hit-30"', '"ab-http.hit-31"']);
  } finally {
    first.close();
    second.close();
    cleanup();
  }
});

Deno.test("two writers of a stream save what neither has settled, whichever saves last", () => {
  const { path, cleanup } = tempStorePath();
  const first = EventStore.open(path), second = EventStore.open(path);
  try {
    const { message, position, stored } = oneStream();
    const saved = () => {
      const row = first.database.prepare("SELECT next, gaps FROM streams").get() as {
        next: number;
        gaps: string | null;
      };
      return { next: row.next, gaps: JSON.parse(row.gaps ?? "[]") };
    };
    // The first is ahead, 10-14 missing: a gap it holds open for a late copy.
    assert.deepEqual(
      stored(first.insertMessages([message(0, 10), message(15, 20)], [position(20, [10, 15])])),
      [15, 0],
    );
    // The second has seen 0-9 only; saving its view keeps the first's gap open...
    assert.deepEqual(stored(second.insertMessages([message(0, 10)], [position(10)])), [0, 10]);
    assert.deepEqual(saved(), { next: 20, gaps: [10, 15] });
    // ...so the late copies are stored when they reach the first.
    assert.deepEqual(stored(first.insertMessages([message(10, 15)], [position(20)])), [5, 0]);
    // The second still waits for 12-17 (its own older view): saving it reopens none of
    // what the first stored, and those copies reaching it are duplicates.
    assert.deepEqual(
      stored(second.insertMessages([message(20, 22)], [position(22, [12, 18])])),
      [2, 0],
    );
    assert.deepEqual(saved(), { next: 22, gaps: [] });
    assert.deepEqual(stored(second.insertMessages([message(12, 15)], [position(22)])), [0, 3]);
    // Open on both sides: stays open.
    assert.deepEqual(
      stored(first.insertMessages([message(25, 30)], [position(30, [22, 25])])),
      [5, 0],
    );
    second.insertMessages([], [position(30, [23, 30])]);
    assert.deepEqual(saved(), { next: 30, gaps: [23, 25] });
    // A view whose gap reaches its next, behind the file's: one range, not two that touch...
    second.insertMessages([], [position(24, [23, 24])]);
    assert.deepEqual(saved(), { next: 30, gaps: [23, 25] });
    // ...which the next batch reads back: the late copies are stored.
    assert.deepEqual(stored(first.insertMessages([message(23, 25)], [position(30)])), [2, 0]);
    assert.deepEqual(saved(), { next: 30, gaps: [] });
    // Gaps this store did not write: everything below next open, so a late copy is stored
    // (twice at worst) rather than skipped.
    first.database.exec("UPDATE streams SET gaps = '[5, 3]'");
    assert.deepEqual(stored(second.insertMessages([message(22, 23)], [position(30)])), [1, 0]);
    assert.deepEqual(saved(), { next: 30, gaps: [] });
    const rows = first.database.prepare("SELECT data FROM events").all() as { data: string }[];
    assert.deepEqual(
      rows.map(({ data }) => JSON.parse(data).n).sort((a, b) => a - b),
      [...Array.from({ length: 30 }, (_, i) => i)],
    );
  } finally {
    first.close();
    second.close();
    cleanup();
  }
});

Deno.test("documents that are not events of their topic are refused one by one, with a reason", () => {
  const store = EventStore.open(":memory:");
  const good = { type: "a.b", time: new Date(T0), host: "h", n: 1 };
  const documents = [
    BSON.serialize(good),
    BSON.serialize({ ...good, type: "a.c" }),
    BSON.serialize({ ...good, time: "noon" }),
    BSON.serialize({ type: "a.b", time: new Date(T0) }),
    deepEvent("a.b", 150),
    BSON.serialize({ ...good, n: 2 }),
  ];
  const broken = BSON.serialize({ ...good, s: "abc" });
  broken[broken.length - 4] = 0xff; // invalid UTF-8 inside the string
  documents.push(broken);
  const body = new Uint8Array(documents.reduce((sum, d) => sum + d.length, 0));
  documents.reduce((offset, d) => (body.set(d, offset), offset + d.length), 0);
  const header = { flags: 0, count: documents.length, source: 1n, first: 0 };
  const result = store.insertMessages([{ topic: "a.b", header, body, count: documents.length }]);
  assert.deepEqual({ ...result, problem: undefined, problems: undefined }, {
    inserted: 2,
    duplicates: 0,
    rejected: 5,
    problem: undefined,
    problems: undefined,
  });
  assert.match(result.problem ?? "", /cannot read event/);
  // Each reason once, with its count, for the sink's log line.
  const reasons = result.problems!.map(([reason, count]) => `${count} ${reason}`).join("\n");
  assert.match(reasons, /^1 type is not its topic a\.b$/m);
  assert.match(reasons, /^1 cannot read event: nested deeper than 100 levels$/m);
  assert.equal(result.problems!.reduce((sum, [, count]) => sum + count, 0), 5);
  assert.deepEqual(queryEvents(store).map((e) => [e.n, e._id]), [[1, "1-a.b-0"], [2, "1-a.b-5"]]);
  store.close();
});

Deno.test("a new store uses 16 KiB pages; an existing file keeps its own and still takes events", () => {
  const { path, cleanup } = tempStorePath();
  const old = `${path}.old`;
  try {
    const fresh = EventStore.open(path);
    const pageSize = (db: DatabaseSync) =>
      (db.prepare("PRAGMA page_size").get() as { page_size: number }).page_size;
    assert.equal(pageSize(fresh.database), 16_384);
    fresh.close();
    // A file made with SQLite's default pages, as earlier versions made them.
    const made = new DatabaseSync(old);
    made.exec("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x);");
    made.close();
    const existing = EventStore.open(old);
    assert.equal(pageSize(existing.database), 4096);
    existing.insertBatch([{ type: "app.log", time: new Date(T0), host: "h", n: 1 }]);
    assert.equal(queryEvents(existing, {}).length, 1);
    existing.close();
  } finally {
    cleanup();
  }
});

Deno.test("mutated messages: each document is stored as valid UTF-8 JSON text or refused, none lost", () => {
  const random = mulberry32(99);
  const pieces = ["a", "é", "✓", "\u{1F600}", '"', "\\", "\n", "\u0001", "/", " "];
  const text = (length: number) =>
    Array.from({ length }, () => pieces[Math.floor(random() * pieces.length)]).join("");
  const store = EventStore.open(":memory:");
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let sent = 0, stored = 0, refused = 0;
  for (let round = 0; round < 200; round++) {
    const events = Array.from({ length: 10 }, (_, i) => ({
      type: "http.hit",
      time: new Date(T0 + i),
      host: random() < 0.5 ? "web1" : "wéb2",
      [text(3)]: text(20),
      path: text(40),
      status: i,
    }));
    const body = encodeBatch(events);
    // A few bytes of every other message overwritten: inside strings they make bad UTF-8.
    if (round % 2 === 1) {
      for (let k = 0; k < 3; k++) {
        body[Math.floor(random() * body.length)] = Math.floor(random() * 256);
      }
    }
    const header = { flags: 0, count: 10, source: 7n, first: round * 10 };
    const result = store.insertMessages([{ topic: "http.hit", header, body, count: 10 }]);
    sent += 10;
    stored += result.inserted;
    refused += result.rejected;
  }
  assert.equal(stored + refused, sent);
  assert.ok(refused > 0 && stored > sent / 2, `${stored} stored, ${refused} refused`);
  const rows = store.database.prepare(
    "SELECT typeof(data) AS kind, json_valid(data) AS valid, CAST(data AS BLOB) AS bytes FROM events",
  ).all() as { kind: string; valid: number; bytes: Uint8Array }[];
  assert.equal(rows.length, stored);
  for (const { kind, valid, bytes } of rows) {
    assert.equal(kind, "text");
    assert.equal(valid, 1);
    decoder.decode(bytes); // throws on bad UTF-8
  }
  store.close();
});

Deno.test("a batch that throws half-way leaves nothing behind for the next one", () => {
  const store = EventStore.open(":memory:");
  const first = { type: "a.b", time: new Date(T0), host: "h", n: 1, note: "first" };
  // A host that reads once (the envelope check) and throws the second time (the row).
  let reads = 0;
  const treacherous = {
    type: "a.b",
    time: new Date(T0),
    get host() {
      if (reads++ > 0) throw new Error("host went away");
      return "h";
    },
  };
  assert.throws(() => store.insertBatch([first, treacherous as unknown as Event]), /went away/);
  assert.deepEqual(store.insertBatch([{ ...first, n: 2, note: "second" }]), {
    inserted: 1,
    duplicates: 0,
    rejected: 0,
  });
  assert.deepEqual(queryEvents(store).map((e) => [e.n, e.note]), [[2, "second"]]);
  store.close();
});
