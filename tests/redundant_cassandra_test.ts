/**
 * Redundant routers with the Cassandra sink (a node from scripts/cassandra.sh, or
 * the cluster at CASSANDRA_CONTACT_POINTS): either router killed and restarted
 * mid-stream, every event stored once, lost 0, duplicates counted. Without a
 * server the test is ignored, except under CI=true.
 *
 * @module
 */
import assert from "node:assert/strict";
import cassandra from "cassandra-driver";
import { Emitter } from "@eventstorm/core";
import { type DbServer, inCI, startServer, unavailable } from "./db_server.ts";
import { cli, waitFor } from "./helpers.ts";
import { RouterProcess, stopAll, stopSinkCleanly, streamWithKills } from "./redundant.ts";

const external = Deno.env.get("CASSANDRA_CONTACT_POINTS");
const missing = external ? undefined : await unavailable("cassandra.sh");
if (missing && !inCI) console.warn(`redundant_cassandra_test: ignoring, ${missing}`);
const server: DbServer | undefined = external || missing
  ? undefined
  : await startServer("cassandra.sh");
const contactPoints = external?.split(",") ?? [`127.0.0.1:${server?.port}`];
/** Every event in one hour bucket, so that one partition holds them all. */
const BASE = Date.UTC(2026, 0, 2, 3);

Deno.test({
  name: "redundant routers: the cassandra sink keeps each event once through router kills, lost 0",
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: missing !== undefined && !inCI,
  fn: async () => {
    if (missing) throw new Error(missing);
    const keyspace = `r${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
    const client = new cassandra.Client({
      contactPoints,
      localDataCenter: "datacenter1",
      socketOptions: { readTimeout: 60_000 },
    });
    const routers = [new RouterProcess(), new RouterProcess()];
    let sink: Deno.ChildProcess | undefined;
    let source: Emitter | undefined;
    const stored = async () => {
      try {
        const result = await client.execute(
          `SELECT count(*) AS n FROM ${keyspace}.events WHERE type = ? AND bucket = ?`,
          ["app.redundant", "2026-01-02T03"],
          { prepare: true },
        );
        return Number(result.rows[0].n);
      } catch {
        return 0; // the sink has not made its table yet
      }
    };
    try {
      await client.connect();
      await Promise.all(routers.map((router) => router.start()));
      sink = cli([
        "sink",
        "cassandra",
        ...["--contact-points", contactPoints.join(","), "--keyspace", keyspace],
        ...["--consistency", "one"],
        ...["--from", routers.map((router) => router.sinks).join(","), "--topic", "app."],
        ...["--stats-interval", "1h", "--stats-to", "none"],
      ]);
      source = await Emitter.open({ endpoints: routers.map((router) => router.sources).join(",") });
      const emitter = source;
      await waitFor(() => emitter.stats().subscriptions > 0, "the sink's subscription", 60_000);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const { sent, kills } = await streamWithKills(
        routers,
        emitter,
        8000,
        2,
        (i) => ({ time: new Date(BASE + i) }),
      );
      await waitFor(async () => (await stored()) >= sent, `${sent} rows`, 120_000, 500);
      const line = await stopSinkCleanly(sink);
      sink = undefined;
      console.log(`redundant routers, cassandra: ${sent} events, ${kills} kills; ${line}`);
      assert.equal(await stored(), sent);
      // Rows are upserts by id, so the sink's own count shows that nothing was written twice.
      assert.match(line, new RegExp(`received ${sent}, stored ${sent},`));
    } finally {
      await stopAll(source, sink, routers);
      await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => {});
      await client.shutdown();
      await server?.destroy();
    }
  },
});
