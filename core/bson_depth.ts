/**
 * What receivers refuse in a BSON document before decoding it: nesting measured
 * without recursion, so that a document nested 100,000 deep is refused by
 * counting rather than by a stack overflow in whatever walks it next (the bson
 * decoder, Extended JSON, a sink), and datetimes no JavaScript `Date` holds.
 *
 * @module
 */

/**
 * Deepest nesting an event may have: the top-level document is depth 1, each
 * embedded document or array one more. MongoDB's own limit, so that anything
 * a receiver accepts a MongoDB sink can store. Deeper documents are dropped and
 * counted (`rejected` at receivers, `unencodable` at emitters).
 *
 * @example
 * ```ts
 * import { MAX_NESTING } from "@eventstorm/core/protocol";
 * MAX_NESTING; // 100
 * ```
 */
export const MAX_NESTING = 100;

/**
 * Furthest a UTC datetime may lie from the epoch, in milliseconds: the range of
 * an ECMAScript `Date` (about ±275,760 years). A BSON datetime beyond it decodes
 * to an Invalid Date, so a receiver would store some other time or none.
 *
 * @example
 * ```ts
 * import { MAX_DATE_MS } from "@eventstorm/core/protocol";
 * new Date(MAX_DATE_MS).toISOString(); // "+275760-09-13T00:00:00.000Z"
 * ```
 */
export const MAX_DATE_MS = 8.64e15;

/**
 * What makes the BSON document at `bytes[start, end)` one no receiver here can
 * hold: nesting deeper than `limit` (`"depth"`), or a UTC datetime beyond
 * {@linkcode MAX_DATE_MS} (`"date"`). Malformed bytes answer `undefined` and are
 * left to the decoder, which says what is wrong with them.
 *
 * @example
 * ```ts
 * import { BSON } from "bson";
 * import { documentProblem } from "@eventstorm/core/protocol";
 * const bytes = BSON.serialize({ at: new Date(0) });
 * documentProblem(bytes, 0, bytes.length); // undefined
 * new DataView(bytes.buffer, bytes.byteOffset).setBigInt64(8, 2n ** 62n, true); // the date
 * documentProblem(bytes, 0, bytes.length); // "date"
 * ```
 */
export function documentProblem(
  bytes: Uint8Array,
  start: number,
  end: number,
  limit: number = MAX_NESTING,
): "depth" | "date" | undefined {
  return structureProblem(bytes, start, end, limit, true);
}

/** Bytes one level of nesting costs at least: type, empty name, length, terminator. */
const MIN_LEVEL_BYTES = 7;

/**
 * Whether the BSON document at `bytes[start, end)` nests deeper than `limit`;
 * cheaper than {@linkcode documentProblem} for a decoder that checks dates in
 * what it decoded.
 */
export function nestsDeeperThan(
  bytes: Uint8Array,
  start: number,
  end: number,
  limit: number = MAX_NESTING,
): boolean {
  // Too short to be that deep: the common case costs nothing.
  if (end - start <= limit * MIN_LEVEL_BYTES) return false;
  return structureProblem(bytes, start, end, limit, false) === "depth";
}

function structureProblem(
  bytes: Uint8Array,
  start: number,
  end: number,
  limit: number,
  checkDates: boolean,
): "depth" | "date" | undefined {
  if (start < 0 || end > bytes.length || end - start < 5) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ends: number[] = [];
  let offset = start + 4;
  ends.push(start + view.getInt32(start, true));
  while (ends.length > 0) {
    if (offset >= end) return undefined;
    const type = bytes[offset++];
    if (type === 0) {
      // A document ends exactly where its length says; anywhere else the walk could
      // be sent back over what it read already.
      if (ends.pop() !== offset) return undefined;
      continue;
    }
    offset = bytes.indexOf(0, offset) + 1;
    if (offset === 0 || offset + 4 > end) return undefined;
    switch (type) {
      case 0x03: // document
      case 0x04: { // array
        // Every length is checked to move forward: a negative one would walk back
        // into the same element, for ever.
        const length = view.getInt32(offset, true);
        if (length < 5) return undefined;
        if (ends.length >= limit) return "depth";
        ends.push(offset + length);
        offset += 4;
        break;
      }
      case 0x0f: { // code with scope: int32 total, string, then a document
        if (offset + 8 > end) return undefined;
        const stringLength = view.getInt32(offset + 4, true);
        const scope = offset + 8 + stringLength;
        const total = view.getInt32(offset, true);
        if (stringLength < 1 || scope + 4 > end || total < 8 + stringLength + 5) return undefined;
        if (ends.length >= limit) return "depth";
        // The scope ends where the whole value does.
        ends.push(offset + total);
        offset = scope + 4;
        break;
      }
      case 0x09:
        if (checkDates && offset + 8 <= end) {
          const ms = Number(view.getBigInt64(offset, true));
          if (!(Math.abs(ms) <= MAX_DATE_MS)) return "date";
        }
        offset += 8;
        break;
      case 0x01:
      case 0x11:
      case 0x12:
        offset += 8;
        break;
      case 0x02:
      case 0x0d:
      case 0x0e: {
        const length = view.getInt32(offset, true);
        if (length < 1) return undefined;
        offset += 4 + length;
        break;
      }
      case 0x05: {
        const length = view.getInt32(offset, true);
        if (length < 0) return undefined;
        offset += 5 + length;
        break;
      }
      case 0x07:
        offset += 12;
        break;
      case 0x08:
        offset += 1;
        break;
      case 0x10:
        offset += 4;
        break;
      case 0x13:
        offset += 16;
        break;
      case 0x0c: {
        const length = view.getInt32(offset, true);
        if (length < 1) return undefined;
        offset += 4 + length + 12;
        break;
      }
      case 0x0b: // regex: two C strings
        offset = bytes.indexOf(0, offset) + 1;
        if (offset === 0) return undefined;
        offset = bytes.indexOf(0, offset) + 1;
        if (offset === 0) return undefined;
        break;
      case 0x06:
      case 0x0a:
      case 0x7f:
      case 0xff:
        break;
      default:
        return undefined;
    }
  }
  return undefined;
}

/**
 * Whether a JavaScript value nests deeper than `limit` (objects and arrays; a
 * cycle counts as too deep). Walks without recursion and stops at the limit.
 *
 * @example
 * ```ts
 * import { valueNestsDeeperThan } from "./bson_depth.ts";
 * valueNestsDeeperThan({ a: [{}] }, 2); // true
 * ```
 */
export function valueNestsDeeperThan(value: unknown, limit: number = MAX_NESTING): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (depth > limit) return true;
    if (Array.isArray(current)) {
      for (const item of current) if (isContainer(item)) stack.push([item, depth + 1]);
    } else {
      for (const key in current as Record<string, unknown>) {
        const item = (current as Record<string, unknown>)[key];
        if (isContainer(item)) stack.push([item, depth + 1]);
      }
    }
  }
  return false;
}

function isContainer(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  if (Array.isArray(value)) return true;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
