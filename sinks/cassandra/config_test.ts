import assert from "node:assert/strict";
import { parseFlags, UsageError } from "@eventstorm/core/cli";
import { CASSANDRA_DEFAULTS, CASSANDRA_FLAGS, cassandraConfigFromFlags } from "./config.ts";

function configOf(args: string[]) {
  const { values } = parseFlags(args, { name: "t", summary: "", flags: CASSANDRA_FLAGS });
  return cassandraConfigFromFlags(values);
}

Deno.test("cassandra config: defaults", () => {
  assert.deepEqual(configOf([]), { ...CASSANDRA_DEFAULTS, ttlSeconds: undefined });
  assert.deepEqual(CASSANDRA_DEFAULTS.contactPoints, ["127.0.0.1:9042"]);
  assert.equal(CASSANDRA_DEFAULTS.concurrency, 64);
});

Deno.test("cassandra config: every flag", () => {
  const config = configOf([
    "--contact-points",
    "db1:9042,db2",
    "--contact-points",
    "[::1]:9043",
    "--datacenter",
    "dc2",
    "--keyspace",
    "Logs_1",
    "--table",
    "ev",
    "--replication",
    "{'class': 'NetworkTopologyStrategy', 'dc2': 3}",
    "--bucket",
    "day",
    "--ttl",
    "30d",
    "--consistency",
    "QUORUM",
    "--concurrency",
    "8",
    "--timeout",
    "3s",
  ]);
  assert.deepEqual(config, {
    contactPoints: ["db1:9042", "db2", "[::1]:9043"],
    datacenter: "dc2",
    keyspace: "Logs_1",
    table: "ev",
    replication: "{'class': 'NetworkTopologyStrategy', 'dc2': 3}",
    bucket: "day",
    ttlSeconds: 30 * 86400,
    consistency: "quorum",
    concurrency: 8,
    timeoutMs: 3000,
  });
});

Deno.test("cassandra config: bad values are one-line usage errors", () => {
  for (
    const args of [
      ["--contact-points", ""],
      ["--contact-points", "a:99999"],
      ["--contact-points", "a b"],
      ["--keyspace", "bad-name"],
      ["--table", "x;DROP"],
      ["--replication", "SimpleStrategy"],
      ["--replication", "{'a': 1}; DROP KEYSPACE x"],
      ["--bucket", "minute"],
      ["--ttl", "21000d"],
      ["--ttl", "100ms"],
      ["--consistency", "serial"],
      ["--concurrency", "0"],
      ["--timeout", "1ms"],
    ]
  ) {
    assert.throws(
      () => configOf(args),
      (error) => error instanceof UsageError && !error.message.includes("\n"),
      args.join(" "),
    );
  }
});
