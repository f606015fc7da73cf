/**
 * The embedded event store, eventstorm's default sink: events in one SQLite file
 * (through `node:sqlite`, built into Deno), with queries and Cube-like time-bucket
 * aggregates over it. `eventstorm query` is in `./query`.
 *
 * @example
 * ```ts
 * import { aggregate, EventStore, queryEvents } from "@eventstorm/sink-store";
 * const store = EventStore.open(":memory:", { retain: 30 * 86_400_000 });
 * store.insertBatch([
 *   { type: "http.hit", time: new Date(), host: "web1", status: 200, latency: 12 },
 *   { type: "http.hit", time: new Date(), host: "web2", status: 503, latency: 950 },
 * ]);
 * const errors = queryEvents(store, { type: "http.", where: [{ field: "status", op: ">=", value: 500 }] });
 * const lastHour = aggregate(store, {
 *   type: "http.hit",
 *   since: new Date(Date.now() - 3_600_000),
 *   every: 60_000,
 *   measures: ["count", "p95:latency"],
 * });
 * store.close();
 * ```
 *
 * @module
 */
export {
  DEFAULT_DB_PATH,
  EventStore,
  type EventStoreOptions,
  type InsertResult,
  type PreparedBatch,
} from "./store.ts";
export { iterateEvents, queryEvents, type QueryOptions } from "./query.ts";
export {
  aggregate,
  type AggregateOptions,
  type AggregateResult,
  type AggregateRow,
  type GroupValue,
  type Measure,
  nearestRank,
  parseMeasure,
} from "./aggregate.ts";
export {
  type EventFilter,
  isValidField,
  parseTimeBound,
  parseWhere,
  type WhereClause,
  type WhereOperator,
} from "./filter.ts";
export { checkSchema, ensureSchema, SCHEMA_VERSION } from "./schema.ts";
export { formatCell, formatTable } from "./table.ts";
export { StoreBackend, type StoreBackendOptions } from "./backend.ts";
export { StoreReader } from "./reader.ts";
export { STORE_FLAGS, type StoreConfig, storeConfigFromFlags } from "./config.ts";
