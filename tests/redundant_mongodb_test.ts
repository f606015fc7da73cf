/**
 * Redundant routers with the MongoDB sink (FerretDB from scripts/ferretdb.sh, or
 * the server at MONGODB_URL): either router killed and restarted mid-stream,
 * every event stored once, lost 0, duplicates counted. Without a server the test
 * is ignored, except under CI=true.
 *
 * @module
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { Emitter } from "@eventstorm/core";
import { type DbServer, inCI, startServer, unavailable } from "./db_server.ts";
import { cli, waitFor } from "./helpers.ts";
import { RouterProcess, stopAll, stopSinkCleanly, streamWithKills } from "./redundant.ts";

const externalUrl = Deno.env.get("MONGODB_URL");
const missing = externalUrl ? undefined : await unavailable("ferretdb.sh");
if (missing && !inCI) console.warn(`redundant_mongodb_test: ignoring, ${missing}`);
const server: DbServer | undefined = externalUrl || missing
  ? undefined
  : await startServer("ferretdb.sh");
const url = externalUrl ?? `mongodb://127.0.0.1:${server?.port}`;

Deno.test({
  name: "redundant routers: the mongodb sink keeps each event once through router kills, lost 0",
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: missing !== undefined && !inCI,
  fn: async () => {
    if (missing) throw new Error(missing);
    const dbName = `r${crypto.randomUUID().slice(0, 8)}`;
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 20_000 });
    const collection = client.db(dbName).collection("events");
    const routers = [new RouterProcess(), new RouterProcess()];
    let sink: Deno.ChildProcess | undefined;
    let source: Emitter | undefined;
    try {
      await Promise.all(routers.map((router) => router.start()));
      sink = cli([
        "sink",
        "mongodb",
        ...["--url", url, "--db", dbName, "--collection", "events"],
        ...["--from", routers.map((router) => router.sinks).join(","), "--topic", "app."],
        ...["--stats-interval", "1h", "--stats-to", "none"],
      ]);
      source = await Emitter.open({ endpoints: routers.map((router) => router.sources).join(",") });
      const emitter = source;
      await waitFor(() => emitter.stats().subscriptions > 0, "the sink's subscription");
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const { sent, kills } = await streamWithKills(routers, emitter, 8000, 2);
      await waitFor(
        async () => (await collection.countDocuments()) >= sent,
        `${sent} documents`,
        60_000,
        200,
      );
      const line = await stopSinkCleanly(sink);
      sink = undefined;
      console.log(`redundant routers, mongodb: ${sent} events, ${kills} kills; ${line}`);
      assert.equal(await collection.countDocuments(), sent);
      assert.equal((await collection.distinct("i")).length, sent);
    } finally {
      await stopAll(source, sink, routers);
      await client.db(dbName).dropDatabase().catch(() => {});
      await client.close();
      await server?.destroy();
    }
  },
});
