/**
 * Field names MongoDB can store and query: no leading `$`, no `.`.
 *
 * @module
 */
import { setField } from "@eventstorm/core/internal";

/**
 * What a leading `$` becomes: U+FF04 FULLWIDTH DOLLAR SIGN, which looks the same.
 *
 * @example
 * ```ts
 * import { DOLLAR_REPLACEMENT } from "@eventstorm/sink-mongodb";
 * DOLLAR_REPLACEMENT === "\uFF04"; // true
 * ```
 */
export const DOLLAR_REPLACEMENT = "\uFF04";
/**
 * What each `.` in a field name becomes.
 *
 * @example
 * ```ts
 * import { DOT_REPLACEMENT } from "@eventstorm/sink-mongodb";
 * "cpu.user".replaceAll(".", DOT_REPLACEMENT); // "cpu_user"
 * ```
 */
export const DOT_REPLACEMENT = "_";

/**
 * The field name MongoDB stores for `key`: a leading `$` becomes `＄` (U+FF04) and
 * every `.` becomes `_`, since the server refuses the first and reads the second
 * as a path in queries.
 *
 * @example
 * ```ts
 * import { safeKey } from "@eventstorm/sink-mongodb";
 * safeKey("$cost"); // "＄cost"
 * safeKey("cpu.user"); // "cpu_user"
 * safeKey("status"); // "status"
 * ```
 */
export function safeKey(key: string): string {
  let safe = key;
  if (safe.charCodeAt(0) === 36 /* $ */) safe = DOLLAR_REPLACEMENT + safe.slice(1);
  if (safe.includes(".")) safe = safe.replaceAll(".", DOT_REPLACEMENT);
  return safe;
}

function needsEscape(key: string): boolean {
  return key.charCodeAt(0) === 36 || key.includes(".");
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  // BSON values (ObjectId, Long, Binary...) carry `_bsontype` and are left alone.
  return (proto === Object.prototype || proto === null) && !("_bsontype" in value);
}

function valueNeedsEscape(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(valueNeedsEscape);
  if (!isPlainObject(value)) return false;
  for (const key in value) {
    if (needsEscape(key) || valueNeedsEscape(value[key])) return true;
  }
  return false;
}

function escapeValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(escapeValue);
  if (!isPlainObject(value)) return value;
  return escapeObject(value);
}

function escapeObject(document: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Names that are already safe keep their place; escaped names that collide with
  // one get `_` appended until free, so no field overwrites another.
  const taken = new Set<string>();
  for (const key in document) if (!needsEscape(key)) taken.add(key);
  for (const key in document) {
    let name = key;
    if (needsEscape(key)) {
      name = safeKey(key);
      while (taken.has(name)) name += "_";
      taken.add(name);
    }
    setField(out, name, escapeValue(document[key]));
  }
  return out;
}

/**
 * `document` with every field name made safe by {@linkcode safeKey}, nested
 * documents included. Returns `document` itself when nothing needs escaping, so the
 * common case costs one scan of the keys. When an escaped name is already used by
 * another field, `_` is appended until it is free (`a.b` beside `a_b` → `a_b_`).
 *
 * @example
 * ```ts
 * import { safeDocument } from "@eventstorm/sink-mongodb";
 * safeDocument({ "$set": 1, "a.b": 2, a_b: 3 }); // { "＄set": 1, a_b_: 2, a_b: 3 }
 * ```
 */
export function safeDocument<T extends Record<string, unknown>>(
  document: T,
): T | Record<string, unknown> {
  for (const key in document) {
    if (needsEscape(key) || valueNeedsEscape(document[key])) return escapeObject(document);
  }
  return document;
}

/**
 * The collection for events of `type` in collection-per-type mode: dots become
 * underscores (`http.hit` → `http_hit`).
 *
 * @example
 * ```ts
 * import { collectionForType } from "@eventstorm/sink-mongodb";
 * collectionForType("http.hit"); // "http_hit"
 * ```
 */
export function collectionForType(type: string): string {
  return type.replaceAll(".", "_");
}
