/**
 * Reading events back out of a store.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import { setField } from "@eventstorm/core/internal";
import { decodeFields } from "@eventstorm/core/protocol";
import { type EventFilter, filterSql, SqlBuilder } from "./filter.ts";
import type { EventStore } from "./store.ts";

/** Options of {@linkcode queryEvents} and {@linkcode iterateEvents}. */
export interface QueryOptions extends EventFilter {
  /** At most this many events. */
  limit?: number;
  /** `asc` (default) gives the oldest first, `desc` the newest first. */
  order?: "asc" | "desc";
}

interface EventRow {
  type: string;
  time: number;
  host: string;
  data: string;
}

/**
 * The events of `options` one by one, decoded (dates as `Date`, 64-bit integers
 * as `bigint`, bson values as bson objects), in time order. Throws `RangeError`
 * for a bad field name, type prefix or comparison.
 *
 * @example
 * ```ts
 * import { EventStore, iterateEvents } from "@eventstorm/sink-store";
 * const store = EventStore.open(":memory:");
 * store.insertBatch([{ type: "http.hit", time: new Date(), host: "web1", status: 500 }]);
 * for (const event of iterateEvents(store, { type: "http.", where: [{ field: "status", op: ">=", value: 500 }] })) {
 *   console.log(event.status);
 * }
 * ```
 */
export function* iterateEvents(
  store: EventStore,
  options: QueryOptions = {},
): Generator<Event, void, undefined> {
  const sql = new SqlBuilder();
  const where = filterSql(options, sql);
  const order = options.order === "desc" ? "DESC" : "ASC";
  let text = `SELECT type, time, host, data FROM events WHERE ${where} ` +
    `ORDER BY time ${order}, seq ${order}`;
  if (options.limit !== undefined) {
    if (!Number.isInteger(options.limit) || options.limit < 0) {
      throw new RangeError(`limit must be a whole number, got ${options.limit}`);
    }
    text += ` LIMIT ${sql.bind(options.limit)}`;
  }
  const statement = store.database.prepare(text);
  for (const row of statement.iterate(...sql.params) as Iterable<EventRow>) {
    yield rowToEvent(row);
  }
}

/**
 * The events of `options` as an array; see {@linkcode iterateEvents}.
 *
 * @example
 * ```ts
 * import { EventStore, queryEvents } from "@eventstorm/sink-store";
 * const store = EventStore.open(":memory:");
 * store.insertBatch([{ type: "ssh.login", time: new Date(), host: "bastion", user: "root" }]);
 * queryEvents(store, { since: new Date(Date.now() - 3_600_000), limit: 10 });
 * ```
 */
export function queryEvents(store: EventStore, options: QueryOptions = {}): Event[] {
  return Array.from(iterateEvents(store, options));
}

function rowToEvent(row: EventRow): Event {
  const event: Event = { type: row.type, time: new Date(row.time), host: row.host };
  const fields = decodeFields(row.data);
  for (const key in fields) setField(event, key, fields[key]);
  return event;
}
