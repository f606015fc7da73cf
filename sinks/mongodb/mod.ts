/**
 * The MongoDB sink: events from eventstorm into MongoDB (or FerretDB), one
 * collection per type or one for all, idempotent by `_id`, with indexes on
 * `{type: 1, time: 1}`, TTL and optional time-series collections. The command is
 * in `./main` (`eventstorm sink mongodb`).
 *
 * @example
 * ```ts ignore
 * import { MongoBackend } from "@eventstorm/sink-mongodb";
 * import { SinkRunner } from "@eventstorm/core/sink";
 * const backend = await MongoBackend.open({
 *   url: "mongodb://127.0.0.1:27017", db: "eventstorm", timeseries: false, timeoutMs: 5000,
 * });
 * const runner = new SinkRunner(backend, { collector: { endpoints: ">tcp://127.0.0.1:5556" } });
 * await runner.run(AbortSignal.timeout(60_000));
 * ```
 *
 * @module
 */
export {
  MongoBackend,
  type MongoBackendOptions,
  STREAMS_COLLECTION,
  type TtlMode,
} from "./backend.ts";
export {
  mongoConfigFromFlags,
  MONGODB_DEFAULTS,
  MONGODB_FLAGS,
  type MongoSinkConfig,
  parseWriteConcern,
  type WriteConcernOption,
} from "./config.ts";
export {
  collectionForType,
  DOLLAR_REPLACEMENT,
  DOT_REPLACEMENT,
  safeDocument,
  safeKey,
} from "./keys.ts";
