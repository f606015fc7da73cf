/**
 * `eventstorm sink cassandra`: stores events in Apache Cassandra.
 *
 * @example
 * ```sh
 * deno run -A sinks/cassandra/main.ts --from '>tcp://127.0.0.1:5556' --ttl 30d
 * ```
 *
 * @module
 */
import { type Command, runCommand } from "@eventstorm/core/cli";
import { sinkCommand } from "@eventstorm/core/sink";
import { CassandraBackend } from "./backend.ts";
import { CASSANDRA_FLAGS, cassandraConfigFromFlags } from "./config.ts";

const EPILOG = `Examples:
  eventstorm sink cassandra --contact-points db1:9042,db2:9042 --ttl 30d
  eventstorm sink cassandra --keyspace logs --bucket day --consistency quorum
  eventstorm sink cassandra --contact-points 10.0.0.1,10.0.0.2 --consistency one \\
    --replication "{'class': 'SimpleStrategy', 'replication_factor': 2}"

--consistency is how many replicas must acknowledge an insert before it counts as
stored: one keeps storing while any replica is up; quorum needs a majority of them
(docs/stored.md has the table).

Rows are keyed by ((type, bucket), time, id), so a retried or replayed event overwrites
its own row. Query a type's hour:
  SELECT * FROM eventstorm.events WHERE type = 'http.hit' AND bucket = '2026-11-23T18';`;

/**
 * The cassandra sink's command: its flags, its help and how it runs.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/sink-cassandra/main";
 * await command.main(["--contact-points", "127.0.0.1:9042", "--ttl", "7d"]);
 * ```
 */
export const command: Command = sinkCommand({
  name: "cassandra",
  summary: "store events in Apache Cassandra, in time-bucketed partitions per event type",
  flags: CASSANDRA_FLAGS,
  epilog: EPILOG,
  makeBackend: (values) => CassandraBackend.open(cassandraConfigFromFlags(values)),
});

if (import.meta.main) await runCommand(() => command.main(Deno.args));
