/**
 * Which events a query or an aggregate looks at: a type prefix, a time range and
 * field conditions, turned into parameterised SQL over the store's layout.
 *
 * @module
 */
import { parseDuration, UsageError } from "@eventstorm/core/cli";

/** Comparison of a `where` condition. */
export type WhereOperator = "=" | "!=" | ">" | "<" | ">=" | "<=";

/**
 * One field condition. Ordering operators compare numbers. `=` and `!=` with a
 * string value compare strings, and also match the number, boolean or null the
 * text spells (`status=200` matches both `200` and `"200"`); with a number,
 * boolean or null value they match that JSON value only. `!=` matches events
 * that have the field with another value.
 */
export interface WhereClause {
  /** Field name: `type`, `host`, `time` (epoch ms or ISO date) or an event field. */
  field: string;
  /** The comparison. */
  op: WhereOperator;
  /** What the field is compared with. */
  value: string | number | boolean | null;
}

/** Which events to look at. */
export interface EventFilter {
  /** Type prefix, matched like a ZeroMQ topic (`http.` matches `http.hit`). */
  type?: string;
  /** Earliest event time, inclusive. */
  since?: Date | number;
  /** Latest event time, exclusive. */
  until?: Date | number;
  /** Conditions that must all hold. */
  where?: readonly WhereClause[];
}

const FIELD_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const TYPE_PREFIX_PATTERN = /^[a-z0-9_.-]*$/;
const NUMBER_PATTERN = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const ORDERING = new Set<WhereOperator>([">", "<", ">=", "<="]);

/**
 * Whether `name` can be used as a field in a query: letters, digits, `_`, `.`
 * and `-`, not starting with a digit. Names are matched as one flat key.
 *
 * @example
 * ```ts
 * import { isValidField } from "@eventstorm/sink-store";
 * isValidField("status"); // true
 * isValidField("a'); DROP TABLE events; --"); // false
 * ```
 */
export function isValidField(name: string): boolean {
  return FIELD_PATTERN.test(name);
}

/**
 * Parses `FIELD=VALUE` (or `!=`, `>`, `<`, `>=`, `<=`) as given to `--where`.
 * Throws {@linkcode UsageError} for a bad field name, a missing operator or an
 * ordering comparison with something other than a number.
 *
 * @example
 * ```ts
 * import { parseWhere } from "@eventstorm/sink-store";
 * parseWhere("status>=500"); // { field: "status", op: ">=", value: "500" }
 * ```
 */
export function parseWhere(text: string): WhereClause {
  const match = text.match(/^([^<>=!]*)(>=|<=|!=|=|>|<)(.*)$/s);
  if (!match) {
    throw new UsageError(`--where '${text}' must look like FIELD=VALUE (or !=, >, <, >=, <=)`);
  }
  const field = match[1].trim();
  const op = match[2] as WhereOperator;
  const value = match[3];
  if (!isValidField(field)) {
    throw new UsageError(
      `--where '${text}': field name must be letters, digits, '_', '.' or '-', got '${field}'`,
    );
  }
  if (ORDERING.has(op) && field !== "time" && !NUMBER_PATTERN.test(value.trim())) {
    throw new UsageError(`--where '${text}': ${op} compares numbers, got '${value}'`);
  }
  if (ORDERING.has(op) && field !== "time" && !Number.isFinite(Number(value))) {
    throw new UsageError(`--where '${text}': ${value.trim()} is beyond the range of numbers`);
  }
  if (ORDERING.has(op) && (field === "type" || field === "host")) {
    throw new UsageError(`--where '${text}': ${field} is a string, use = or !=`);
  }
  if (field === "time") parseTimeValue(value, `--where '${text}'`);
  return { field, op, value };
}

/**
 * Parses a `--since`/`--until` value: a duration back from `now` (`1h`), `now`,
 * or an ISO 8601 date (`2026-01-01`, `2026-01-01T10:00:00Z`). Throws
 * {@linkcode UsageError} naming the flag otherwise.
 *
 * @example
 * ```ts
 * import { parseTimeBound } from "@eventstorm/sink-store";
 * const now = new Date("2026-01-01T12:00:00Z");
 * parseTimeBound("1h", { now }).toISOString(); // "2026-01-01T11:00:00.000Z"
 * ```
 */
export function parseTimeBound(text: string, options: { now?: Date; flag?: string } = {}): Date {
  const now = options.now ?? new Date();
  const trimmed = text.trim();
  if (trimmed === "now") return new Date(now.getTime());
  if (/^\d+(\.\d+)?\s*(ms|s|m|h|d|w)$/.test(trimmed)) {
    return new Date(now.getTime() - parseDuration(trimmed, options.flag, { span: true }));
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const ms = Date.parse(trimmed);
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  const where = options.flag ? `--${options.flag} ` : "";
  throw new UsageError(
    `${where}must be a duration back from now like 1h, 'now' or an ISO date like 2026-01-31T12:00:00Z, got '${text}'`,
  );
}

/** Epoch milliseconds from a `time` condition value (ms number or ISO date). */
function parseTimeValue(value: string | number | boolean | null, what: string): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const trimmed = value.trim();
    if (/^\d+$/.test(trimmed)) return Number(trimmed);
    if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
      const ms = Date.parse(trimmed);
      if (!Number.isNaN(ms)) return ms;
    }
  }
  throw new UsageError(`${what}: time must be epoch milliseconds or an ISO date, got '${value}'`);
}

/**
 * Parameters of a statement being built. Placeholders are numbered (`?3`), so
 * pieces of SQL may be assembled in any order without mismatching their values.
 */
export class SqlBuilder {
  /** Parameters by placeholder number minus one. */
  readonly params: (string | number | bigint | null)[] = [];

  /** Adds one parameter, returning its placeholder. */
  bind(value: string | number | bigint | null): string {
    this.params.push(value);
    return `?${this.params.length}`;
  }
}

/** JSON path of a flat field: the whole name is one key, dots included. */
function jsonPath(field: string): string {
  return `$."${field}"`;
}

function checkField(field: string): void {
  if (!isValidField(field)) {
    throw new RangeError(`invalid field name '${field}'`);
  }
}

/**
 * SQL for the numeric value of a field, or NULL when it is not a number; 64-bit
 * integers stored as `{"$numberLong": …}` count as numbers. Integers stay
 * INTEGER (exact, all 64 bits: SQLite compares two integers exactly, and an
 * integer with a real by value), doubles REAL.
 */
export function numericSql(field: string, sql: SqlBuilder): string {
  checkField(field);
  if (field === "time") return "time";
  if (field === "type" || field === "host") return "NULL";
  const path = jsonPath(field);
  return `(CASE json_type(data, ${sql.bind(path)}) ` +
    `WHEN 'integer' THEN json_extract(data, ${sql.bind(path)}) ` +
    `WHEN 'real' THEN json_extract(data, ${sql.bind(path)}) ` +
    `WHEN 'object' THEN CAST(json_extract(data, ${
      sql.bind(`${path}."$numberLong"`)
    }) AS INTEGER) END)`;
}

const INTEGER_PATTERN = /^[-+]?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A condition's number as bound to SQL: an integer literal within int64 as a
 * bigint (an exact INTEGER, also past 2^53), anything else as a number.
 *
 * @example
 * ```ts
 * import { numberLiteral } from "./filter.ts";
 * numberLiteral("9007199254740993"); // 9007199254740993n
 * numberLiteral("2.5"); // 2.5
 * ```
 */
export function numberLiteral(text: string): number | bigint {
  const trimmed = text.trim();
  if (INTEGER_PATTERN.test(trimmed)) {
    const exact = BigInt(trimmed);
    if (exact >= INT64_MIN && exact <= INT64_MAX) return exact;
  }
  return Number(trimmed);
}

/**
 * SQL for a field's value as a group key: strings as they are, numbers as REAL,
 * booleans as `'true'`/`'false'`, other values as their JSON text, NULL when absent.
 */
export function groupSql(field: string, sql: SqlBuilder): string {
  checkField(field);
  if (field === "type" || field === "host") return field;
  if (field === "time") throw new RangeError("cannot group by time; use buckets (every) instead");
  const path = jsonPath(field);
  return `(CASE json_type(data, ${sql.bind(path)}) ` +
    `WHEN 'integer' THEN CAST(json_extract(data, ${sql.bind(path)}) AS REAL) ` +
    `WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ` +
    `ELSE json_extract(data, ${sql.bind(path)}) END)`;
}

function whereSql(clause: WhereClause, sql: SqlBuilder): string {
  const { field, op, value } = clause;
  checkField(field);
  if (!["=", "!=", ">", "<", ">=", "<="].includes(op)) {
    throw new RangeError(`invalid operator '${op}'`);
  }
  if (field === "time") {
    return `time ${op} ${sql.bind(parseTimeValue(value, `where ${field}${op}${value}`))}`;
  }
  if (ORDERING.has(op)) {
    const number = typeof value === "number"
      ? value
      : typeof value === "string" && NUMBER_PATTERN.test(value.trim())
      ? numberLiteral(value)
      : NaN;
    if (
      (typeof number === "number" && !Number.isFinite(number)) || field === "type" ||
      field === "host"
    ) {
      throw new RangeError(`where ${field}${op}${value}: ${op} compares numbers`);
    }
    return `${numericSql(field, sql)} ${op} ${sql.bind(number)}`;
  }
  const equal = equalitySql(field, value, sql);
  if (op === "=") return equal;
  const present = field === "type" || field === "host"
    ? "1"
    : `json_type(data, ${sql.bind(jsonPath(field))}) IS NOT NULL`;
  return `(${present} AND NOT coalesce(${equal}, 0))`;
}

function equalitySql(
  field: string,
  value: string | number | boolean | null,
  sql: SqlBuilder,
): string {
  if (field === "type" || field === "host") {
    return `${field} = ${sql.bind(value === null ? "null" : String(value))}`;
  }
  const path = jsonPath(field);
  const jsonType = () => `json_type(data, ${sql.bind(path)})`;
  if (typeof value === "number") return `${numericSql(field, sql)} = ${sql.bind(value)}`;
  if (typeof value === "boolean") return `${jsonType()} = '${value}'`;
  if (value === null) return `${jsonType()} = 'null'`;
  const alternatives = [
    `(${jsonType()} = 'text' AND json_extract(data, ${sql.bind(path)}) = ${sql.bind(value)})`,
  ];
  if (NUMBER_PATTERN.test(value.trim())) {
    alternatives.push(`${numericSql(field, sql)} = ${sql.bind(numberLiteral(value))}`);
  }
  if (value === "true" || value === "false" || value === "null") {
    alternatives.push(`${jsonType()} = ${sql.bind(value)}`);
  }
  return `(${alternatives.join(" OR ")})`;
}

/**
 * The WHERE condition (without the keyword) selecting the events of `filter`.
 * The type condition goes through the `types` table so that SQLite walks the
 * `(type, time)` index once per matching type instead of scanning the table.
 */
export function filterSql(filter: EventFilter, sql: SqlBuilder): string {
  const type = filter.type ?? "";
  if (!TYPE_PREFIX_PATTERN.test(type)) {
    throw new RangeError(`type prefix must be dotted lower-case, got '${type}'`);
  }
  const parts = [
    type === ""
      ? "type IN (SELECT type FROM types)"
      // Types are ASCII, so U+FFFF sorts after every type that starts with the prefix.
      : `type IN (SELECT type FROM types WHERE type >= ${sql.bind(type)} AND type < ${
        sql.bind(`${type}\uffff`)
      })`,
  ];
  if (filter.since !== undefined) parts.push(`time >= ${sql.bind(toMillis(filter.since))}`);
  if (filter.until !== undefined) parts.push(`time < ${sql.bind(toMillis(filter.until))}`);
  for (const clause of filter.where ?? []) parts.push(whereSql(clause, sql));
  return parts.join(" AND ");
}

/** Epoch milliseconds of a Date or a number. */
export function toMillis(value: Date | number): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (!Number.isFinite(ms)) throw new RangeError(`invalid time ${String(value)}`);
  return ms;
}
