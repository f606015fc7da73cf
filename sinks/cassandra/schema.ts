/**
 * The Cassandra table of the sink and how an event becomes a row of it.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import { toJsonLine } from "@eventstorm/core/protocol";

/**
 * Partition width: one partition per type and hour, or per type and day.
 *
 * @example
 * ```ts
 * import type { Bucket } from "@eventstorm/sink-cassandra";
 * const bucket: Bucket = "day";
 * ```
 */
export type Bucket = "hour" | "day";

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

/**
 * The partition bucket of `time` in UTC: `2026-11-23T18` by hour, `2026-11-23` by day.
 *
 * @example
 * ```ts
 * import { bucketOf } from "@eventstorm/sink-cassandra";
 * bucketOf(new Date("2026-11-23T18:42:07Z"), "hour"); // "2026-11-23T18"
 * bucketOf(new Date("2026-11-23T18:42:07Z"), "day"); // "2026-11-23"
 * ```
 */
export function bucketOf(time: Date, bucket: Bucket): string {
  const year = time.getUTCFullYear();
  // ISO 8601 expanded years keep buckets of the far past and future apart and sortable.
  const yearText = year >= 0 && year <= 9999
    ? pad(year, 4)
    : (year < 0 ? "-" : "+") + pad(Math.abs(year), 6);
  const day = `${yearText}-${pad(time.getUTCMonth() + 1, 2)}-${pad(time.getUTCDate(), 2)}`;
  return bucket === "day" ? day : `${day}T${pad(time.getUTCHours(), 2)}`;
}

/**
 * The `id` column of an event: its `_id` as text (strings as they are, ObjectIds as
 * hex, anything else as Extended JSON).
 *
 * @example
 * ```ts
 * import { idText } from "@eventstorm/sink-cassandra";
 * idText("ff-http.hit-7"); // "ff-http.hit-7"
 * idText(42); // "42"
 * ```
 */
export function idText(id: unknown): string {
  if (typeof id === "string") return id;
  if (typeof id === "number" || typeof id === "bigint") return String(id);
  const hex = (id as { toHexString?: () => string })?.toHexString;
  if (typeof hex === "function") return hex.call(id);
  return toJsonLine({ id }).slice(6, -1);
}

/** Names of the keyspace and table. */
export interface TableName {
  /** Keyspace. */
  keyspace: string;
  /** Table. */
  table: string;
}

/**
 * Keyspace and table names we accept: CQL identifiers, quoted so case is kept.
 *
 * @example
 * ```ts
 * import { IDENTIFIER } from "@eventstorm/sink-cassandra";
 * IDENTIFIER.test("events_2026"); // true
 * ```
 */
export const IDENTIFIER: RegExp = /^[A-Za-z0-9_]{1,48}$/;

function qualified({ keyspace, table }: TableName): string {
  return `"${keyspace}"."${table}"`;
}

/**
 * CQL that creates the keyspace when it is missing.
 *
 * @example
 * ```ts
 * import { createKeyspaceCql } from "@eventstorm/sink-cassandra";
 * createKeyspaceCql("eventstorm", "{'class': 'SimpleStrategy', 'replication_factor': 1}");
 * ```
 */
export function createKeyspaceCql(keyspace: string, replication: string): string {
  return `CREATE KEYSPACE IF NOT EXISTS "${keyspace}" WITH replication = ${replication}`;
}

/**
 * CQL that creates the events table when it is missing: partitioned by
 * `(type, bucket)`, clustered by `(time, id)`.
 *
 * @example
 * ```ts
 * import { createTableCql } from "@eventstorm/sink-cassandra";
 * createTableCql({ keyspace: "eventstorm", table: "events" });
 * ```
 */
export function createTableCql(name: TableName): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified(name)} (
  type text,
  bucket text,
  time timestamp,
  id text,
  host text,
  event text,
  PRIMARY KEY ((type, bucket), time, id)
) WITH CLUSTERING ORDER BY (time ASC, id ASC)`;
}

/**
 * The prepared insert; with `ttl`, rows expire that many seconds after they are written.
 *
 * @example
 * ```ts
 * import { insertCql } from "@eventstorm/sink-cassandra";
 * insertCql({ keyspace: "eventstorm", table: "events" }, 86400);
 * ```
 */
export function insertCql(name: TableName, ttlSeconds?: number): string {
  return `INSERT INTO ${qualified(name)} (type, bucket, time, id, host, event) ` +
    `VALUES (?, ?, ?, ?, ?, ?)${ttlSeconds === undefined ? "" : ` USING TTL ${ttlSeconds}`}`;
}

/**
 * Values of one row, in the order of {@linkcode insertCql}.
 *
 * @example
 * ```ts
 * import type { RowValues } from "@eventstorm/sink-cassandra";
 * const row: RowValues = ["x", "1970-01-01T00", new Date(0), "id", "h", "{}"];
 * ```
 */
export type RowValues = [string, string, Date, string, string, string];

/**
 * The row of an event: type, bucket, time, id, host and the whole event as one line
 * of Extended JSON.
 *
 * @example
 * ```ts
 * import { rowOf } from "@eventstorm/sink-cassandra";
 * rowOf({ type: "x", time: new Date(0), host: "h", _id: "a-x-0" }, "hour")[1]; // "1970-01-01T00"
 * ```
 */
export function rowOf(event: Event, bucket: Bucket): RowValues {
  return [
    event.type,
    bucketOf(event.time, bucket),
    event.time,
    idText(event._id),
    event.host,
    toJsonLine(event),
  ];
}

/**
 * Table of the sinks' stream positions in `keyspace` (docs/stored.md), shared by
 * every events table there: one partition per events table, one row per stream.
 * `next`: every event below it is stored; `upto`: none at or above it is (events
 * in between may be, after a crash: the sink checks their rows); `pending`: where
 * the rows between them go, as JSON `[[type, bucket, first ms, last ms], ...]`;
 * `gaps`: ranges below `next` neither stored nor counted yet, as JSON
 * `[from, to, ...]` (see `StreamPosition.gaps`), null for none.
 *
 * @example
 * ```ts
 * import { STREAMS_TABLE } from "@eventstorm/sink-cassandra";
 * STREAMS_TABLE; // "stream_positions"
 * ```
 */
export const STREAMS_TABLE = "stream_positions";

/**
 * CQL of the stream positions: create (and add `pending` and `gaps` to a table
 * made before them), read one events table's, save `upto` with `pending`, save `next`, check
 * that an event's row exists, and list the ids of a partition's time range.
 *
 * @example
 * ```ts
 * import { streamsCql } from "@eventstorm/sink-cassandra";
 * streamsCql({ keyspace: "eventstorm", table: "events" }).select;
 * ```
 */
export function streamsCql(name: TableName): {
  create: string;
  addPending: string;
  addGaps: string;
  select: string;
  saveUpto: string;
  savePending: string;
  saveNext: string;
  exists: string;
  idsBetween: string;
} {
  const streams = qualified({ keyspace: name.keyspace, table: STREAMS_TABLE });
  return {
    create: `CREATE TABLE IF NOT EXISTS ${streams} (
  events_table text,
  source text,
  topic text,
  next bigint,
  upto bigint,
  pending text,
  gaps text,
  at timestamp,
  PRIMARY KEY ((events_table), source, topic)
)`,
    addPending: `ALTER TABLE ${streams} ADD pending text`,
    addGaps: `ALTER TABLE ${streams} ADD gaps text`,
    select:
      `SELECT source, topic, next, upto, pending, gaps, at FROM ${streams} WHERE events_table = ?`,
    saveUpto:
      `UPDATE ${streams} SET upto = ?, pending = ? WHERE events_table = ? AND source = ? AND topic = ?`,
    savePending:
      `UPDATE ${streams} SET pending = ? WHERE events_table = ? AND source = ? AND topic = ?`,
    saveNext:
      `UPDATE ${streams} SET next = ?, at = ?, gaps = ? WHERE events_table = ? AND source = ? AND topic = ?`,
    exists: `SELECT id FROM ${
      qualified(name)
    } WHERE type = ? AND bucket = ? AND time = ? AND id = ?`,
    idsBetween: `SELECT id FROM ${
      qualified(name)
    } WHERE type = ? AND bucket = ? AND time >= ? AND time <= ?`,
  };
}
