/**
 * Database sinks benchmark: events per second stored by the MongoDB and Cassandra
 * sinks (250-byte events from an emitter in another process, through the sink's
 * collector, runner and backend), beside the same documents written by a bare
 * driver loop in the same run (`insertMany` of 1000; `executeConcurrent` of the
 * prepared insert, 64 in flight). Prints figures and the sink's overhead; it is not
 * a test.
 *
 *     deno run -A bench/sinks_db_bench.ts [--mongo-events N] [--cassandra-events N]
 *       [--rounds N] [--only mongodb|cassandra]
 *
 * Servers: FerretDB and Cassandra from scripts/, or MONGODB_URL and
 * CASSANDRA_CONTACT_POINTS.
 *
 * @module
 */
import { benchArgs } from "./args.ts";
import { type Document, MongoClient } from "mongodb";
import cassandra from "cassandra-driver";
import type { Event } from "@eventstorm/core";
import { eventId, type SinkBackend, SinkRunner } from "@eventstorm/core/sink";
import { MongoBackend } from "@eventstorm/sink-mongodb";
import {
  CASSANDRA_DEFAULTS,
  CassandraBackend,
  createKeyspaceCql,
  createTableCql,
  insertCql,
  rowOf,
} from "@eventstorm/sink-cassandra";
import { type DbServer, startServer } from "../tests/db_server.ts";
import { freeLoopbackPort } from "./sample.ts";
import { verdict } from "./verdict.ts";

const { values } = benchArgs(
  "deno run -A bench/sinks_db_bench.ts [--mongo-events N] [--cassandra-events N] [--rounds N] [--only mongodb|cassandra]",
  {
    options: {
      "mongo-events": { type: "string", default: "100000" },
      "cassandra-events": { type: "string", default: "50000" },
      rounds: { type: "string", default: "3" },
      only: { type: "string" },
    },
  },
);
const rounds = Number(values.rounds);
const SOURCE = 0x5eedn;
const sender = new URL("./transport_worker.ts", import.meta.url).pathname;

/** The event the transport benchmark's sender sends, so the sink sees the same bytes. */
function sampleEvent(i: number): Event {
  return {
    type: "http.hit",
    time: new Date(1_700_000_000_000 + (i % 1000)),
    host: "web1",
    remote_addr: "203.0.113.7",
    method: "GET",
    path: "/downloads/product_1",
    status: 200,
    body_bytes_sent: 4312,
    http_user_agent: "Debian APT-HTTP/1.3 (0.9.7.9) " + "x".repeat(54),
  };
}

/** The documents the sink stores: the sample events with the ids the runner gives them. */
function documents(count: number): Event[] {
  return Array.from({ length: count }, (_, i) => ({
    ...sampleEvent(i),
    _id: eventId(SOURCE, "http.hit", i),
  }));
}

/**
 * Runs `backend` under a SinkRunner fed by a sender process with `count` events;
 * resolves with events stored per second, from the first write to the last.
 */
async function sinkRun(backend: SinkBackend, count: number): Promise<number> {
  let first = 0;
  let last = 0;
  const timed: SinkBackend = {
    name: backend.name,
    // The stream positions a durable backend saves with each batch are part of its cost.
    write: async (events, positions) => {
      if (first === 0) first = performance.now();
      const refused = await backend.write(events, positions);
      last = performance.now();
      return refused;
    },
    ...(backend.positions ? { positions: () => backend.positions!() } : {}),
    close: () => backend.close(),
  };
  const port = freeLoopbackPort();
  const runner = new SinkRunner(timed, {
    collector: { endpoints: `@tcp://127.0.0.1:${port}`, receiveHwm: 100_000 },
    bufferEvents: count,
    bufferBytes: Infinity,
  });
  await runner.open();
  const controller = new AbortController();
  const running = runner.run(controller.signal);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", sender, "send", `>tcp://127.0.0.1:${port}`, String(count), "1000", "raw"],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  while (true) {
    const stats = runner.stats();
    if (stats.stored + stats.droppedFull + stats.droppedRejected >= count) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await child.status;
  controller.abort();
  const stats = await running;
  if (stats.stored !== count) throw new Error(`sink stored ${stats.stored} of ${count}`);
  return count / ((last - first) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

type Kind = "bare" | "backend" | "sink";
const KINDS: Kind[] = ["bare", "backend", "sink"];
/** The whole Cassandra sink's events/s as a share of the bare driver loop's (issue 12). */
const CASSANDRA_SINK_TARGET = 0.85;

/**
 * Runs each kind `rounds` times, rotating the order, and prints medians and ratios,
 * and the whole sink's ratio to the bare loop against `sinkTarget` when given.
 */
async function compare(
  name: string,
  runs: Record<Kind, (tag: string) => Promise<number>>,
  sinkTarget?: number,
): Promise<void> {
  const results: Record<Kind, number[]> = { bare: [], backend: [], sink: [] };
  for (let round = 0; round < rounds; round++) {
    // Rotate the order so that no kind always meets a fresher server.
    for (let k = 0; k < KINDS.length; k++) {
      const kind = KINDS[(k + round) % KINDS.length];
      results[kind].push(await runs[kind](`${kind}_${round}`));
    }
  }
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(7);
  const bare = median(results.bare);
  const line = (kind: Kind, label: string) => {
    const rate = median(results[kind]);
    const ratio = kind === "bare"
      ? ""
      : `  ${(rate / bare).toFixed(2)} of bare (overhead ${((1 - rate / bare) * 100).toFixed(1)}%)`;
    console.log(
      `  ${label.padEnd(44)} ${fmt(rate)} ev/s${ratio}   [${
        results[kind].map(Math.round).join(", ")
      }]`,
    );
  };
  console.log(`${name}: medians of ${rounds} rounds`);
  line("bare", "bare driver loop");
  line("backend", "sink backend, write() of 1000, no wire");
  line("sink", "sink: emitter process → collector → runner");
  if (sinkTarget !== undefined) {
    const ratio = median(results.sink) / bare;
    console.log(
      `  target: the sink ≥ ${sinkTarget.toFixed(2)} of the bare loop: ${ratio.toFixed(2)}, ${
        verdict(ratio >= sinkTarget)
      }`,
    );
  }
}

async function benchMongo(count: number): Promise<void> {
  let server: DbServer | undefined;
  const url = Deno.env.get("MONGODB_URL") ??
    `mongodb://127.0.0.1:${(server = await startServer("ferretdb.sh")).port}`;
  const client = new MongoClient(url);
  const info = await client.db("admin").command({ buildInfo: 1 });
  console.log(
    `${info.ferretdbVersion ? `FerretDB ${info.ferretdbVersion}` : `MongoDB ${info.version}`}: ` +
      `${count} events per run; bare loop: insertMany of 1000, unordered`,
  );
  const docs = documents(count);
  const fresh = async (dbName: string) => {
    await client.db(dbName).dropDatabase();
    return await MongoBackend.open({ url, db: dbName, timeseries: false, timeoutMs: 5000 });
  };
  const check = async (dbName: string) => {
    const stored = await client.db(dbName).collection("http_hit").countDocuments();
    if (stored !== count) throw new Error(`database holds ${stored} of ${count}`);
    await client.db(dbName).dropDatabase();
  };
  const runs: Record<Kind, (tag: string) => Promise<number>> = {
    bare: async (tag) => {
      // A client of its own, like the backend's, so both start from fresh connections.
      const own = new MongoClient(url);
      const db = own.db(`bench_${tag}`);
      await db.dropDatabase();
      const collection = db.collection("http_hit");
      await collection.createIndex({ type: 1, time: 1 });
      // insertMany adds nothing to documents that have an _id, so copies are not needed.
      const started = performance.now();
      for (let i = 0; i < count; i += 1000) {
        await collection.insertMany(docs.slice(i, i + 1000) as Document[], { ordered: false });
      }
      const rate = count / ((performance.now() - started) / 1000);
      await own.close();
      await check(`bench_${tag}`);
      return rate;
    },
    backend: async (tag) => {
      const backend = await fresh(`bench_${tag}`);
      const started = performance.now();
      for (let i = 0; i < count; i += 1000) await backend.write(docs.slice(i, i + 1000));
      const rate = count / ((performance.now() - started) / 1000);
      await backend.close();
      await check(`bench_${tag}`);
      return rate;
    },
    sink: async (tag) => {
      const rate = await sinkRun(await fresh(`bench_${tag}`), count);
      await check(`bench_${tag}`);
      return rate;
    },
  };
  try {
    await runs.bare("warmup");
    await compare("mongodb", runs);
  } finally {
    await client.close();
    await server?.destroy();
  }
}

async function benchCassandra(count: number): Promise<void> {
  let server: DbServer | undefined;
  const contactPoints = Deno.env.get("CASSANDRA_CONTACT_POINTS")?.split(",") ??
    [`127.0.0.1:${(server = await startServer("cassandra.sh")).port}`];
  const keyspace = "eventstorm_bench";
  const client = new cassandra.Client({
    contactPoints,
    localDataCenter: "datacenter1",
    socketOptions: { readTimeout: 60_000 },
  });
  await client.connect();
  console.log(
    `Cassandra: ${count} events per run, LOCAL_ONE; bare loop: executeConcurrent ` +
      `(64 in flight) of the prepared insert, rows (with their JSON) built beforehand`,
  );
  const events = documents(count);
  const rows = events.map((event) => rowOf(event, "hour"));
  const open = (table: string) =>
    CassandraBackend.open({
      ...CASSANDRA_DEFAULTS,
      contactPoints,
      keyspace,
      table,
      consistency: "local_one",
    });
  const check = async (table: string) => {
    const stored = await client.execute(`SELECT count(*) FROM ${keyspace}.${table}`);
    const n = Number(stored.first().get("count"));
    if (n !== count) throw new Error(`table holds ${n} of ${count}`);
    await client.execute(`DROP TABLE ${keyspace}.${table}`);
  };
  const runs: Record<Kind, (tag: string) => Promise<number>> = {
    bare: async (tag) => {
      const table = { keyspace, table: tag };
      await client.execute(createTableCql(table));
      const started = performance.now();
      await cassandra.concurrent.executeConcurrent(client, insertCql(table), rows, {
        concurrencyLevel: 64,
      });
      const rate = count / ((performance.now() - started) / 1000);
      await check(tag);
      return rate;
    },
    backend: async (tag) => {
      const backend = await open(tag);
      const started = performance.now();
      for (let i = 0; i < count; i += 1000) await backend.write(events.slice(i, i + 1000));
      const rate = count / ((performance.now() - started) / 1000);
      await backend.close();
      await check(tag);
      return rate;
    },
    sink: async (tag) => {
      const rate = await sinkRun(await open(tag), count);
      await check(tag);
      return rate;
    },
  };
  try {
    await client.execute(createKeyspaceCql(keyspace, CASSANDRA_DEFAULTS.replication));
    // The JVM compiles its write path during the first tens of thousands of inserts.
    await runs.bare("warmup");
    await compare("cassandra", runs, CASSANDRA_SINK_TARGET);
  } finally {
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => {});
    await client.shutdown();
    await server?.destroy();
  }
}

if (values.only !== "cassandra") await benchMongo(Number(values["mongo-events"]));
if (values.only !== "mongodb") await benchCassandra(Number(values["cassandra-events"]));
