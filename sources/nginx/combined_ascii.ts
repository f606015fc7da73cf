/**
 * nginx's `combined` lines read from their bytes straight into BSON: the common
 * case of the source, at less than half the cost of matching the line as a
 * string, making an event object of it and encoding that. nginx writes its
 * logs in ASCII (with `escape=default` it logs other bytes as `\xHH`), so the
 * bytes of a line are its characters. Anything out of the ordinary (an escape,
 * a byte past ASCII, a number past int32, a time that is not one, text after
 * the last field) is left to the string parser, which then reads the line as
 * before; what this writes is what the emitter encodes of the event that parser
 * returns, byte for byte (checked by combined_ascii_test.ts).
 *
 * @module
 */
import { writeInt32, writeInt64 } from "@eventstorm/core/internal";
import { type AsciiEncoder, asciiRoom } from "@eventstorm/core/source";
import { parseTimeLocal } from "./time.ts";

const SPACE = 0x20;
const QUOTE = 0x22;
const DASH = 0x2d;
const BACKSLASH = 0x5c;
const TIME_LENGTH = 26;
const INT32_DIGITS = 9;
/**
 * Longer strings are copied with set(), shorter ones byte by byte: a subarray costs
 * about sixteen bytes of the loop under V8's Maglev, which the agent's unit runs
 * (there DataView word copies are calls, slower than either).
 */
const SET_FROM = 16;

const utf8 = new TextEncoder();

/** A BSON element's type byte and key, with its NUL. */
function key(kind: number, name: string): Uint8Array {
  return Uint8Array.from([kind, ...utf8.encode(name), 0]);
}

const STRING = 0x02;
const KEYS = {
  type: key(STRING, "type"),
  time: key(0x09, "time"),
  host: key(STRING, "host"),
  remoteAddr: key(STRING, "remote_addr"),
  remoteUser: key(STRING, "remote_user"),
  request: key(STRING, "request"),
  method: key(STRING, "method"),
  path: key(STRING, "path"),
  query: key(STRING, "query"),
  protocol: key(STRING, "protocol"),
  status: key(0x10, "status"),
  bodyBytesSent: key(0x10, "body_bytes_sent"),
  httpReferer: key(STRING, "http_referer"),
  httpUserAgent: key(STRING, "http_user_agent"),
};

/**
 * The {@linkcode AsciiEncoder} of `combined` lines logged with `escape=default`,
 * for events of `type`.
 *
 * @example
 * ```ts
 * import { asciiRoom } from "@eventstorm/core/source";
 * import { combinedAsciiEncoder } from "./combined_ascii.ts";
 * const encoder = combinedAsciiEncoder("http.hit");
 * const line = new TextEncoder().encode(
 *   '10.0.0.1 - - [17/May/2015:08:05:32 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8"',
 * );
 * const out = new Uint8Array(asciiRoom(line.length, "web1", encoder.type));
 * encoder.encode(line, 0, line.length, "web1", out, 0); // 221, where the document ends
 * ```
 */
export function combinedAsciiEncoder(type: string): AsciiEncoder {
  return new CombinedAscii(type);
}

class CombinedAscii implements AsciiEncoder {
  readonly type: string;
  /** The `type` element and the `time` key, written as one. */
  readonly #head: Uint8Array;
  #host = "";
  /** The `host` element of `#host`. */
  #hostElement: Uint8Array = new Uint8Array(0);
  /** The last time read and its milliseconds (consecutive lines mostly share a second). */
  #time = new Uint8Array(TIME_LENGTH);
  #millis = NaN;

  constructor(type: string) {
    this.type = type;
    this.#head = Uint8Array.from([...stringElement(KEYS.type, type), ...KEYS.time]);
  }

  encode(
    bytes: Uint8Array,
    start: number,
    end: number,
    host: string,
    out: Uint8Array,
    at: number,
  ): number {
    if (out.length - at < asciiRoom(end - start, host, this.type)) return -2;
    // $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    // "$http_referer" "$http_user_agent", each value as the string parser's pattern takes it.
    const addrEnd = plainEnd(bytes, start, end, SPACE);
    if (addrEnd < 0 || !literal3(bytes, addrEnd, end, SPACE, DASH, SPACE)) return -1;
    const userStart = addrEnd + 3;
    const userEnd = plainEnd(bytes, userStart, end, SPACE);
    if (userEnd < 0 || userEnd + 2 > end || bytes[userEnd + 1] !== 0x5b) return -1;
    const timeStart = userEnd + 2;
    const timeEnd = timeStart + TIME_LENGTH;
    if (!literal3(bytes, timeEnd, end, 0x5d, SPACE, QUOTE)) return -1;
    const millis = this.#timeAt(bytes, timeStart);
    if (Number.isNaN(millis)) return -1;
    const requestStart = timeEnd + 3;
    const requestEnd = plainEnd(bytes, requestStart, end, QUOTE);
    if (requestEnd < 0 || requestEnd + 2 > end || bytes[requestEnd + 1] !== SPACE) return -1;
    const statusStart = requestEnd + 2;
    const statusEnd = plainEnd(bytes, statusStart, end, SPACE);
    if (statusEnd < 0) return -1;
    const status = integerAt(bytes, statusStart, statusEnd);
    const sentStart = statusEnd + 1;
    const sentEnd = plainEnd(bytes, sentStart, end, SPACE);
    if (sentEnd < 0 || sentEnd + 2 > end || bytes[sentEnd + 1] !== QUOTE) return -1;
    const sent = integerAt(bytes, sentStart, sentEnd);
    if (status === -1 || sent === -1) return -1;
    const refererStart = sentEnd + 2;
    const refererEnd = plainEnd(bytes, refererStart, end, QUOTE);
    if (refererEnd < 0 || !literal3(bytes, refererEnd, end, QUOTE, SPACE, QUOTE)) return -1;
    const agentStart = refererEnd + 3;
    const agentEnd = plainEnd(bytes, agentStart, end, QUOTE);
    if (agentEnd !== end - 1) return -1;

    let n = at + 4;
    n = putBytes(out, n, this.#head);
    writeInt64(out, n, millis);
    n += 8;
    n = putBytes(out, n, this.#hostElementOf(host));
    if (!isDash(bytes, start, addrEnd)) {
      n = putString(out, n, KEYS.remoteAddr, bytes, start, addrEnd);
    }
    if (!isDash(bytes, userStart, userEnd)) {
      n = putString(out, n, KEYS.remoteUser, bytes, userStart, userEnd);
    }
    if (!isDash(bytes, requestStart, requestEnd)) {
      n = putRequest(out, n, bytes, requestStart, requestEnd);
    }
    if (status >= 0) n = putInt32(out, n, KEYS.status, status);
    if (sent >= 0) n = putInt32(out, n, KEYS.bodyBytesSent, sent);
    if (!isDash(bytes, refererStart, refererEnd)) {
      n = putString(out, n, KEYS.httpReferer, bytes, refererStart, refererEnd);
    }
    if (!isDash(bytes, agentStart, agentEnd)) {
      n = putString(out, n, KEYS.httpUserAgent, bytes, agentStart, agentEnd);
    }
    out[n++] = 0;
    writeInt32(out, at, n - at);
    return n;
  }

  /** The milliseconds of the `$time_local` at `start`, NaN when it is not one. */
  #timeAt(bytes: Uint8Array, start: number): number {
    const last = this.#time;
    let same = true;
    for (let i = 0; i < TIME_LENGTH; i++) {
      if (bytes[start + i] !== last[i]) {
        same = false;
        break;
      }
    }
    if (same) return this.#millis;
    let text = "";
    for (let i = 0; i < TIME_LENGTH; i++) {
      const byte = bytes[start + i];
      if (!TIME_SHAPE[i](byte)) return NaN;
      text += String.fromCharCode(byte);
    }
    const millis = parseTimeLocal(text);
    // Beyond what a Date holds, as the string parser's converter checks.
    if (Number.isNaN(new Date(millis).getTime())) return NaN;
    last.set(bytes.subarray(start, start + TIME_LENGTH));
    this.#millis = millis;
    return millis;
  }

  #hostElementOf(host: string): Uint8Array {
    if (host !== this.#host) {
      this.#host = host;
      this.#hostElement = stringElement(KEYS.host, host);
    }
    return this.#hostElement;
  }
}

/**
 * The element `name` (type byte, key, NUL) with `bytes[start, end)` (ASCII, or
 * UTF-8) as its string; returns where it ends.
 */
function putString(
  out: Uint8Array,
  at: number,
  name: Uint8Array,
  bytes: Uint8Array,
  start: number,
  end: number,
): number {
  at = putBytes(out, at, name);
  writeInt32(out, at, end - start + 1);
  at += 4;
  if (end - start > SET_FROM) {
    out.set(bytes.subarray(start, end), at);
    at += end - start;
  } else {
    for (let i = start; i < end; i++) out[at++] = bytes[i];
  }
  out[at++] = 0;
  return at;
}

/** The element `name` with `text` as its string. */
function stringElement(name: Uint8Array, text: string): Uint8Array {
  const bytes = utf8.encode(text);
  const element = new Uint8Array(name.length + 4 + bytes.length + 1);
  putString(element, 0, name, bytes, 0, bytes.length);
  return element;
}

/** Writes `bytes` (a key, or whole elements); returns where they end. */
function putBytes(out: Uint8Array, at: number, bytes: Uint8Array): number {
  out.set(bytes, at);
  return at + bytes.length;
}

function putInt32(out: Uint8Array, at: number, name: Uint8Array, value: number): number {
  at = putBytes(out, at, name);
  writeInt32(out, at, value);
  return at + 4;
}

/** `$request`, then the parts splitRequestLineInto (request.ts) reads from it. */
function putRequest(
  out: Uint8Array,
  at: number,
  bytes: Uint8Array,
  start: number,
  end: number,
): number {
  at = putString(out, at, KEYS.request, bytes, start, end);
  let first = start;
  while (first < end && bytes[first] !== SPACE) first++;
  if (first === end || first === start || !isMethod(bytes, start, first)) return at;
  at = putString(out, at, KEYS.method, bytes, start, first);
  let last = end - 1;
  while (bytes[last] !== SPACE) last--;
  let targetEnd = end;
  const protocol = last > first && isProtocol(bytes, last + 1, end);
  if (protocol) targetEnd = last;
  if (targetEnd > first + 1) {
    let question = first + 1;
    while (question < targetEnd && bytes[question] !== 0x3f) question++;
    at = putString(out, at, KEYS.path, bytes, first + 1, question);
    if (question < targetEnd) at = putString(out, at, KEYS.query, bytes, question + 1, targetEnd);
  }
  return protocol ? putString(out, at, KEYS.protocol, bytes, last + 1, end) : at;
}

/**
 * Where the value from `start` ends at the byte `stop`, or -1 when there is no
 * `stop` before `end` or the value holds a byte this path leaves to the string
 * parser (past ASCII, or a backslash, which may start an escape).
 */
function plainEnd(bytes: Uint8Array, start: number, end: number, stop: number): number {
  for (let i = start; i < end; i++) {
    const byte = bytes[i];
    if (byte === stop) return i;
    if (byte >= 0x80 || byte === BACKSLASH) return -1;
  }
  return -1;
}

function literal3(bytes: Uint8Array, at: number, end: number, a: number, b: number, c: number) {
  return at + 3 <= end && bytes[at] === a && bytes[at + 1] === b && bytes[at + 2] === c;
}

/** `-` alone: a value nginx had not (no field), as the string parser reads it. */
function isDash(bytes: Uint8Array, start: number, end: number): boolean {
  return end === start + 1 && bytes[start] === DASH;
}

/**
 * A whole number of at most nine digits; -2 for none (`-` or nothing, no field); -1
 * for anything else (left to the string parser, which also takes larger numbers).
 */
function integerAt(bytes: Uint8Array, start: number, end: number): number {
  if (end === start || isDash(bytes, start, end)) return -2;
  if (end - start > INT32_DIGITS) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = bytes[i] - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

const digit = (byte: number) => byte >= 0x30 && byte <= 0x39;
const upper = (byte: number) => byte >= 0x41 && byte <= 0x5a;
const lower = (byte: number) => byte >= 0x61 && byte <= 0x7a;
const is = (expected: number) => (byte: number) => byte === expected;
/** `\d\d/[A-Z][a-z][a-z]/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}`, the string parser's pattern. */
const TIME_SHAPE: ((byte: number) => boolean)[] = [
  digit,
  digit,
  is(0x2f),
  upper,
  lower,
  lower,
  is(0x2f),
  digit,
  digit,
  digit,
  digit,
  is(0x3a),
  digit,
  digit,
  is(0x3a),
  digit,
  digit,
  is(0x3a),
  digit,
  digit,
  is(SPACE),
  (byte) => byte === 0x2b || byte === DASH,
  digit,
  digit,
  digit,
  digit,
];

/** As request.ts: letters, then also digits, `_` and `-`. */
function isMethod(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const byte = bytes[i];
    if (upper(byte) || lower(byte)) continue;
    if (i === start || !(digit(byte) || byte === 0x5f || byte === DASH)) return false;
  }
  return true;
}

/** As request.ts: `HTTP/` and digits, with an optional `.` and digits, to the end. */
function isProtocol(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start < 6) return false;
  for (let i = 0; i < 5; i++) if (bytes[start + i] !== HTTP_SLASH[i]) return false;
  let i = start + 5;
  const major = i;
  while (i < end && digit(bytes[i])) i++;
  if (i === major) return false;
  if (i === end) return true;
  if (bytes[i] !== 0x2e) return false;
  const minor = ++i;
  while (i < end && digit(bytes[i])) i++;
  return i > minor && i === end;
}

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f];
