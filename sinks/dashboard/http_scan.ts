/**
 * Reads the few fields the dashboard needs straight out of BSON `http.hit`
 * documents, without building event objects: the busiest topic costs a field
 * walk instead of a full decode.
 *
 * @module
 */

import { documentProblem, MAX_DATE_MS, MAX_NESTING } from "@eventstorm/core/protocol";

/**
 * The fields of one `http.hit` the dashboard uses; undefined when absent or of another type.
 *
 * @example
 * ```ts
 * import type { HttpHitFields } from "@eventstorm/sink-dashboard";
 * const isError = (hit: HttpHitFields) => (hit.status ?? 0) >= 500;
 * ```
 */
export interface HttpHitFields {
  /** `host` (a string). */
  host: string | undefined;
  /** `status` (a number). */
  status: number | undefined;
  /** `body_bytes_sent` (a number). */
  bytes: number | undefined;
  /** `request_time` in seconds (a number). */
  requestTime: number | undefined;
  /** `path` (a string). */
  path: string | undefined;
  /** `remote_addr` (a string). */
  address: string | undefined;
  /** `http_user_agent` (a string). */
  agent: string | undefined;
}

/**
 * What {@linkcode scanHttpHits} saw.
 *
 * @example
 * ```ts
 * import { scanHttpHits, type ScanResult } from "@eventstorm/sink-dashboard";
 * const result: ScanResult = scanHttpHits(new Uint8Array(0), () => {});
 * console.log(result.events, result.rejected); // 0 0
 * ```
 */
export interface ScanResult {
  /** Documents handed to the callback. */
  events: number;
  /** Documents skipped: bad envelope (type not `http.hit`, time not a date, host not a string) or bad BSON. */
  rejected: number;
}

const encoder = new TextEncoder();
const KEY_TYPE = encoder.encode("type");
const KEY_TIME = encoder.encode("time");
const KEY_HOST = encoder.encode("host");
const KEY_PATH = encoder.encode("path");
const KEY_STATUS = encoder.encode("status");
const KEY_REMOTE_ADDR = encoder.encode("remote_addr");
const KEY_REQUEST_TIME = encoder.encode("request_time");
const KEY_BODY_BYTES_SENT = encoder.encode("body_bytes_sent");
const KEY_HTTP_USER_AGENT = encoder.encode("http_user_agent");
const TOPIC = encoder.encode("http.hit");
const decoder = new TextDecoder();

function keyIs(body: Uint8Array, at: number, key: Uint8Array): boolean {
  for (let i = 0; i < key.length; i++) if (body[at + i] !== key[i]) return false;
  return true;
}

// Paths, agents and addresses repeat: handing back the same string object for the
// same bytes saves building it and lets the maps downstream reuse its cached hash.
const CACHE_SIZE = 8192;
const cacheHashes = new Int32Array(CACHE_SIZE);
const cacheStrings: (string | undefined)[] = new Array(CACHE_SIZE);

/** A string of `length` bytes at `at`: short ASCII through a small cache, anything else decoded. */
function text(body: Uint8Array, at: number, length: number): string {
  if (length <= 256) {
    let hash = 0x811c9dc5 | 0;
    let ascii = true;
    for (let i = at; i < at + length; i++) {
      const byte = body[i];
      if (byte >= 0x80) {
        ascii = false;
        break;
      }
      hash = Math.imul(hash ^ byte, 0x01000193);
    }
    if (ascii) {
      const slot = (hash ^ length) & (CACHE_SIZE - 1);
      const cached = cacheStrings[slot];
      if (cached !== undefined && cacheHashes[slot] === hash && cached.length === length) {
        let same = true;
        for (let i = 0; i < length; i++) {
          if (cached.charCodeAt(i) !== body[at + i]) {
            same = false;
            break;
          }
        }
        if (same) return cached;
      }
      const made = String.fromCharCode.apply(
        null,
        body.subarray(at, at + length) as unknown as number[],
      );
      cacheHashes[slot] = hash;
      cacheStrings[slot] = made;
      return made;
    }
  }
  return decoder.decode(body.subarray(at, at + length));
}

class Malformed extends Error {}

/**
 * Calls `each` with the fields of every well-formed `http.hit` document of a
 * message body (BSON documents back to back, as on the wire), reusing one
 * fields object. Never throws on bad input: a document it cannot read, or whose
 * envelope is not a valid `http.hit`, is counted in `rejected` and skipped.
 *
 * @example
 * ```ts
 * import { encodeBatch } from "@eventstorm/core/protocol";
 * import { scanHttpHits } from "@eventstorm/sink-dashboard";
 * const body = encodeBatch([
 *   { type: "http.hit", time: new Date(), host: "web1", status: 200, path: "/" },
 * ]);
 * scanHttpHits(body, (hit) => console.log(hit.status, hit.path)); // 200 "/"
 * ```
 */
export function scanHttpHits(
  body: Uint8Array,
  each: (fields: HttpHitFields) => void,
): ScanResult {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const fields: HttpHitFields = {
    host: undefined,
    status: undefined,
    bytes: undefined,
    requestTime: undefined,
    path: undefined,
    address: undefined,
    agent: undefined,
  };
  const result: ScanResult = { events: 0, rejected: 0 };
  let offset = 0;
  while (offset + 5 <= body.length) {
    const size = view.getInt32(offset, true);
    if (size < 5 || offset + size > body.length) {
      // The rest cannot be framed: count it as one bad document and stop.
      result.rejected++;
      break;
    }
    const end = offset + size - 1;
    fields.host =
      fields.path =
      fields.address =
      fields.agent =
        undefined;
    fields.status = fields.bytes = fields.requestTime = undefined;
    let typeOk = false;
    let timeOk = false;
    try {
      let at = offset + 4;
      while (at < end) {
        const kind = body[at++];
        const keyStart = at;
        while (at < end && body[at] !== 0) at++;
        if (at >= end) throw new Malformed();
        const keyLength = at - keyStart;
        at++;
        // Where the value starts; each case moves `at` past it.
        let number: number | undefined;
        let string: string | undefined;
        switch (kind) {
          case 0x01: // double
            if (at + 8 > end) throw new Malformed();
            number = view.getFloat64(at, true);
            at += 8;
            break;
          case 0x10: // int32
            if (at + 4 > end) throw new Malformed();
            number = view.getInt32(at, true);
            at += 4;
            break;
          case 0x12: // int64
          case 0x09: // UTC datetime
          case 0x11: // timestamp
            if (at + 8 > end) throw new Malformed();
            if (kind === 0x12) number = Number(view.getBigInt64(at, true));
            if (kind === 0x09) {
              // Other receivers reject a time no Date holds: so does this one.
              if (!(Math.abs(Number(view.getBigInt64(at, true))) <= MAX_DATE_MS)) {
                throw new Malformed();
              }
              if (keyLength === 4 && keyIs(body, keyStart, KEY_TIME)) timeOk = true;
            }
            at += 8;
            break;
          case 0x02: { // string
            if (at + 4 > end) throw new Malformed();
            const length = view.getInt32(at, true);
            if (length < 1 || at + 4 + length > end || body[at + 4 + length - 1] !== 0) {
              throw new Malformed();
            }
            const start = at + 4;
            at = start + length;
            if (keyLength === 4 && keyIs(body, keyStart, KEY_TYPE)) {
              typeOk = length - 1 === TOPIC.length && keyIs(body, start, TOPIC);
              continue;
            }
            // Only the keys below are read; other strings are skipped unread.
            if (
              keyLength === 4 || keyLength === 11 || keyLength === 15
            ) string = text(body, start, length - 1);
            break;
          }
          case 0x03: // document
          case 0x04: { // array
            if (at + 4 > end) throw new Malformed();
            const length = view.getInt32(at, true);
            if (length < 5 || at + length > end) throw new Malformed();
            // Skipped unread, but not past what other receivers reject (the top level is depth 1).
            if (documentProblem(body, at, at + length, MAX_NESTING - 1)) throw new Malformed();
            at += length;
            break;
          }
          case 0x05: { // binary
            if (at + 4 > end) throw new Malformed();
            const length = view.getInt32(at, true);
            if (length < 0 || at + 5 + length > end) throw new Malformed();
            at += 5 + length;
            break;
          }
          case 0x07: // ObjectId
            at += 12;
            break;
          case 0x08: // boolean
            at += 1;
            break;
          case 0x13: // decimal128
            at += 16;
            break;
          case 0x06: // undefined
          case 0x0a: // null
          case 0x7f: // max key
          case 0xff: // min key
            break;
          default:
            // Regex, code, symbol, DBPointer: never in events; stop reading this one.
            throw new Malformed();
        }
        if (at > end) throw new Malformed();
        switch (keyLength) {
          case 4:
            if (keyIs(body, keyStart, KEY_HOST)) fields.host = string;
            else if (keyIs(body, keyStart, KEY_PATH)) fields.path = string;
            break;
          case 6:
            if (keyIs(body, keyStart, KEY_STATUS)) fields.status = number;
            break;
          case 11:
            if (keyIs(body, keyStart, KEY_REMOTE_ADDR)) fields.address = string;
            break;
          case 12:
            if (keyIs(body, keyStart, KEY_REQUEST_TIME)) fields.requestTime = number;
            break;
          case 15:
            if (keyIs(body, keyStart, KEY_BODY_BYTES_SENT)) fields.bytes = number;
            else if (keyIs(body, keyStart, KEY_HTTP_USER_AGENT)) fields.agent = string;
            break;
        }
      }
      if (at !== end || body[end] !== 0) throw new Malformed();
    } catch (error) {
      if (!(error instanceof Malformed) && !(error instanceof RangeError)) throw error;
      typeOk = false;
    }
    if (typeOk && timeOk && fields.host !== undefined) {
      result.events++;
      each(fields);
    } else {
      result.rejected++;
    }
    offset += size;
  }
  return result;
}
