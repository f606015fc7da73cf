/**
 * Aggregates in time buckets, like Square's Cube: counts, sums, averages,
 * extremes and exact percentiles of a field per bucket, optionally broken down
 * by the top values of another field.
 *
 * Buckets start at UTC epoch multiples of their width, so a 1h bucket runs from
 * one full hour to the next and a 1d bucket from midnight UTC.
 *
 * Percentiles are exact, by the nearest-rank method: of the n numeric values of a
 * bucket sorted ascending, pP is the value at 1-based rank ceil(P/100 × n), and
 * p0 is the smallest. Every reported percentile is a value that occurred.
 *
 * @module
 */
import { UsageError } from "@eventstorm/core/cli";
import {
  type EventFilter,
  filterSql,
  groupSql,
  isValidField,
  SqlBuilder,
  toMillis,
} from "./filter.ts";
import type { StatementSync } from "node:sqlite";
import type { EventStore } from "./store.ts";

/** What to compute per bucket. `label` names the value in results (`p95:latency`). */
export type Measure =
  | { kind: "count"; label: string }
  | { kind: "sum" | "avg" | "min" | "max"; field: string; label: string }
  | { kind: "percentile"; field: string; percentile: number; label: string };

/** A group key of a breakdown: the field's string, number, `"true"`/`"false"`, or null when absent. */
export type GroupValue = string | number | null;

/** Options of {@linkcode aggregate}. */
export interface AggregateOptions extends EventFilter {
  /** Bucket width in milliseconds. */
  every: number;
  /** Measures, as objects or as `--measure` text (`count`, `sum:bytes`, `p99.9:latency`). Default `count`. */
  measures?: readonly (Measure | string)[];
  /** Field to break each bucket down by. */
  by?: string;
  /** How many groups a breakdown keeps: those with the most events over the whole range. Default 10. */
  top?: number;
  /**
   * Whether to report empty buckets between `since` and `until` (or `now`), with
   * count and sums 0 and other measures null. Default: when `since` is given.
   * Skipped when it would mean more than 100,000 rows.
   */
  fill?: boolean;
  /** End of the range when `until` is not given, for filling. Default: now. */
  now?: Date | number;
}

/** One bucket (of one group, in a breakdown). */
export interface AggregateRow {
  /** Start of the bucket. */
  time: Date;
  /** The group this row is about; absent without a breakdown. */
  group?: GroupValue;
  /**
   * Value of each measure by label; null when the bucket has no numeric value for
   * it. `min`, `max` and percentiles are values as stored: an integer past ±2^53
   * (an int64) is a bigint, exact.
   */
  values: Record<string, number | bigint | null>;
}

/** What {@linkcode aggregate} returns. */
export interface AggregateResult {
  /** Bucket width in milliseconds. */
  every: number;
  /** Measure labels, in the order asked. */
  measures: string[];
  /** The breakdown field, when there is one. */
  by?: string;
  /** Groups kept by the breakdown, most events first. */
  groups?: GroupValue[];
  /** Rows by bucket time, then by group rank. */
  rows: AggregateRow[];
}

const MAX_FILLED_ROWS = 100_000;

/**
 * Parses one `--measure`: `count`, `sum:FIELD`, `avg:FIELD`, `min:FIELD`,
 * `max:FIELD` or a percentile `pNN:FIELD` / `pNN.N:FIELD` (0 to 100). Throws
 * {@linkcode UsageError} otherwise.
 *
 * @example
 * ```ts
 * import { parseMeasure } from "@eventstorm/sink-store";
 * parseMeasure("p99.9:latency"); // { kind: "percentile", field: "latency", percentile: 99.9, label: "p99.9:latency" }
 * ```
 */
export function parseMeasure(text: string): Measure {
  const trimmed = text.trim();
  if (trimmed === "count") return { kind: "count", label: "count" };
  const match = trimmed.match(/^([a-z]+|p\d+(?:\.\d+)?):(.*)$/);
  const shape = "must be count, sum:FIELD, avg:FIELD, min:FIELD, max:FIELD or pNN:FIELD";
  if (!match) throw new UsageError(`--measure '${text}' ${shape}`);
  const [, name, field] = match;
  if (!isValidField(field)) {
    throw new UsageError(
      `--measure '${text}': field name must be letters, digits, '_', '.' or '-'`,
    );
  }
  if (field === "type" || field === "host") {
    throw new UsageError(`--measure '${text}': ${field} is not a number`);
  }
  if (name === "sum" || name === "avg" || name === "min" || name === "max") {
    return { kind: name, field, label: `${name}:${field}` };
  }
  if (/^p\d/.test(name)) {
    const percentile = Number(name.slice(1));
    if (!(percentile >= 0 && percentile <= 100)) {
      throw new UsageError(`--measure '${text}': a percentile is from p0 to p100`);
    }
    return { kind: "percentile", field, percentile, label: `${name}:${field}` };
  }
  throw new UsageError(`--measure '${text}' ${shape}`);
}

/**
 * The nearest-rank percentile of values sorted ascending: the value at 1-based
 * rank ceil(p/100 × n), the smallest for p0; null for no values.
 *
 * @example
 * ```ts
 * import { nearestRank } from "@eventstorm/sink-store";
 * nearestRank([15, 20, 35, 40, 50], 40); // 20
 * ```
 */
export function nearestRank<T extends number | bigint>(
  sorted: ArrayLike<T>,
  percentile: number,
): T | null {
  const n = sorted.length;
  if (n === 0) return null;
  // The small slack keeps float error in p × n from pushing an exact rank up by one.
  const rank = Math.ceil((percentile * n) / 100 - 1e-9);
  return sorted[Math.min(n, Math.max(1, rank)) - 1];
}

function toMeasure(measure: Measure | string): Measure {
  if (typeof measure !== "string") return measure;
  try {
    return parseMeasure(measure);
  } catch (error) {
    throw new RangeError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Computes measures per time bucket (and per group with `by`) over the events of
 * a filter; plain data, ready to chart. Throws `RangeError` for bad options.
 *
 * @example
 * ```ts
 * import { aggregate, EventStore } from "@eventstorm/sink-store";
 * const store = EventStore.open(":memory:");
 * store.insertBatch([{ type: "http.hit", time: new Date(), host: "web1", latency: 12 }]);
 * const result = aggregate(store, {
 *   type: "http.hit",
 *   since: new Date(Date.now() - 3_600_000),
 *   every: 60_000,
 *   measures: ["count", "p95:latency"],
 *   by: "host",
 * });
 * console.log(result.rows.length); // 60 or 61 minutes, each for web1
 * ```
 */
export function aggregate(store: EventStore, options: AggregateOptions): AggregateResult {
  const every = options.every;
  if (!Number.isInteger(every) || every < 1) {
    throw new RangeError(`bucket width must be a whole number of milliseconds, got ${every}`);
  }
  const measures = (options.measures?.length ? options.measures : ["count"]).map(toMeasure);
  const labels = measures.map((measure) => measure.label);
  if (new Set(labels).size !== labels.length) throw new RangeError("a measure is asked twice");
  const top = options.top ?? 10;
  if (!Number.isInteger(top) || top < 1) throw new RangeError(`top must be at least 1, got ${top}`);
  const db = store.database;

  // Groups are ranked first, so that every later query can keep only the top ones.
  let groups: GroupValue[] | undefined;
  if (options.by !== undefined) {
    const sql = new SqlBuilder();
    const group = groupSql(options.by, sql);
    const where = filterSql(options, sql);
    const rows = db.prepare(
      `SELECT ${group} AS g, count(*) AS c FROM events WHERE ${where} ` +
        `GROUP BY g ORDER BY c DESC, g LIMIT ${sql.bind(top)}`,
    ).all(...sql.params) as { g: GroupValue }[];
    groups = rows.map((row) => row.g);
  }
  const rank = new Map<GroupValue, number>((groups ?? []).map((g, i) => [g, i]));

  // Rows are kept by bucket start and group rank; `-1` stands for "no breakdown".
  const rows = new Map<string, AggregateRow & { rank: number }>();
  const rowFor = (bucket: number, group: GroupValue | undefined) => {
    const groupRank = group === undefined ? -1 : rank.get(group);
    if (groupRank === undefined) return undefined;
    const key = `${bucket}/${groupRank}`;
    let row = rows.get(key);
    if (row === undefined) {
      const values: Record<string, number | bigint | null> = {};
      for (const measure of measures) {
        values[measure.label] = measure.kind === "count" || measure.kind === "sum" ? 0 : null;
      }
      row = group === undefined
        ? { time: new Date(bucket), values, rank: groupRank }
        : { time: new Date(bucket), group, values, rank: groupRank };
      rows.set(key, row);
    }
    return row;
  };

  if (groups === undefined || groups.length > 0) {
    const fields = [...new Set(measures.flatMap((m) => m.kind === "count" ? [] : [m.field]))];
    const sql = new SqlBuilder();
    const width = sql.bind(every);
    const group = options.by === undefined ? undefined : groupSql(options.by, sql);
    let where = filterSql(options, sql);
    if (group !== undefined) where += ` AND ${inGroups(groups!, sql, options.by!)}`;
    // Each field is read out of the JSON once per event: LIMIT on both levels keeps
    // SQLite from flattening the subquery, which would repeat the extraction.
    const inner = `SELECT (time - ((time % ${width}) + ${width}) % ${width}) AS b` +
      (group === undefined ? "" : `, ${group} AS g`) +
      fields.map((field, i) => `, ${rawSql(field, sql)} AS v${i}`).join("") +
      ` FROM events WHERE ${where} LIMIT -1`;
    const keys = group === undefined ? "b" : "b, g";
    const keyCount = group === undefined ? 1 : 2;
    const fieldIndex = (measure: Measure) => fields.indexOf((measure as { field: string }).field);

    if (!measures.some((measure) => measure.kind === "percentile")) {
      // Without percentiles SQLite does all the work, and a count alone never reads the JSON.
      const select = measures.map((measure) => {
        if (measure.kind === "count") return "count(*)";
        const fn = measure.kind === "sum" ? "total" : measure.kind;
        return `${fn}(${numberSql(`v${fieldIndex(measure)}`)})`;
      });
      const statement = db.prepare(
        `SELECT ${keys}, ${select.join(", ")} FROM (${inner}) GROUP BY ${keys} LIMIT -1`,
      );
      // min and max of integers are INTEGER, all 64 bits: read as bigints, kept past 2^53.
      readBigInts(statement);
      for (const record of iterateArrays(statement, sql.params)) {
        const row = rowFor(
          Number(record[0]),
          group === undefined ? undefined : record[1] as GroupValue,
        );
        if (row === undefined) continue;
        for (const [i, measure] of measures.entries()) {
          row.values[measure.label] = exactNumber(record[keyCount + i] as number | bigint | null);
        }
      }
    } else {
      // Percentiles need every value, so each bucket's values are gathered here.
      const wanted = fields.map((_, i) =>
        measures.some((measure) => measure.kind === "percentile" && fieldIndex(measure) === i)
      );
      const statement = db.prepare(
        `SELECT ${keys}${
          fields.map((_, i) => `, ${numberSql(`v${i}`)}`).join("")
        } FROM (${inner}) LIMIT -1`,
      );
      readBigInts(statement);
      type Bucket = { count: number; fields: FieldStats[] };
      const stats = new Map<AggregateRow, Bucket>();
      // Events come in time order per type, so the bucket of the last event is the likely one.
      let lastTime: unknown, lastGroup: unknown, bucket: Bucket | undefined;
      for (const record of iterateArrays(statement, sql.params)) {
        const groupValue = group === undefined ? undefined : record[1] as GroupValue;
        if (bucket === undefined || record[0] !== lastTime || groupValue !== lastGroup) {
          const row = rowFor(Number(record[0]), groupValue);
          if (row === undefined) {
            bucket = undefined;
            continue;
          }
          lastTime = record[0];
          lastGroup = groupValue;
          bucket = stats.get(row);
          if (bucket === undefined) {
            bucket = { count: 0, fields: fields.map((_, i) => newStats(wanted[i])) };
            stats.set(row, bucket);
          }
        }
        bucket.count++;
        for (let i = 0; i < fields.length; i++) {
          const value = record[keyCount + i];
          if (typeof value === "number" || typeof value === "bigint") {
            addValue(bucket.fields[i], value);
          }
        }
      }
      for (const [row, bucket] of stats) {
        for (const measure of measures) {
          row.values[measure.label] = measure.kind === "count"
            ? bucket.count
            : finalValue(measure, bucket.fields[fieldIndex(measure)]);
        }
      }
    }
  }

  if (options.fill ?? options.since !== undefined) {
    fillEmpty(options, every, groups, rowFor, rows.size);
  }

  const sorted = [...rows.values()].sort((a, b) =>
    a.time.getTime() - b.time.getTime() || a.rank - b.rank
  );
  const result: AggregateResult = {
    every,
    measures: labels,
    rows: sorted.map(({ rank: _rank, ...row }) => row),
  };
  if (options.by !== undefined) {
    result.by = options.by;
    result.groups = groups;
  }
  return result;
}

/** Rows as arrays in column order: no object per row, and no clash between column names. */
function iterateArrays(
  statement: StatementSync,
  params: readonly (string | number | bigint | null)[],
): Iterable<unknown[]> {
  const withArrays = statement as StatementSync & { setReturnArrays?: (on: boolean) => void };
  if (typeof withArrays.setReturnArrays === "function") {
    withArrays.setReturnArrays(true);
    return statement.iterate(...params) as Iterable<unknown[]>;
  }
  return (function* () {
    for (const row of statement.iterate(...params)) yield Object.values(row as object);
  })();
}

/** A measure other than count, from the figures of its field in one bucket. */
function finalValue(
  measure: Exclude<Measure, { kind: "count" }>,
  field: FieldStats,
): number | bigint | null {
  if (measure.kind === "sum") return field.sum;
  if (field.n === 0) return null;
  switch (measure.kind) {
    case "avg":
      return field.sum / field.n;
    case "min":
      return exactNumber(field.min);
    case "max":
      return exactNumber(field.max);
    case "percentile":
      // `<` compares a bigint and a number exactly.
      field.values!.sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
      return exactNumber(nearestRank(field.values!, measure.percentile));
  }
}

/** An integer read as a bigint, as a number when that is exact (within ±2^53). */
function exactNumber(value: number | bigint | null): number | bigint | null {
  if (typeof value !== "bigint") return value;
  return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Has `statement` read every INTEGER as a bigint (node:sqlite throws for one past 2^53). */
function readBigInts(statement: StatementSync): void {
  statement.setReadBigInts(true);
}

/** Running figures of one field in one bucket. */
interface FieldStats {
  n: number;
  sum: number;
  min: number | bigint;
  max: number | bigint;
  /** Every value, kept only for fields with a percentile. */
  values: (number | bigint)[] | undefined;
}

function newStats(keepValues: boolean): FieldStats {
  return { n: 0, sum: 0, min: Infinity, max: -Infinity, values: keepValues ? [] : undefined };
}

function addValue(stats: FieldStats, value: number | bigint): void {
  stats.n++;
  stats.sum += Number(value);
  if (value < stats.min) stats.min = value;
  if (value > stats.max) stats.max = value;
  stats.values?.push(value);
}

/** SQL reading a field as stored: the JSON value (objects as JSON text) or the envelope column. */
function rawSql(field: string, sql: SqlBuilder): string {
  if (!isValidField(field)) throw new RangeError(`invalid field name '${field}'`);
  if (field === "time") return "time";
  if (field === "type" || field === "host") return "NULL";
  return `json_extract(data, ${sql.bind(`$."${field}"`)})`;
}

/**
 * SQL turning a value read by {@linkcode rawSql} into a number, or NULL when it
 * is not one; a 64-bit integer stored as `{"$numberLong": …}` is a number.
 * Integers stay INTEGER, exact (min and max of int64 past 2^53 included); sum
 * and avg are REAL as SQLite's total() and avg() make them.
 */
function numberSql(column: string): string {
  return `(CASE WHEN typeof(${column}) IN ('integer', 'real') THEN ${column} ` +
    `WHEN typeof(${column}) = 'text' AND substr(${column}, 1, 15) = '{"$numberLong":' ` +
    `AND json_valid(${column}) THEN CAST(json_extract(${column}, '$."$numberLong"') AS INTEGER) END)`;
}

/** Condition keeping only the ranked groups; NULL (field absent) is a group too. */
function inGroups(groups: readonly GroupValue[], sql: SqlBuilder, by: string): string {
  const present = groups.filter((g) => g !== null);
  const parts = [
    `${groupSql(by, sql)} IN (SELECT value FROM json_each(${sql.bind(JSON.stringify(present))}))`,
  ];
  if (present.length !== groups.length) parts.push(`${groupSql(by, sql)} IS NULL`);
  return `(${parts.join(" OR ")})`;
}

function fillEmpty(
  options: AggregateOptions,
  every: number,
  groups: readonly GroupValue[] | undefined,
  rowFor: (bucket: number, group: GroupValue | undefined) => unknown,
  existing: number,
): void {
  if (options.since === undefined) return;
  const since = toMillis(options.since);
  const until = toMillis(options.until ?? options.now ?? Date.now());
  if (until <= since) return;
  const first = since - (((since % every) + every) % every);
  const buckets = Math.ceil((until - first) / every);
  const perBucket = groups === undefined ? 1 : groups.length;
  if (buckets * perBucket + existing > MAX_FILLED_ROWS || perBucket === 0) return;
  for (let bucket = first; bucket < until; bucket += every) {
    if (groups === undefined) rowFor(bucket, undefined);
    else for (const group of groups) rowFor(bucket, group);
  }
}
