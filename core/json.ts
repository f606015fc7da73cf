/**
 * The one JSON dialect of eventstorm events (the file sink's `.jsonl`, the
 * store's and Cassandra's `data` columns, `tap`, `--print`, `emit`'s input):
 * MongoDB Extended JSON v2, plain JSON where JSON can say it, and
 * `{"$date": …}`, `{"$numberLong": …}`, `{"$oid": …}`, `{"$binary": …}` wrappers
 * where it cannot, so every BSON value an event carries comes back as it went in.
 *
 * Dates are written the relaxed way (`{"$date": "2026-01-01T00:00:00.000Z"}`) for
 * people reading the file; 64-bit integers always as `{"$numberLong": "…"}` so
 * that none loses precision. A nested object whose only key is one of these
 * wrapper names is read back as the wrapped value: that is the one ambiguity of
 * the format, and flat events never meet it.
 *
 * @module
 */
import { setField } from "./fields.ts";
import { MAX_NESTING, valueNestsDeeperThan } from "./bson_depth.ts";
import { EJSON } from "bson";

/** Envelope fields; the store keeps them in columns of their own. */
const ENVELOPE = new Set(["type", "time", "host"]);

/** Wrapper keys this format reads back into values. */
const WRAPPERS = new Set([
  "$date",
  "$numberLong",
  "$numberDouble",
  "$numberInt",
  "$numberDecimal",
  "$oid",
  "$binary",
  "$timestamp",
  "$regularExpression",
  "$minKey",
  "$maxKey",
  "$code",
  "$symbol",
  "$uuid",
]);

/**
 * Turns one value into its JSON-safe Extended JSON form.
 *
 * @example
 * ```ts
 * import { encodeValue } from "@eventstorm/core/protocol";
 * encodeValue(new Date(0)); // { $date: "1970-01-01T00:00:00.000Z" }
 * encodeValue(12n); // { $numberLong: "12" }
 * ```
 */
export function encodeValue(value: unknown): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      // -0 keeps its sign, written as relaxed Extended JSON does (JSON.stringify says 0).
      if (Object.is(value, -0)) return { $numberDouble: "-0.0" };
      return Number.isFinite(value) ? value : { $numberDouble: String(value) };
    case "bigint":
      return { $numberLong: value.toString() };
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return null;
  if (value instanceof Date) {
    const ms = value.getTime();
    return { $date: Number.isNaN(ms) ? null : value.toISOString() };
  }
  if (Array.isArray(value)) return value.map((item) => encodeValue(item) ?? null);
  if (value instanceof Uint8Array) {
    return { $binary: { base64: toBase64(value), subType: "00" } };
  }
  const bsonType = (value as { _bsontype?: unknown })._bsontype;
  if (bsonType === "Int32" || bsonType === "Double") {
    return encodeValue((value as { value: number }).value);
  }
  if (bsonType === "Long") return { $numberLong: String(value) };
  if (typeof bsonType === "string" || value instanceof RegExp) {
    try {
      return EJSON.serialize(value as Record<string, unknown>, { relaxed: false });
    } catch {
      // A value bson itself cannot express (a RegExp with the `g` flag) is kept readable.
      return String(value);
    }
  }
  const out: Record<string, unknown> = {};
  for (const key in value as Record<string, unknown>) {
    const encoded = encodeValue((value as Record<string, unknown>)[key]);
    if (encoded !== undefined) setField(out, key, encoded);
  }
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * The JSON text of an event's own fields, envelope (`type`, `time`, `host`) left
 * out: this is what the store keeps in its `data` column. Throws `TypeError` for
 * a value JSON cannot hold at all (a cycle).
 *
 * @example
 * ```ts
 * import { encodeFields } from "@eventstorm/core/protocol";
 * encodeFields({ type: "x", time: new Date(0), host: "h", n: 1, at: new Date(0) });
 * // '{"n":1,"at":{"$date":"1970-01-01T00:00:00.000Z"}}'
 * ```
 */
export function encodeFields(event: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  for (const key in event) {
    if (ENVELOPE.has(key)) continue;
    const value = event[key];
    // Most fields are strings and finite numbers; only the rest pay for a conversion.
    const type = typeof value;
    setField(
      out,
      key,
      type === "string" || (type === "number" && Number.isFinite(value) && value !== 0) ||
        type === "boolean" || value === null
        ? value
        : encodeValue(value),
    );
  }
  return JSON.stringify(out);
}

/**
 * Reads one Extended JSON value back: wrappers become Dates, bigints (for
 * `$numberLong`), numbers and bson values (`ObjectId`, `Binary`, `Decimal128`, …).
 * A wrapper that does not decode is returned as it is.
 *
 * @example
 * ```ts
 * import { decodeValue } from "@eventstorm/core/protocol";
 * decodeValue({ $date: "2026-01-01T00:00:00Z" }) instanceof Date; // true
 * decodeValue({ $numberLong: "9007199254740993" }); // 9007199254740993n
 * ```
 */
export function decodeValue(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(decodeValue);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length > 0 && WRAPPERS.has(keys[0])) {
    if (keys[0] === "$date" && keys.length === 1) {
      const inner = record.$date;
      if (inner === null) return new Date(NaN);
      if (typeof inner === "string" || typeof inner === "number") return new Date(inner);
    }
    if (keys[0] === "$numberLong" && keys.length === 1 && typeof record.$numberLong === "string") {
      try {
        return BigInt(record.$numberLong);
      } catch {
        return record;
      }
    }
    try {
      return EJSON.deserialize(record, { relaxed: true, useBigInt64: true });
    } catch {
      return record;
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) setField(out, key, decodeValue(record[key]));
  return out;
}

/**
 * Parses the `data` column back into fields, decoding every wrapper.
 *
 * @example
 * ```ts
 * import { decodeFields } from "@eventstorm/core/protocol";
 * decodeFields('{"n":1,"at":{"$date":"1970-01-01T00:00:00.000Z"}}').at instanceof Date; // true
 * ```
 */
export function decodeFields(json: string): Record<string, unknown> {
  const parsed = JSON.parse(json) as Record<string, unknown>;
  for (const key in parsed) {
    const value = parsed[key];
    if (value !== null && typeof value === "object") setField(parsed, key, decodeValue(value));
  }
  return parsed;
}

/**
 * One event as one line of this dialect (no newline): every field in order,
 * 64-bit integers as `{"$numberLong": "…"}` so none is rounded, dates as
 * `{"$date": "<ISO 8601>"}` (years before 1970 and after 9999 included),
 * ObjectId, Binary and Decimal128 in canonical Extended JSON.
 *
 * @example
 * ```ts
 * import { toJsonLine } from "@eventstorm/core/protocol";
 * toJsonLine({ type: "x", time: new Date(0), host: "h", n: 2n ** 53n + 1n });
 * // '{"type":"x","time":{"$date":"1970-01-01T00:00:00.000Z"},"host":"h","n":{"$numberLong":"9007199254740993"}}'
 * ```
 */
export function toJsonLine(event: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  for (const key in event) {
    const encoded = encodeValue(event[key]);
    if (encoded !== undefined) setField(out, key, encoded);
  }
  return JSON.stringify(out);
}

const LONG_DIGITS = /\d{16}/;
const INTEGER_LITERAL = /^-?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A `JSON.parse` reviver: a bare integer a double cannot hold exactly (past
 * ±2^53) becomes a bigint (an int64) from its source text, rather than the
 * neighbouring double; one past int64's range is refused.
 */
function exactInteger(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== "number" || Number.isSafeInteger(value)) return value;
  const source = context?.source;
  if (source === undefined || !INTEGER_LITERAL.test(source)) return value;
  const exact = BigInt(source);
  if (exact < INT64_MIN || exact > INT64_MAX) {
    throw new SyntaxError(
      `integer ${source} is beyond int64's range (write it as a string or a {"$numberDouble": …})`,
    );
  }
  return exact;
}

/**
 * Parses one line of this dialect (or of any MongoDB Extended JSON, relaxed
 * or canonical) back into a document: `$date` becomes a Date, `$numberLong` a
 * bigint, `$oid`/`$binary`/`$numberDecimal` the bson values, and a bare integer
 * past ±2^53 a bigint, exact (not the double next to it). Throws `SyntaxError`
 * for bad JSON, an integer beyond int64's range or a line that is not one object.
 *
 * @example
 * ```ts
 * import { fromJsonLine } from "@eventstorm/core/protocol";
 * fromJsonLine('{"time":{"$date":"2026-01-01T00:00:00Z"}}').time instanceof Date; // true
 * fromJsonLine('{"n":{"$numberLong":"9007199254740993"}}').n; // 9007199254740993n
 * ```
 */
export function fromJsonLine(line: string): Record<string, unknown> {
  // Only a line with 16 digits in a row can hold an integer past 2^53: the
  // others skip the reviver (which costs JSON.parse most of its speed).
  const value = LONG_DIGITS.test(line) ? JSON.parse(line, exactInteger) : JSON.parse(line);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new SyntaxError("a JSON object is expected");
  }
  // An event may nest MAX_NESTING levels; past that (or deep enough to overflow the
  // recursive decoding) the line is not an event.
  if (valueNestsDeeperThan(value)) {
    throw new SyntaxError(`nested deeper than the ${MAX_NESTING} levels an event may have`);
  }
  let decoded;
  try {
    decoded = decodeValue(value);
  } catch (error) {
    // Decoding is recursive: thousands of levels overflow the stack.
    if (error instanceof RangeError) {
      throw new SyntaxError(`nested far deeper than the ${MAX_NESTING} levels an event may have`);
    }
    throw error;
  }
  if (Object.getPrototypeOf(decoded) !== Object.prototype) {
    throw new SyntaxError("a JSON object is expected, not one Extended JSON value");
  }
  return decoded as Record<string, unknown>;
}
