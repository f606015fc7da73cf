// The Cassandra sink against a real node: Cassandra 5 started by scripts/cassandra.sh (one per
// file), or the cluster at CASSANDRA_CONTACT_POINTS. Events go emitter → router → sink →
// table and are read back with the driver. Without a server the tests are ignored, except
// under CI=true.
import assert from "node:assert/strict";
import { Emitter, type Event } from "@eventstorm/core";
import { UsageError } from "@eventstorm/core/cli";
import { fromJsonLine, SequenceTracker } from "@eventstorm/core/protocol";
import { eventId, type SinkStats } from "@eventstorm/core/sink";
import {
  CASSANDRA_DEFAULTS,
  CassandraBackend,
  type CassandraSinkConfig,
} from "@eventstorm/sink-cassandra";
import { cqlReader } from "./cql_reader.ts";
import { type DbServer, inCI, serverSuite, startServer, unavailable } from "./db_server.ts";
import { DEAD_PORT, sleep, startRouter, waitFor } from "./helpers.ts";
import { gapsSavedAndLoaded, lostWhileDown, replayAfterRestart, tailLostOnce } from "./restart.ts";
import { BASE, hitFields, openEmitter, runSink } from "./sink_run.ts";
import { squatSink, VICTIM } from "./squat.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const external = Deno.env.get("CASSANDRA_CONTACT_POINTS");
const missing = external ? undefined : await unavailable("cassandra.sh");
if (missing && !inCI) console.warn(`cassandra_sink_test: ignoring, ${missing}`);
const server: DbServer | undefined = external || missing
  ? undefined
  : await startServer("cassandra.sh");
const contactPoints = external?.split(",") ?? [`127.0.0.1:${server?.port}`];
const ignore = missing !== undefined && !inCI;

const reader = cqlReader(contactPoints);
const cql = reader.client;
const rows = reader.rows;

/** Every test of this file, as steps of one: the server stops in its teardown. */
const suite = serverSuite("cassandra sink", {
  ignore,
  teardown: async () => {
    await reader.close();
    await server?.destroy();
  },
});

/** A test with a fresh keyspace, dropped afterwards. */
function cqlTest(name: string, fn: (keyspace: string) => Promise<void>, needsControl = false) {
  suite.add({
    name,
    ...opts,
    ignore: ignore || (needsControl && external !== undefined),
    fn: async () => {
      if (missing) throw new Error(missing);
      const keyspace = `t${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
      try {
        await fn(keyspace);
      } finally {
        await (await cql()).execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => {});
      }
    },
  });
}

function config(keyspace: string, overrides: Partial<CassandraSinkConfig> = {}) {
  return {
    ...CASSANDRA_DEFAULTS,
    contactPoints,
    keyspace,
    consistency: "one",
    timeoutMs: 5000,
    ...overrides,
  };
}

cqlTest(
  "cassandra sink command: emitter → router → sink stores rows with envelope columns and the event",
  async (keyspace) => {
    const r = startRouter();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../sinks/cassandra/main.ts", import.meta.url).pathname,
        "--contact-points",
        contactPoints.join(","),
        "--keyspace",
        keyspace,
        "--consistency",
        "one",
        "--from",
        r.sinks,
        "--stats-interval",
        "1s",
        "--stats-to",
        "none",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const out = await openEmitter(r.sources);
      for (let i = 0; i < 100; i++) out.emit("http.hit", hitFields(i));
      for (let i = 0; i < 40; i++) {
        out.emit("mail.sent", { time: new Date(BASE + i), host: "mx", size: i * 10 });
      }
      await out.close();
      const bucket = "2026-01-02T03";
      const select = `SELECT type, bucket, time, id, host, event FROM ${keyspace}.events ` +
        `WHERE type = ? AND bucket = ?`;
      await waitFor(
        async () =>
          await tableExists(keyspace) &&
          (await rows(select, ["http.hit", bucket])).length === 100 &&
          (await rows(select, ["mail.sent", bucket])).length === 40,
        "140 rows",
        60_000,
      );
      const hits = await rows(select, ["http.hit", bucket]);
      // Clustered by time: a partition reads back in time order.
      hits.forEach((row, i) => {
        const fields = hitFields(i);
        assert.equal(row.type, "http.hit");
        assert.equal(row.bucket, bucket);
        assert.deepEqual(row.time, fields.time);
        assert.equal(row.id, eventId(out.sourceId, "http.hit", i));
        assert.equal(row.host, fields.host);
        assert.deepEqual(fromJsonLine(row.event), {
          type: "http.hit",
          ...fields,
          _id: eventId(out.sourceId, "http.hit", i),
        });
      });
      // A time range within a partition, as README.md shows.
      const range = await rows(
        `SELECT id FROM ${keyspace}.events WHERE type = ? AND bucket = ? AND time >= ? AND time < ?`,
        ["http.hit", bucket, new Date(BASE + 10_000), new Date(BASE + 20_000)],
      );
      assert.equal(range.length, 10);
      const latest = await rows(
        `SELECT id FROM ${keyspace}.events WHERE type = ? AND bucket = ? ORDER BY time DESC LIMIT 3`,
        ["http.hit", bucket],
      );
      assert.deepEqual(
        latest.map((row) => row.id),
        [99, 98, 97].map((i) => eventId(out.sourceId, "http.hit", i)),
      );
      const [count] = await rows(
        `SELECT count(*) AS n FROM ${keyspace}.events WHERE type = ? AND bucket IN ?`,
        ["mail.sent", ["2026-01-02T02", bucket]],
      );
      assert.equal(Number(count.n), 40);
    } finally {
      child.kill("SIGTERM");
      const output = await child.output();
      await r.stop();
      const stderr = new TextDecoder().decode(output.stderr);
      const last = stderr.trim().split("\n").filter((line) => line.startsWith("sink cassandra:"))
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

async function tableExists(keyspace: string, table = "events"): Promise<boolean> {
  const found = await rows(
    "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
    [keyspace, table],
  );
  return found.length === 1;
}

cqlTest("cassandra sink: --bucket day and --ttl", async (keyspace) => {
  const backend = await CassandraBackend.open(
    config(keyspace, { bucket: "day", ttlSeconds: 3600 }),
  );
  try {
    const events: Event[] = [...Array(30).keys()].map((i) => ({
      type: "host.cpu",
      time: new Date(Date.UTC(2026, 10, 23, 22, 59, 50) + i * 1000),
      host: "h",
      _id: `c-${i}`,
      load: i / 10,
    }));
    assert.deepEqual(await backend.write(events), { rejected: 0, duplicates: 0 });
    // The events cross an hour but stay in one day's partition.
    const found = await rows(
      `SELECT id, bucket, TTL(event) AS ttl FROM ${keyspace}.events WHERE type = ? AND bucket = ?`,
      ["host.cpu", "2026-11-23"],
    );
    assert.equal(found.length, 30);
    for (const row of found) {
      assert.ok(row.ttl > 3000 && row.ttl <= 3600, `TTL ${row.ttl}`);
    }
  } finally {
    await backend.close();
  }
});

cqlTest("cassandra sink: a replay of the same events stores nothing twice", async (keyspace) => {
  const r = startRouter();
  const sourceId = 0xbeefn;
  for (let round = 0; round < 2; round++) {
    const backend = await CassandraBackend.open(config(keyspace));
    const sink = await runSink(backend, r.sinks);
    const out = await openEmitter(r.sources, { sourceId });
    for (let i = 0; i < 300; i++) {
      out.emit("app.tick", { time: new Date(BASE + i), i, round });
    }
    await out.close();
    await waitFor(() => {
      const stats = sink.runner.stats();
      return stats.stored + stats.duplicatesOnWire === 300 && stats.buffered === 0;
    }, `round ${round}: 300 accounted`);
    const stats = await sink.stop();
    // The restarted sink resumes the stream where it saved it: the replay is duplicates.
    assert.equal(stats.stored, round === 0 ? 300 : 0, `round ${round}`);
    assert.equal(stats.duplicatesOnWire, round === 0 ? 0 : 300, `round ${round}`);
  }
  await r.stop();
  const all = await rows(`SELECT id, event FROM ${keyspace}.events`);
  assert.equal(all.length, 300);
  assert.equal(new Set(all.map((row) => row.id)).size, 300);
  // The replay never reached the table: each row is still the first round's.
  assert.ok(all.every((row) => fromJsonLine(row.event).round === 0));

  const backend = await CassandraBackend.open(config(keyspace));
  try {
    const anonymous: Event[] = [{ type: "app.tick", time: new Date(BASE), host: "h", i: -1 }];
    assert.deepEqual(await backend.write(anonymous), { rejected: 0, duplicates: 0 });
    assert.deepEqual(
      await backend.write(anonymous),
      { rejected: 0, duplicates: 0 },
      "a retried batch reuses the id it was given",
    );
    assert.equal((await rows(`SELECT id FROM ${keyspace}.events`)).length, 301);
  } finally {
    await backend.close();
  }
});

function restartTarget(keyspace: string) {
  return {
    open: () => CassandraBackend.open(config(keyspace)),
    rows: async () => (await rows(`SELECT id FROM ${keyspace}.events`)).length,
    timeoutMs: 60_000,
  };
}

cqlTest("cassandra sink: a replay after a restart counts as duplicates", async (keyspace) => {
  await replayAfterRestart(restartTarget(keyspace), 0xca51n);
});

cqlTest("cassandra sink: events sent while it was down count as lost", async (keyspace) => {
  await lostWhileDown(restartTarget(keyspace), 0xca52n);
});

cqlTest("cassandra sink: gaps are saved with positions and read back", async (keyspace) => {
  await gapsSavedAndLoaded(() => CassandraBackend.open(config(keyspace)), 0xca5bn);
});

cqlTest(
  "cassandra sink: late copies a crash stored before it saved the gaps they shrank are out of the gaps",
  async (keyspace) => {
    const source = 0xca5dn;
    const topic = "app.tick";
    const events = (from: number, to: number): Event[] =>
      Array.from({ length: to - from }, (_, i) => ({
        type: topic,
        time: new Date(),
        host: "h",
        _id: eventId(source, topic, from + i),
      }));
    const crashed = await CassandraBackend.open(config(keyspace));
    await crashed.positions();
    await crashed.write(events(0, 100), [{ source, topic, next: 100, at: 0 }]);
    await crashed.write(events(200, 300), [{ source, topic, next: 300, at: 0, gaps: [100, 200] }]);
    // Late copies 100..119 and 130 inserted; the gaps they shrink are what the crash
    // kept from being saved (here: the same gaps again, which saves nothing).
    await crashed.write([...events(100, 120), ...events(130, 131)], [
      { source, topic, next: 131, at: 0, gaps: [100, 200] },
    ]);
    await crashed.close();
    const restarted = await CassandraBackend.open(config(keyspace));
    try {
      const [position] = await restarted.positions();
      assert.deepEqual({ next: position.next, gaps: position.gaps }, {
        next: 300,
        gaps: [120, 130, 131, 200],
      });
    } finally {
      await restarted.close();
    }
  },
);

cqlTest(
  "cassandra sink: a positions table made before gaps were saved gets the column, its rows none",
  async (keyspace) => {
    await (await CassandraBackend.open(config(keyspace))).close();
    const client = await cql();
    await client.execute(`ALTER TABLE ${keyspace}.stream_positions DROP gaps`);
    await client.execute(
      `INSERT INTO ${keyspace}.stream_positions (events_table, source, topic, next, at) ` +
        `VALUES ('events', 'ca5c', 'app.tick', 7, 1)`,
    );
    const backend = await CassandraBackend.open(config(keyspace));
    try {
      assert.deepEqual(await backend.positions(), [
        { source: 0xca5cn, topic: "app.tick", next: 7, at: 1 },
      ]);
      await backend.savePositions([
        { source: 0xca5cn, topic: "app.tick", next: 9, at: 2, gaps: [7, 8] },
      ]);
      assert.deepEqual((await backend.positions()).map(({ next, gaps }) => ({ next, gaps })), [
        { next: 9, gaps: [7, 8] },
      ]);
    } finally {
      await backend.close();
    }
  },
);

cqlTest(
  "cassandra sink: a tail lost before a clean stop is not counted again after the restart",
  async (keyspace) => {
    await tailLostOnce(() => CassandraBackend.open(config(keyspace)), 0xca5an);
  },
);

cqlTest(
  "cassandra sink: a crash between rows and position: replayed rows that exist are duplicates",
  async (keyspace) => {
    // The crash: rows 0..9 written with their upto claimed, `next` never saved.
    const crashed = await CassandraBackend.open(config(keyspace));
    await crashed.positions();
    const events: Event[] = Array.from({ length: 10 }, (_, i) => ({
      type: "app.tick",
      time: new Date(BASE + i),
      host: "h",
      _id: eventId(0xc4a5n, "app.tick", i),
    }));
    const claim = [{ source: 0xc4a5n, topic: "app.tick", next: 10, at: Date.now() }];
    await crashed.write(events.slice(0, 5), claim);
    const table = `${keyspace}.stream_positions`;
    // Each driver client numbers its writes within a millisecond from 0: in the
    // same millisecond as the sink's last save this update could lose to it.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await (await cql()).execute(
      `UPDATE ${table} SET next = 0 WHERE events_table = 'events' AND ` +
        `source = 'c4a5' AND topic = 'app.tick'`,
    );
    await crashed.client.shutdown();
    // The restart: the replay of 0..9 finds 0..4 stored (duplicates) and stores 5..9.
    const backend = await CassandraBackend.open(config(keyspace));
    try {
      const positions = await backend.positions();
      assert.deepEqual(positions.map(({ next }) => next), [0]);
      // Read back from the partition the claim named: the rows that made it.
      assert.deepEqual(positions[0].present, [0, 1, 2, 3, 4]);
      // Resumed there, a stream that goes on at 20 lost 5..19, not 0..19.
      const tracker = new SequenceTracker();
      const { source, topic, next, at, present } = positions[0];
      tracker.resume(source, topic, next, at, present);
      assert.equal(tracker.observe(source, topic, 20, 1).lost, 15);
      assert.deepEqual(await backend.write(events, claim), { rejected: 0, duplicates: 5 });
      assert.equal((await rows(`SELECT id FROM ${keyspace}.events`)).length, 10);
    } finally {
      await backend.close();
    }
  },
);

cqlTest(
  "cassandra sink: a positions table from before `pending` gets the column",
  async (keyspace) => {
    const client = await cql();
    await client.execute(
      `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
    await client.execute(
      `CREATE TABLE ${keyspace}.stream_positions (events_table text, source text, topic text, ` +
        `next bigint, upto bigint, at timestamp, PRIMARY KEY ((events_table), source, topic))`,
    );
    const columns = async () =>
      (await rows(
        "SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
        [keyspace, "stream_positions"],
      )).map((row) => row.column_name as string);
    assert.ok(!(await columns()).includes("pending"));
    const backend = await CassandraBackend.open(config(keyspace));
    try {
      assert.ok((await columns()).includes("pending"));
      const event: Event = {
        type: "app.tick",
        time: new Date(BASE),
        host: "h",
        _id: eventId(0xc4a6n, "app.tick", 0),
      };
      const at = Date.now();
      await backend.write([event], [{ source: 0xc4a6n, topic: "app.tick", next: 1, at }]);
      assert.deepEqual((await backend.positions()).map(({ next }) => next), [1]);
    } finally {
      await backend.close();
    }
  },
);

cqlTest(
  "cassandra sink: rows the server calls invalid are counted, the rest stored",
  async (keyspace) => {
    const logs: string[] = [];
    const backend = await CassandraBackend.open(config(keyspace), {
      log: (line) => logs.push(line),
    });
    try {
      const events: Event[] = [...Array(10).keys()].map((i) => ({
        type: "app.x",
        time: new Date(BASE + i),
        host: "h",
        _id: `id-${i}`,
      }));
      // Clustering values are limited to 64 KiB.
      events[4]._id = "x".repeat(70_000);
      assert.equal((await backend.write(events)).rejected, 1);
      assert.equal((await rows(`SELECT id FROM ${keyspace}.events`)).length, 9);
      assert.match(logs.join("\n"), /refused an event for good \(invalid: /);
    } finally {
      await backend.close();
    }
  },
);

cqlTest(
  "cassandra sink: a failing consistency level throws, so the batch is retried",
  async (keyspace) => {
    const backend = await CassandraBackend.open(config(keyspace, { consistency: "three" }));
    try {
      const event: Event = { type: "a.b", time: new Date(), host: "h", _id: "x" };
      // The driver may wrap the server's Unavailable answer in NoHostAvailableError.
      await assert.rejects(backend.write([event]), /Not enough replicas available/);
      assert.equal((await rows(`SELECT id FROM ${keyspace}.events`)).length, 0);
    } finally {
      await backend.close();
    }
  },
);

cqlTest(
  "cassandra sink: setup errors are one line; an unreachable cluster is waited for",
  async (keyspace) => {
    await assert.rejects(
      CassandraBackend.open(config(keyspace, { replication: "{'class': 'Bogus'}" })),
      (error) => error instanceof UsageError && /replication strategy/.test(error.message),
    );
    const logs: string[] = [];
    const backend = await CassandraBackend.open(
      config(keyspace, { contactPoints: [`127.0.0.1:${DEAD_PORT}`], timeoutMs: 1000 }),
      { log: (line) => logs.push(line) },
    );
    try {
      assert.match(logs.join("\n"), /no node reachable yet/);
      await assert.rejects(backend.write([{ type: "a.b", time: new Date(), host: "h" }]));
    } finally {
      await backend.close();
    }
  },
);

cqlTest(
  "cassandra sink: an outage loses nothing within the buffer and counts drops beyond it",
  async (keyspace) => {
    const r = startRouter();
    // Two sinks on one stream through one outage: a buffer larger than it, and a small one.
    const large = await runSink(await CassandraBackend.open(config(keyspace)), r.sinks, {
      bufferEvents: 100_000,
      batchSize: 200,
      maxRetryMs: 1000,
    });
    const small = await runSink(
      await CassandraBackend.open(config(keyspace, { table: "small" })),
      r.sinks,
      { bufferEvents: 500, batchSize: 200, maxRetryMs: 1000 },
    );
    const out = await Emitter.open({ endpoints: r.sources, host: "test" });
    await waitFor(() => out.stats().subscriptions > 0, "subscriptions");
    const total = 6000;
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
    await emit(0, 1000);
    await waitFor(
      () => large.runner.stats().stored > 0 && small.runner.stats().stored > 0,
      "the first events stored",
    );
    await server!.stop();
    await emit(1000, 5000);
    const both = (check: (stats: SinkStats) => boolean) =>
      check(large.runner.stats()) && check(small.runner.stats());
    await waitFor(() => both((s) => s.received === 5000), "events during the outage");
    await waitFor(() => both((s) => s.writeErrors > 0), "failed writes");
    // A sink started during the outage sets itself up once the node is back.
    const logs: string[] = [];
    const late = await CassandraBackend.open(config(keyspace, { table: "late" }), {
      log: (line) => logs.push(line),
    });
    assert.match(logs.join("\n"), /no node reachable yet/);
    assert.equal(large.failed(), undefined, "the sink keeps running while the node is down");
    await server!.start();
    await emit(5000, total);
    await out.close();
    await waitFor(
      () => both((s) => s.received === total && s.buffered === 0),
      "everything received and written or dropped",
      120_000,
    );
    const a = await large.stop();
    const b = await small.stop();
    await r.stop();

    assert.equal(a.received, total);
    assert.equal(a.lostOnWire, 0);
    assert.equal(a.droppedFull + a.droppedRejected + a.droppedShutdown, 0);
    assert.equal(a.stored, total);
    const stored = await rows(`SELECT id, event FROM ${keyspace}.events`);
    assert.equal(stored.length, total, "each event is in the table once");
    const values = stored.map((row) => fromJsonLine(row.event).i as number).sort((x, y) => x - y);
    assert.deepEqual(values, [...Array(total).keys()]);

    assert.equal(b.received, total);
    assert.ok(b.droppedFull > 0, "the small buffer overflowed");
    assert.equal(b.droppedRejected + b.droppedShutdown, 0);
    assert.equal(b.stored + b.droppedFull, b.received);
    const smallRows = await rows(`SELECT id FROM ${keyspace}.small`);
    assert.equal(smallRows.length, b.stored, "the table holds exactly what was counted stored");

    try {
      assert.deepEqual(
        await late.write([{ type: "a.b", time: new Date(), host: "h", _id: "1" }]),
        { rejected: 0, duplicates: 0 },
      );
      assert.equal((await rows(`SELECT id FROM ${keyspace}.late`)).length, 1);
    } finally {
      await late.close();
    }
  },
  true,
);

cqlTest(
  "cassandra sink: a sender's _id cannot squat another source's derived id",
  async (keyspace) => {
    const stats = await squatSink(await CassandraBackend.open(config(keyspace)));
    assert.equal(stats.stored, 21);
    const stored = await rows(`SELECT id, host FROM ${keyspace}.events`);
    assert.equal(stored.length, 21);
    assert.equal(new Set(stored.map((row) => row.id)).size, 21, "no two rows share an id");
    const victims = stored.filter((row) => row.host === "victim").map((row) => row.id).sort();
    assert.deepEqual(
      victims,
      [...Array(20).keys()].map((i) => eventId(VICTIM, "app.tick", i)).sort(),
      "every victim row has the id derived from its own stream",
    );
  },
);
