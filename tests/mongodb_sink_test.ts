// The MongoDB sink against a real server: FerretDB 1.24 started by scripts/ferretdb.sh (one
// per file), or the server at MONGODB_URL. Events go emitter → router → sink → database and
// are read back with the driver. Without a server the tests are ignored, except under CI=true.
import assert from "node:assert/strict";
import { type Document, MongoClient } from "mongodb";
import type { Event } from "@eventstorm/core";
import { SequenceTracker } from "@eventstorm/core/protocol";
import { eventId, type SinkStats } from "@eventstorm/core/sink";
import { MongoBackend, type MongoSinkConfig, STREAMS_COLLECTION } from "@eventstorm/sink-mongodb";
import { type DbServer, inCI, serverSuite, startServer, unavailable } from "./db_server.ts";
import { sleep, startRouter, waitFor } from "./helpers.ts";
import { gapsSavedAndLoaded, lostWhileDown, replayAfterRestart } from "./restart.ts";
import { BASE, hitFields, openEmitter, runSink } from "./sink_run.ts";
import { squatSink } from "./squat.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const externalUrl = Deno.env.get("MONGODB_URL");
const missing = externalUrl ? undefined : await unavailable("ferretdb.sh");
if (missing && !inCI) console.warn(`mongodb_sink_test: ignoring, ${missing}`);
const server: DbServer | undefined = externalUrl || missing
  ? undefined
  : await startServer("ferretdb.sh");
const url = externalUrl ?? `mongodb://127.0.0.1:${server?.port}`;
const ignore = missing !== undefined && !inCI;

let client: MongoClient | undefined;
let ferret = false;
async function db(name: string) {
  if (!client) {
    client = new MongoClient(url, { serverSelectionTimeoutMS: 20_000 });
    const info = await client.db("admin").command({ buildInfo: 1 });
    ferret = info.ferretdbVersion !== undefined;
  }
  return client.db(name);
}

/** Every test of this file, as steps of one: the server stops in its teardown. */
const suite = serverSuite("mongodb sink", {
  ignore,
  teardown: async () => {
    await client?.close();
    await server?.destroy();
  },
});

/** A test against the server, with a fresh database dropped afterwards. */
function dbTest(name: string, fn: (dbName: string) => Promise<void>, needsControl = false) {
  suite.add({
    name,
    ...opts,
    ignore: ignore || (needsControl && externalUrl !== undefined),
    fn: async () => {
      if (missing) throw new Error(missing);
      const dbName = `t${crypto.randomUUID().slice(0, 8)}`;
      try {
        await fn(dbName);
      } finally {
        await (await db(dbName)).dropDatabase().catch(() => {});
      }
    },
  });
}

function config(dbName: string, overrides: Partial<MongoSinkConfig> = {}): MongoSinkConfig {
  return { url, db: dbName, timeseries: false, timeoutMs: 1500, ...overrides };
}

function sinkCommand(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../sinks/mongodb/main.ts", import.meta.url).pathname, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

dbTest(
  "mongodb sink command: emitter → router → sink stores documents with types, dates and safe keys",
  async (dbName) => {
    const r = startRouter();
    const child = sinkCommand([
      "--url",
      url,
      "--db",
      dbName,
      "--from",
      r.sinks,
      "--stats-interval",
      "1s",
      "--stats-to",
      "none",
    ]);
    try {
      const out = await openEmitter(r.sources);
      for (let i = 0; i < 100; i++) out.emit("http.hit", hitFields(i));
      for (let i = 0; i < 40; i++) {
        out.emit("mail.sent", { time: new Date(BASE + i), host: "mx", size: i * 10 });
      }
      await out.close();
      const database = await db(dbName);
      await waitFor(
        async () =>
          await database.collection("http_hit").countDocuments() === 100 &&
          await database.collection("mail_sent").countDocuments() === 40,
        "140 documents in two collections",
        60_000,
      );
      const stored = await database.collection("http_hit").find().sort({ time: 1 }).toArray();
      const expected = [...Array(100).keys()].map((i) => {
        const { "$cost": cost, "cpu.user": cpu, ...rest } = hitFields(i);
        return {
          _id: eventId(out.sourceId, "http.hit", i),
          type: "http.hit",
          ...rest,
          "＄cost": cost,
          cpu_user: cpu,
        };
      });
      assert.deepEqual(stored.map((doc) => sortKeys(doc)), expected.map(sortKeys));
      const hits = database.collection("http_hit");
      assert.equal(await hits.countDocuments({ status: { $type: "int" } }), 100);
      assert.equal(await hits.countDocuments({ latency: { $type: "double" } }), 100);
      assert.equal(await hits.countDocuments({ big: { $type: "double" } }), 100);
      assert.equal(await hits.countDocuments({ time: { $type: "date" } }), 100);
      assert.equal(await hits.countDocuments({ ok: true }), 50);
      assert.equal(await hits.countDocuments({ cpu_user: { $gt: 50 } }), 50);
      assert.equal(await hits.countDocuments({ "＄cost": { $lt: 10 } }), 10);
      for (const name of ["http_hit", "mail_sent"]) {
        const indexes = await database.collection(name).indexes();
        assert.ok(
          indexes.some((index) => JSON.stringify(index.key) === '{"type":1,"time":1}'),
          `${name} has an index on {type: 1, time: 1}`,
        );
      }
      const mail = await database.collection("mail_sent").findOne({ size: 390 });
      assert.equal(mail?._id, eventId(out.sourceId, "mail.sent", 39));
    } finally {
      child.kill("SIGTERM");
      const output = await child.output();
      await r.stop();
      const stderr = new TextDecoder().decode(output.stderr);
      const last = stderr.trim().split("\n").filter((line) => line.startsWith("sink mongodb:"))
        .pop();
      assert.equal(output.code, 0, stderr);
      assert.match(
        last ?? "",
        /received 140, stored 140, buffered 0, dropped 0, lost on wire 0/,
        stderr,
      );
    }
  },
);

function sortKeys(doc: Document): Document {
  return Object.fromEntries(Object.entries(doc).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}

dbTest("mongodb sink: one collection for every type", async (dbName) => {
  const r = startRouter();
  const backend = await MongoBackend.open(config(dbName, { collection: "events" }));
  const sink = await runSink(backend, r.sinks);
  const out = await openEmitter(r.sources);
  for (let i = 0; i < 60; i++) {
    out.emit(i % 3 === 0 ? "ssh.login" : "http.hit", { i });
  }
  await out.close();
  await waitFor(() => sink.runner.stats().stored === 60, "60 events stored");
  const stats = await sink.stop();
  await r.stop();
  assert.equal(stats.received, 60);
  const database = await db(dbName);
  const names = (await database.listCollections().toArray()).map((c) => c.name).sort();
  // Beside the events, the sink keeps its stream positions.
  assert.deepEqual(names, [STREAMS_COLLECTION, "events"].sort());
  const events = database.collection("events");
  assert.equal(await events.countDocuments({ type: "ssh.login" }), 20);
  assert.equal(await events.countDocuments({ type: "http.hit" }), 40);
  const login = await events.findOne({ type: "ssh.login", i: 3 });
  assert.equal(login?._id, eventId(out.sourceId, "ssh.login", 1));
});

dbTest("mongodb sink: a replay of the same events stores nothing twice", async (dbName) => {
  const r = startRouter();
  const sourceId = 0xfeedn;
  for (let round = 0; round < 2; round++) {
    // A new sink each round: it resumes the stream where it saved it, so the replay is
    // duplicates on the wire (the _ids would keep it out anyway).
    const backend = await MongoBackend.open(config(dbName));
    const sink = await runSink(backend, r.sinks);
    const out = await openEmitter(r.sources, { sourceId });
    for (let i = 0; i < 300; i++) out.emit("app.tick", { i, round });
    await out.close();
    await waitFor(() => {
      const stats = sink.runner.stats();
      return stats.stored + stats.duplicates + stats.duplicatesOnWire === 300;
    }, `round ${round}: 300 stored or duplicates`);
    const stats = await sink.stop();
    assert.equal(stats.droppedRejected, 0);
    assert.equal(stats.stored, round === 0 ? 300 : 0);
    assert.equal(stats.duplicatesOnWire, round === 0 ? 0 : 300);
  }
  await r.stop();
  const ticks = (await db(dbName)).collection("app_tick");
  assert.equal(await ticks.countDocuments(), 300);
  assert.equal(await ticks.countDocuments({ round: 0 }), 300, "the first write of an _id stays");

  // A batch retried after a failure meets its own documents: stored once, none refused.
  const backend = await MongoBackend.open(config(dbName));
  const batch: Event[] = [...Array(10).keys()].map((i) => ({
    type: "app.tick",
    time: new Date(),
    host: "h",
    _id: eventId(sourceId, "app.tick", 295 + i),
    i: 295 + i,
  }));
  // Five of them were stored in the rounds above: duplicates, not stored again.
  assert.deepEqual(await backend.write(batch), { rejected: 0, duplicates: 5 });
  assert.deepEqual(await backend.write(batch), { rejected: 0, duplicates: 10 });
  // Events without an _id get one on the event, so a retry of the same objects is idempotent.
  const anonymous: Event[] = [{ type: "app.tick", time: new Date(), host: "h", i: -1 }];
  assert.deepEqual(await backend.write(anonymous), { rejected: 0, duplicates: 0 });
  assert.deepEqual(await backend.write(anonymous), { rejected: 0, duplicates: 1 });
  await backend.close();
  assert.equal(await ticks.countDocuments(), 306);
});

dbTest(
  "mongodb sink: documents the server refuses are counted, the rest stored",
  async (dbName) => {
    const logs: string[] = [];
    const backend = await MongoBackend.open(config(dbName, { collection: "events" }), {
      log: (line) => logs.push(line),
    });
    const events: Event[] = [...Array(20).keys()].map((i) => ({
      type: "app.x",
      time: new Date(),
      host: "h",
      _id: `id-${i}`,
      i,
    }));
    // An array _id is refused by every server, as a per-document write error.
    events[3]._id = [1, 2];
    events[11]._id = [3];
    let expectedRefused = 2;
    await db(dbName);
    if (ferret) {
      // FerretDB hangs up on NaN instead of answering: the sink must not take that for an outage.
      events[7].nan = NaN;
      expectedRefused++;
    }
    try {
      assert.deepEqual(await backend.write(events), { rejected: expectedRefused, duplicates: 0 });
      const stored = await (await db(dbName)).collection("events").find().toArray();
      assert.equal(stored.length, 20 - expectedRefused);
      assert.ok(logs.some((line) => line.includes("refused an event for good")), logs.join("\n"));
      // The same batch again: stored ones are duplicates (fine), refused ones refused again.
      assert.deepEqual(await backend.write(events), {
        rejected: expectedRefused,
        duplicates: 20 - expectedRefused,
      });
    } finally {
      await backend.close();
    }
  },
);

dbTest(
  "mongodb sink: --ttl removes old events (TTL index, or periodic deletes)",
  async (dbName) => {
    const logs: string[] = [];
    const backend = await MongoBackend.open(config(dbName, { ttlMs: 30_000 }), {
      log: (line) => logs.push(line),
    });
    try {
      const now = Date.now();
      const events: Event[] = [];
      for (const type of ["a.old", "b.old"]) {
        for (let i = 0; i < 5; i++) {
          events.push({ type, time: new Date(now - 3_600_000), host: "h", _id: `${type}-o${i}` });
          events.push({ type, time: new Date(now), host: "h", _id: `${type}-n${i}` });
        }
      }
      assert.deepEqual(await backend.write(events), { rejected: 0, duplicates: 0 });
      const database = await db(dbName);
      if (backend.ttlMode === "index") {
        for (const name of ["a_old", "b_old"]) {
          const indexes = await database.collection(name).indexes();
          const ttl = indexes.find((index) => index.expireAfterSeconds !== undefined);
          assert.equal(ttl?.expireAfterSeconds, 30);
          assert.deepEqual(ttl?.key, { time: 1 });
        }
        return;
      }
      assert.equal(backend.ttlMode, "sweep");
      // The fallback said so once, not once per collection.
      assert.equal(logs.filter((line) => line.includes("refuses TTL")).length, 1, logs.join("\n"));
      // Deletes run every ttl/10 (3 s) in the background.
      await waitFor(
        async () =>
          await database.collection("a_old").countDocuments() === 5 &&
          await database.collection("b_old").countDocuments() === 5,
        "the old events to be deleted",
      );
      for (const name of ["a_old", "b_old"]) {
        const left = await database.collection(name).find().toArray();
        assert.ok(left.every((doc) => String(doc._id).includes("-n")), "only fresh events remain");
      }
    } finally {
      await backend.close();
    }
  },
);

dbTest(
  "mongodb sink: --timeseries is refused in one line (exit 2) where unsupported",
  async (dbName) => {
    await db(dbName);
    if (!ferret) {
      // A server that has them: events land in a time-series collection.
      const backend = await MongoBackend.open(config(dbName, { timeseries: true }));
      try {
        assert.equal(
          (await backend.write([{ type: "cpu.load", time: new Date(), host: "h", _id: "x", v: 1 }]))
            .rejected,
          0,
        );
        const [info] = await (await db(dbName)).listCollections({ name: "cpu_load" }).toArray();
        assert.equal(info.type, "timeseries");
      } finally {
        await backend.close();
      }
      return;
    }
    const child = sinkCommand([
      "--url",
      url,
      "--db",
      dbName,
      "--timeseries",
      "--from",
      ">tcp://127.0.0.1:9",
      "--stats-to",
      "none",
    ]);
    const output = await child.output();
    const stderr = new TextDecoder().decode(output.stderr).trim();
    assert.equal(output.code, 2, stderr);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(stderr, /^error: --timeseries: the server does not support time-series .*238/);
  },
);

dbTest("mongodb sink: --write-concern majority,journal and 0", async (dbName) => {
  const events = (prefix: string): Event[] =>
    [...Array(50).keys()].map((i) => ({
      type: "app.wc",
      time: new Date(),
      host: "h",
      _id: `${prefix}-${i}`,
    }));
  const collection = (await db(dbName)).collection<{ _id: string }>("app_wc");
  const acknowledged = await MongoBackend.open(
    config(dbName, { writeConcern: { w: "majority", journal: true } }),
  );
  try {
    assert.equal((await acknowledged.write(events("a"))).rejected, 0);
    assert.equal(await collection.countDocuments({ _id: { $regex: /^a-/ } }), 50);
  } finally {
    await acknowledged.close();
  }
  const unacknowledged = await MongoBackend.open(
    config(dbName, { writeConcern: { w: 0, journal: false } }),
  );
  try {
    assert.equal((await unacknowledged.write(events("u"))).rejected, 0);
    // Nothing waits for w: 0 writes; they land shortly after.
    await waitFor(
      async () => await collection.countDocuments({ _id: { $regex: /^u-/ } }) === 50,
      "the unacknowledged writes to land",
    );
  } finally {
    await unacknowledged.close();
  }
});

dbTest(
  "mongodb sink: starts while the server is down and sets up once it is back",
  async (dbName) => {
    const logs: string[] = [];
    await server!.stop();
    let backend: MongoBackend | undefined;
    try {
      backend = await MongoBackend.open(config(dbName, { collection: "events" }), {
        log: (line) => logs.push(line),
      });
      assert.match(logs.join("\n"), /not reachable yet/);
      const event: Event = { type: "a.b", time: new Date(), host: "h", _id: "one" };
      await assert.rejects(backend.write([event]));
      await server!.start();
      assert.deepEqual(await backend.write([event]), { rejected: 0, duplicates: 0 });
      const events = (await db(dbName)).collection("events");
      assert.equal(await events.countDocuments(), 1);
      const keys = (await events.indexes()).map((index) => JSON.stringify(index.key));
      assert.ok(keys.includes('{"type":1,"time":1}'), keys.join(" "));
    } finally {
      await backend?.close();
      if (!await serverUp()) await server!.start();
    }
  },
  true,
);

async function serverUp(): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port: server!.port })).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Streams `total` events, stopping the server after `before` of them and starting it again
 * after `during` more; returns the sink's final stats.
 */
async function outage(
  dbName: string,
  { total, before, during, bufferEvents }: {
    total: number;
    before: number;
    during: number;
    bufferEvents: number;
  },
): Promise<{ stats: SinkStats; ids: Set<unknown>; values: number[] }> {
  const r = startRouter();
  const backend = await MongoBackend.open(config(dbName, { collection: "events" }));
  const sink = await runSink(backend, r.sinks, {
    bufferEvents,
    batchSize: 200,
    maxRetryMs: 1000,
  });
  const out = await openEmitter(r.sources);
  const emit = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      out.emit("load.test", { i, pad: "x".repeat(100) });
      if (i % 200 === 199) {
        await out.flush();
        await sleep(5);
      }
    }
    await out.flush();
  };
  await emit(0, before);
  await waitFor(() => sink.runner.stats().stored > 0, "the first events stored");
  await server!.stop();
  await emit(before, before + during);
  await waitFor(() => sink.runner.stats().received === before + during, "events during the outage");
  await waitFor(() => sink.runner.stats().writeErrors > 0, "a failed write");
  assert.equal(sink.failed(), undefined, "the sink keeps running while the server is down");
  await server!.start();
  await emit(before + during, total);
  await out.close();
  await waitFor(
    () => {
      const s = sink.runner.stats();
      return s.received === total && s.buffered === 0;
    },
    "everything received and written or dropped",
    60_000,
  );
  const stats = await sink.stop();
  await r.stop();
  const docs = await (await db(dbName)).collection("events").find({}, {
    projection: { i: 1 },
  }).toArray();
  return {
    stats,
    ids: new Set(docs.map((doc) => doc._id)),
    values: docs.map((doc) => doc.i as number).sort((a, b) => a - b),
  };
}

dbTest(
  "mongodb sink: a server outage within the buffer loses nothing and duplicates nothing",
  async (dbName) => {
    const total = 6000;
    const { stats, ids, values } = await outage(dbName, {
      total,
      before: 2000,
      during: 2000,
      bufferEvents: 100_000,
    });
    assert.equal(stats.received, total);
    assert.equal(stats.lostOnWire, 0);
    assert.equal(stats.droppedFull + stats.droppedRejected + stats.droppedShutdown, 0);
    assert.equal(stats.stored, total);
    assert.ok(stats.writeErrors > 0);
    assert.equal(values.length, total, "each event is in the database once");
    assert.equal(ids.size, total);
    assert.deepEqual(values, [...Array(total).keys()]);
  },
  true,
);

dbTest(
  "mongodb sink: an outage beyond a small buffer drops, counted by reason, stored + dropped = received",
  async (dbName) => {
    const total = 6000;
    const { stats, values } = await outage(dbName, {
      total,
      before: 1000,
      during: 4000,
      bufferEvents: 500,
    });
    assert.equal(stats.received, total);
    assert.ok(stats.droppedFull > 0, "the small buffer overflowed");
    assert.equal(stats.droppedRejected, 0);
    assert.equal(stats.droppedShutdown, 0);
    assert.equal(stats.stored + stats.droppedFull, stats.received);
    assert.equal(values.length, stats.stored, "the database holds exactly what was counted stored");
    assert.equal(new Set(values).size, values.length);
  },
  true,
);

function restartTarget(dbName: string, overrides: Partial<MongoSinkConfig> = {}) {
  return {
    open: () => MongoBackend.open(config(dbName, overrides)),
    rows: async () => {
      const name = overrides.collection ?? "app_tick";
      return await (await db(dbName)).collection(name).countDocuments();
    },
    timeoutMs: 60_000,
  };
}

dbTest("mongodb sink: a replay after a restart counts as duplicates", async (dbName) => {
  await replayAfterRestart(restartTarget(dbName), 0x3051n);
});

dbTest("mongodb sink: events sent while it was down count as lost", async (dbName) => {
  await lostWhileDown(restartTarget(dbName), 0x3052n);
});

dbTest(
  "mongodb sink: gaps are saved with positions and read back; a document saved before has none",
  async (dbName) => {
    await gapsSavedAndLoaded(() => MongoBackend.open(config(dbName)), 0x3055n);
    await (await db(dbName)).collection(STREAMS_COLLECTION).insertOne({
      _id: "*/3056-app.tick" as unknown as Document["_id"],
      dest: "*",
      source: "3056",
      topic: "app.tick",
      next: 7,
      at: new Date(1),
    });
    const backend = await MongoBackend.open(config(dbName));
    try {
      const old = (await backend.positions()).find(({ source }) => source === 0x3056n);
      assert.deepEqual(old, { source: 0x3056n, topic: "app.tick", next: 7, at: 1 });
    } finally {
      await backend.close();
    }
  },
);

dbTest(
  "mongodb sink: late copies a crash stored before it saved the gaps they shrank are out of the gaps",
  async (dbName) => {
    const source = 0x3057n;
    const topic = "app.tick";
    const events = (from: number, to: number): Event[] =>
      Array.from({ length: to - from }, (_, i) => ({
        type: topic,
        time: new Date(),
        host: "h",
        _id: eventId(source, topic, from + i),
      }));
    const crashed = await MongoBackend.open(config(dbName));
    await crashed.positions();
    await crashed.write(events(0, 100), [{ source, topic, next: 100, at: 0 }]);
    await crashed.write(events(200, 300), [{ source, topic, next: 300, at: 0, gaps: [100, 200] }]);
    // Late copies 100..119 and 130 inserted, then the crash: the gaps were not saved again.
    await crashed.write([...events(100, 120), ...events(130, 131)]);
    await crashed.close();
    const restarted = await MongoBackend.open(config(dbName));
    try {
      const [position] = await restarted.positions();
      assert.deepEqual(position.gaps, [120, 130, 131, 200]);
    } finally {
      await restarted.close();
    }
  },
);

dbTest(
  "mongodb sink: positions are kept per destination, and a crash's replay stores only what is missing",
  async (dbName) => {
    const source = 0x3053n;
    const events: Event[] = Array.from({ length: 10 }, (_, i) => ({
      type: "app.tick",
      time: new Date(),
      host: "h",
      _id: eventId(source, "app.tick", i),
    }));
    const position = [{ source, topic: "app.tick", next: 10, at: Date.now() }];
    const first = await MongoBackend.open(config(dbName));
    await first.positions();
    // The crash: half the batch stored, its position never saved.
    await first.write(events.slice(0, 5));
    await first.close();
    const second = await MongoBackend.open(config(dbName));
    assert.deepEqual(await second.positions(), []);
    assert.deepEqual(await second.write(events, position), { rejected: 0, duplicates: 5 });
    await second.close();
    const third = await MongoBackend.open(config(dbName));
    assert.deepEqual((await third.positions()).map(({ next }) => next), [10]);
    await third.close();
    // Another destination in the same database keeps its own positions.
    const other = await MongoBackend.open(config(dbName, { collection: "all" }));
    assert.deepEqual(await other.positions(), []);
    await other.close();
  },
);

dbTest(
  "mongodb sink: after a crash between inserts and position, the stored part of the batch is not lost",
  async (dbName) => {
    const source = 0x3054n;
    const events: Event[] = Array.from({ length: 10 }, (_, i) => ({
      type: "app.tick",
      time: new Date(),
      host: "h",
      _id: eventId(source, "app.tick", i),
    }));
    const crashed = await MongoBackend.open(config(dbName));
    await crashed.positions();
    // The batch 0..9 claimed, 0..4 inserted, then the crash: `next` never saved.
    await crashed.write(events.slice(0, 5), [{ source, topic: "app.tick", next: 10, at: 0 }]);
    await crashed.close();
    // What the crash leaves: the claim of 0..9 saved, no position after it.
    await (await db(dbName)).collection(STREAMS_COLLECTION).updateOne(
      { source: "3054", topic: "app.tick" },
      { $set: { next: 0, upto: 10 } },
    );
    const restarted = await MongoBackend.open(config(dbName));
    try {
      const [position] = await restarted.positions();
      assert.equal(position.next, 0);
      assert.deepEqual(position.present, [0, 1, 2, 3, 4]);
      // Resumed there, a stream that goes on at 20 lost 5..19, not 0..19.
      const tracker = new SequenceTracker();
      tracker.resume(source, "app.tick", position.next, position.at, position.present);
      assert.equal(tracker.observe(source, "app.tick", 20, 1).lost, 15);
    } finally {
      await restarted.close();
    }
  },
);

dbTest("mongodb sink: a sender's _id cannot squat another source's derived id", async (dbName) => {
  const stats = await squatSink(await MongoBackend.open(config(dbName)));
  assert.equal(stats.stored, 21);
  assert.equal(stats.duplicates, 0);
  const ticks = (await db(dbName)).collection("app_tick");
  assert.equal(await ticks.countDocuments(), 21);
  assert.equal(await ticks.countDocuments({ host: "victim" }), 20, "the real event 5 is there");
});
