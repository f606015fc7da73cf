/**
 * The Cassandra sink: events from eventstorm into one Cassandra table partitioned
 * by `(type, bucket)` and clustered by `(time, id)`, with the whole event as
 * Extended JSON beside the envelope columns. The command is in `./main`
 * (`eventstorm sink cassandra`); README.md has the schema and CQL to query it.
 *
 * @example
 * ```ts ignore
 * import { CASSANDRA_DEFAULTS, CassandraBackend } from "@eventstorm/sink-cassandra";
 * import { SinkRunner } from "@eventstorm/core/sink";
 * const backend = await CassandraBackend.open({ ...CASSANDRA_DEFAULTS });
 * const runner = new SinkRunner(backend, { collector: { endpoints: ">tcp://127.0.0.1:5556" } });
 * await runner.run(AbortSignal.timeout(60_000));
 * ```
 *
 * @module
 */
export { CassandraBackend, type CassandraBackendOptions } from "./backend.ts";
export {
  CASSANDRA_DEFAULTS,
  CASSANDRA_FLAGS,
  cassandraConfigFromFlags,
  type CassandraSinkConfig,
  CONSISTENCIES,
  MAX_TTL_SECONDS,
} from "./config.ts";
export {
  type Bucket,
  bucketOf,
  createKeyspaceCql,
  createTableCql,
  IDENTIFIER,
  idText,
  insertCql,
  rowOf,
  type RowValues,
  STREAMS_TABLE,
  streamsCql,
  type TableName,
} from "./schema.ts";
