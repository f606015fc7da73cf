// Smoke test for the database servers the sink tests run: each starts through its script in
// scripts/ and answers a real driver. Without the server (no toolchain, no registry) the test is
// ignored with the reason printed, except under CI=true, where it fails instead.
import assert from "node:assert/strict";
// tests/ belongs to no workspace member with an import map, so the drivers are pinned inline.
// deno-lint-ignore no-import-prefix
import { MongoClient, MongoServerError } from "npm:mongodb@7.9.0";
// deno-lint-ignore no-import-prefix
import cassandra from "npm:cassandra-driver@4.10.0";
import { inCI, startServer, unavailable } from "./db_server.ts";

/** Why `script` cannot run its server here, printed when the test is ignored for it. */
async function availability(script: string): Promise<string | undefined> {
  const reason = await unavailable(script);
  if (reason && !inCI) console.warn(`servers_test: ignoring, ${reason}`);
  return reason;
}

/** Starts a server in a fresh temp dir, runs `body`, then stops it and removes the dir. */
async function withServer(
  script: string,
  body: (port: number) => Promise<void>,
): Promise<void> {
  const server = await startServer(script);
  try {
    await body(server.port);
  } finally {
    await server.destroy();
  }
}

const ferretdbMissing = await availability("ferretdb.sh");

Deno.test({
  name: "ferretdb.sh starts FerretDB and the mongodb driver round-trips events",
  ignore: ferretdbMissing !== undefined && !inCI,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    if (ferretdbMissing) throw new Error(ferretdbMissing);
    await withServer("ferretdb.sh", async (port) => {
      const client = new MongoClient(`mongodb://127.0.0.1:${port}/`, {
        directConnection: true,
        serverSelectionTimeoutMS: 20_000,
      });
      try {
        await client.connect();
        const events = client.db("smoke").collection("events");
        const time = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
        const inserted = await events.insertMany([
          { type: "http.hit", time, host: "web1", status: 200 },
          { type: "http.hit", time, host: "web2", status: 404 },
          { type: "mail.sent", time, host: "mx1", size: 1234 },
        ]);
        assert.equal(inserted.insertedCount, 3);

        const hits = await events.find({ type: "http.hit" }, { projection: { _id: 0 } })
          .sort({ host: 1 }).toArray();
        assert.deepEqual(hits, [
          { type: "http.hit", time, host: "web1", status: 200 },
          { type: "http.hit", time, host: "web2", status: 404 },
        ]);

        assert.equal(await events.createIndex({ type: 1, time: -1 }), "type_1_time_-1");
        const names = (await events.indexes()).map((i) => i.name).sort();
        assert.deepEqual(names, ["_id_", "type_1_time_-1"]);

        // FerretDB 1.24 lacks TTL indexes and time-series collections; the mongodb sink has
        // to cope with this NotImplemented (code 238) answer. Fails loudly if that changes.
        await assert.rejects(
          events.createIndex({ time: 1 }, { expireAfterSeconds: 60 }),
          (err) => err instanceof MongoServerError && err.code === 238,
        );
        await assert.rejects(
          client.db("smoke").createCollection("series", {
            timeseries: { timeField: "time", metaField: "host" },
          }),
          (err) => err instanceof MongoServerError && err.code === 238,
        );
      } finally {
        await client.close();
      }
    });
  },
});

const cassandraMissing = await availability("cassandra.sh");

Deno.test({
  name: "cassandra.sh starts Cassandra and the CQL driver round-trips a prepared insert",
  ignore: cassandraMissing !== undefined && !inCI,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    if (cassandraMissing) throw new Error(cassandraMissing);
    await withServer("cassandra.sh", async (port) => {
      const client = new cassandra.Client({
        contactPoints: [`127.0.0.1:${port}`],
        localDataCenter: "datacenter1",
        socketOptions: { connectTimeout: 20_000, readTimeout: 60_000 },
      });
      try {
        await client.connect();
        await client.execute(
          "CREATE KEYSPACE smoke WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        );
        await client.execute(
          "CREATE TABLE smoke.events (type text, time timestamp, host text, fields map<text, text>," +
            " PRIMARY KEY ((type), time, host))",
        );
        const time = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
        const insert = "INSERT INTO smoke.events (type, time, host, fields) VALUES (?, ?, ?, ?)";
        for (const host of ["web1", "web2"]) {
          await client.execute(insert, ["http.hit", time, host, { status: "200" }], {
            prepare: true,
          });
        }
        const res = await client.execute(
          "SELECT host, time, fields FROM smoke.events WHERE type = ?",
          ["http.hit"],
          { prepare: true },
        );
        assert.deepEqual(
          res.rows.map((r) => ({
            host: r.get("host"),
            time: r.get("time").getTime(),
            fields: r.get("fields"),
          })),
          [
            { host: "web1", time: time.getTime(), fields: { status: "200" } },
            { host: "web2", time: time.getTime(), fields: { status: "200" } },
          ],
        );
      } finally {
        await client.shutdown();
      }
    });
  },
});
