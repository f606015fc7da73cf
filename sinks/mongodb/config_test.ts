import assert from "node:assert/strict";
import { parseFlags, UsageError } from "@eventstorm/core/cli";
import { mongoConfigFromFlags, MONGODB_FLAGS, parseWriteConcern } from "./config.ts";

function configOf(args: string[]) {
  const { values } = parseFlags(args, { name: "t", summary: "", flags: MONGODB_FLAGS });
  return mongoConfigFromFlags(values);
}

Deno.test("mongodb config: defaults", () => {
  assert.deepEqual(configOf([]), {
    url: "mongodb://127.0.0.1:27017",
    db: "eventstorm",
    collection: undefined,
    ttlMs: undefined,
    timeseries: false,
    writeConcern: undefined,
    timeoutMs: 5000,
  });
});

Deno.test("mongodb config: every flag", () => {
  const config = configOf([
    "--url",
    "mongodb://a:1,b:2/?replicaSet=rs",
    "--db",
    "logs",
    "--collection",
    "events",
    "--ttl",
    "30d",
    "--timeseries",
    "--write-concern",
    "majority,journal",
    "--timeout",
    "2s",
  ]);
  assert.deepEqual(config, {
    url: "mongodb://a:1,b:2/?replicaSet=rs",
    db: "logs",
    collection: "events",
    ttlMs: 30 * 86_400_000,
    timeseries: true,
    writeConcern: { w: "majority", journal: true },
    timeoutMs: 2000,
  });
});

Deno.test("mongodb config: write concerns", () => {
  assert.deepEqual(parseWriteConcern("0"), { w: 0, journal: false });
  assert.deepEqual(parseWriteConcern("1,j"), { w: 1, journal: true });
  assert.deepEqual(parseWriteConcern("3"), { w: 3, journal: false });
  for (const bad of ["", "all", "1,fsync", "-1", "0,journal"]) {
    assert.throws(() => parseWriteConcern(bad), UsageError, bad);
  }
});

Deno.test("mongodb config: bad values are one-line usage errors", () => {
  for (
    const args of [
      ["--url", "http://x"],
      ["--db", "a.b"],
      ["--db", ""],
      ["--collection", "system.x"],
      ["--collection", "a$b"],
      ["--ttl", "soon"],
      ["--ttl", "10ms"],
      ["--timeout", "1ms"],
    ]
  ) {
    assert.throws(() => configOf(args), (error) => {
      return error instanceof UsageError && !error.message.includes("\n");
    }, args.join(" "));
  }
});

Deno.test("mongodb config: a bad --url is shown without its password", () => {
  assert.throws(
    () => configOf(["--url", "mongo://app:s3cret@db1:27017"]),
    (error) =>
      error instanceof UsageError && error.message.includes("mongo://app:***@db1:27017") &&
      !error.message.includes("s3cret"),
  );
});
