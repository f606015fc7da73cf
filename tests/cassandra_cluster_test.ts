// The Cassandra sink against a real 2-node cluster (127.0.0.1 and 127.0.0.2) started by
// `scripts/cassandra.sh cluster start`, with a keyspace at replication factor 2. The cluster
// outlives a local run for a while (CASSANDRA_CLUSTER_LINGER), so a rerun reuses it; under
// CI=true it is stopped at the end, and a missing prerequisite fails instead of skipping.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import cassandra from "cassandra-driver";
import { Emitter, type Event } from "@eventstorm/core";
import { CASSANDRA_DEFAULTS, CassandraBackend } from "@eventstorm/sink-cassandra";
import { cqlReader } from "./cql_reader.ts";
import { inCI, runScript, unavailable } from "./db_server.ts";
import {
  CLUSTER_CONTACT_POINTS as contactPoints,
  CLUSTER_DIR,
  lockCluster,
  startCluster,
  stopCluster,
} from "./shared_cluster.ts";
import { cli, sleep, startRouter, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const RF2 = "{'class': 'SimpleStrategy', 'replication_factor': 2}";

const missing = await unavailable("cassandra.sh");
if (missing && !inCI) console.warn(`cassandra_cluster_test: ignoring, ${missing}`);
const ignore = missing !== undefined && !inCI;
// Held until the last test: this file stops and kills nodes, which the fleet test must not see.
const lock = ignore ? undefined : await lockCluster();

/** Starts the cluster, or the nodes of it that are not running; reuses what runs. */
async function clusterStart(): Promise<void> {
  console.error((await startCluster()).trim());
}

async function nodePid(node: number): Promise<number> {
  const result = await runScript("cassandra.sh", ["cluster", "pid", CLUSTER_DIR, String(node)]);
  if (!result.ok) throw new Error(result.output);
  return Number(result.output.trim());
}

// The test's own reader, at consistency ALL: every replica must answer and agree.
const reader = cqlReader(contactPoints, cassandra.types.consistencies.all);

function clusterTest(name: string, fn: (keyspace: string) => Promise<void>) {
  Deno.test({
    name,
    ...opts,
    ignore,
    fn: async () => {
      if (missing) throw new Error(missing);
      await clusterStart();
      const keyspace = `c${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
      try {
        await fn(keyspace);
      } finally {
        await (await reader.client()).execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(
          () => {},
        );
      }
    },
  });
}

/** The routing key of a `((type, bucket))` partition: each text part length-prefixed, 0-ended. */
function routingKey(...parts: string[]): Buffer {
  return Buffer.concat(parts.flatMap((part) => {
    const bytes = Buffer.from(part, "utf8");
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    return [length, bytes, Buffer.from([0])];
  }));
}

clusterTest(
  "cassandra cluster: inserts are token-aware, each sent to the node that owns its partition",
  async (keyspace) => {
    // At replication factor 1 each partition lives on one node only, so the coordinator shows
    // whether the driver routed by token; at RF 2 on 2 nodes every node owns everything.
    const coordinators = new Map<string, Set<string>>();
    // The driver checks for its (untyped) base class.
    const Base = (cassandra.tracker as unknown as {
      RequestTracker: new () => cassandra.tracker.RequestTracker;
    }).RequestTracker;
    const tracker = new class extends Base {
      override onSuccess(
        host: cassandra.Host,
        query: string | unknown[],
        parameters: unknown,
      ): void {
        if (typeof query !== "string" || !query.startsWith("INSERT")) return;
        const type = (parameters as unknown[])[0] as string;
        if (!coordinators.has(type)) coordinators.set(type, new Set());
        coordinators.get(type)!.add(host.address);
      }
      override onError(): void {}
      override shutdown(): void {}
    }();
    const backend = await CassandraBackend.open({
      ...CASSANDRA_DEFAULTS,
      contactPoints,
      keyspace,
      replication: "{'class': 'SimpleStrategy', 'replication_factor': 1}",
      consistency: "one",
    }, { requestTracker: tracker });
    try {
      const time = new Date(Date.UTC(2026, 0, 2, 3));
      const events: Event[] = [...Array(400).keys()].map((i) => ({
        type: `t.p${i % 16}`,
        time: new Date(time.getTime() + i),
        host: "h",
        _id: `id-${i}`,
      }));
      assert.deepEqual(await backend.write(events), { rejected: 0, duplicates: 0 });
      assert.equal(coordinators.size, 16);
      const used = new Set<string>();
      for (const [type, hosts] of coordinators) {
        const replicas = backend.client.getReplicas(keyspace, routingKey(type, "2026-01-02T03"))
          .map((host) => host.address);
        assert.equal(replicas.length, 1);
        assert.deepEqual([...hosts], replicas, `${type}: coordinated by its replica only`);
        used.add(replicas[0]);
      }
      assert.deepEqual([...used].sort(), contactPoints, "both nodes own some partitions");
    } finally {
      await backend.close();
    }
  },
);

/** The counters of a sink's last stats line. */
interface SinkLine {
  received: number;
  stored: number;
  buffered: number;
  dropped: number;
  lostOnWire: number;
  writeErrors: number;
}

const LINE =
  /received (\d+), stored (\d+), buffered (\d+), dropped (\d+), lost on wire (\d+)(?:.*write errors (\d+))?/;

/** `cli.ts sink cassandra` as a child, its stderr read line by line for the stats. */
function sinkProcess(keyspace: string, table: string, consistency: string, router: string) {
  const child = cli([
    "sink",
    "cassandra",
    ...["--contact-points", contactPoints.join(",")],
    ...["--keyspace", keyspace, "--table", table, "--replication", RF2],
    ...[
      "--consistency",
      consistency,
      "--timeout",
      "2s",
      "--concurrency",
      "32",
      "--batch-size",
      "200",
    ],
    ...["--from", router, "--stats-interval", "500ms", "--stats-to", "none"],
    ...["--shutdown-timeout", "60s"],
  ]);
  let last: SinkLine | undefined;
  let stderr = "";
  const reading = (async () => {
    const lines = child.stderr.pipeThrough(new TextDecoderStream());
    let pending = "";
    for await (const chunk of lines) {
      stderr += chunk;
      pending += chunk;
      const parts = pending.split("\n");
      pending = parts.pop()!;
      for (const line of parts) {
        const m = line.startsWith("sink cassandra:") ? LINE.exec(line) : null;
        if (!m) continue;
        last = {
          received: Number(m[1]),
          stored: Number(m[2]),
          buffered: Number(m[3]),
          dropped: Number(m[4]),
          lostOnWire: Number(m[5]),
          writeErrors: Number(m[6] ?? 0),
        };
      }
    }
  })();
  let stopping: Promise<{ code: number; stderr: string; last: SinkLine }> | undefined;
  return {
    started: () => last !== undefined,
    /** What the sink printed so far, for a failure message. */
    output: () => stderr,
    stats: (): SinkLine =>
      last ?? { received: 0, stored: 0, buffered: 0, dropped: 0, lostOnWire: 0, writeErrors: 0 },
    stop: () =>
      stopping ??= (async () => {
        child.kill("SIGTERM");
        const status = await child.status;
        await child.stdout.cancel().catch(() => {});
        await reading;
        return { code: status.code, stderr, last: last! };
      })(),
  };
}

/** Waits until `sink` stored 1000 more events than before `stream` ran, while `state` holds. */
async function storesWhile(
  sink: { stats(): SinkLine },
  stream: () => Promise<void>,
  state: string,
): Promise<void> {
  const before = sink.stats().stored;
  await stream();
  await waitFor(
    () => sink.stats().stored >= before + 1000,
    `the sink storing with ${state} (from ${before})`,
    60_000,
  );
}

clusterTest(
  "cassandra cluster: RF 2, a node stopped then another killed mid-stream: every event stored once or counted",
  async (keyspace) => {
    const r = startRouter();
    // One stream into two tables: ONE keeps writing while a node is away, QUORUM (both of
    // 2 replicas) waits, buffering, and catches up when the node returns.
    const one = sinkProcess(keyspace, "events_one", "one", r.sinks);
    const quorum = sinkProcess(keyspace, "events_quorum", "quorum", r.sinks);
    const sinks = [one, quorum];
    const out = await Emitter.open({ endpoints: r.sources, host: "cluster" });
    const stopped: number[] = [];
    try {
      // A sink prints stats once its collector is open; the router passes on one subscription.
      // Each sink creates its keyspace and table first: schema agreement on a two-node
      // cluster takes long when the rest of the suite loads the machine.
      await waitFor(() => sinks.every((s) => s.started()), "both sinks running", 180_000)
        .catch((error) => {
          throw new Error(
            `${error.message}; the sinks said:\n${sinks.map((s) => s.output()).join("\n")}`,
          );
        });
      await waitFor(() => out.stats().subscriptions >= 1, "the sinks' subscription", 30_000);
      await sleep(1000);
      let next = 0;
      const emit = async (count: number) => {
        for (const end = next + count; next < end; next++) {
          out.emit("cluster.test", { i: next, pad: "x".repeat(64) });
          if (next % 100 === 99) {
            await out.flush();
            await sleep(250);
          }
        }
        await out.flush();
      };
      await emit(2000);
      await waitFor(
        () => sinks.every((s) => s.stats().stored >= 1000),
        "both sinks storing",
        90_000,
      );

      // SIGSTOP node 1 for about 10 s: it holds its connections open and answers nothing.
      const node1 = await nodePid(1);
      Deno.kill(node1, "SIGSTOP");
      stopped.push(node1);
      const stoppedAt = Date.now();
      await storesWhile(one, () => emit(2000), "node 1 stopped");
      await sleep(Math.max(0, 10_000 - (Date.now() - stoppedAt)));
      Deno.kill(node1, "SIGCONT");
      stopped.pop();
      await emit(2000);
      await waitFor(
        () => sinks.every((s) => s.stats().stored >= 5000),
        "both sinks catching up after node 1 returned",
        120_000,
      );

      // kill -9 node 2, then the script starts it again while the stream goes on.
      Deno.kill(await nodePid(2), "SIGKILL");
      await storesWhile(one, () => emit(2000), "node 2 killed");
      const restarting = clusterStart();
      await emit(2000);
      await restarting;
      await emit(2000);
      const total = next;
      await out.close();
      await waitFor(
        () => sinks.every((s) => s.stats().received === total && s.stats().buffered === 0),
        "everything received and stored or dropped",
        180_000,
      );

      const results = [await one.stop(), await quorum.stop()];
      for (const [k, { code, stderr, last }] of results.entries()) {
        const table = k === 0 ? "events_one" : "events_quorum";
        assert.equal(code, 0, stderr);
        assert.equal(last.received, total, stderr);
        assert.equal(last.lostOnWire, 0);
        assert.equal(last.buffered, 0);
        assert.equal(last.stored + last.dropped, total, `${table}: stored or counted`);
        // Read at consistency ALL: both replicas answer and agree.
        const rows = await reader.rows(`SELECT id, event FROM ${keyspace}.${table}`);
        const seen = rows.map((row) => JSON.parse(row.event).i as number);
        assert.equal(new Set(seen).size, rows.length, `${table}: no event twice`);
        assert.ok(seen.every((i) => Number.isInteger(i) && i >= 0 && i < total));
        // A dropped event may have reached a replica before its write failed, so with drops
        // the table holds at least what was counted stored and at most that plus the drops.
        assert.ok(rows.length >= last.stored && rows.length <= total, `${table}: ${rows.length}`);
        if (last.dropped === 0) assert.equal(rows.length, total, `${table}: every event`);
        console.error(
          `${table}: ${rows.length} rows of ${total}; dropped ${last.dropped}, ` +
            `write errors ${last.writeErrors}`,
        );
      }
      assert.ok(results[1].last.writeErrors > 0, "quorum writes failed while a node was away");
    } finally {
      for (const pid of stopped) Deno.kill(pid, "SIGCONT");
      await out.close().catch(() => {});
      await Promise.all(sinks.map((s) => s.stop().catch(() => {})));
      await r.stop();
    }
  },
);

Deno.test({
  name: "cassandra cluster: close the client (and stop the cluster under CI)",
  ...opts,
  ignore,
  fn: async () => {
    await reader.close();
    try {
      if (inCI) {
        const result = await stopCluster();
        assert.ok(result.ok, result.output);
      }
    } finally {
      // Only now: the fleet test, waiting for the lock, must find the cluster either
      // running or stopped, never stopping under it.
      lock?.release();
    }
  },
});
