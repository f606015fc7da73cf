/**
 * Events from their BSON bytes straight to the JSON dialect's text (see
 * `json.ts`), with no JavaScript objects in between. A sink that stores JSON
 * (the store's `data` column) would otherwise decode every document into an
 * object and turn it back into text: two passes, and at 100,000 events/s enough
 * short-lived garbage to keep V8's heap at several times what is live.
 *
 * Only the common shapes take this path: envelope present and well typed,
 * fields of type double (finite), string, document, array, boolean, date, null,
 * int32 and int64. Anything else (another BSON type, a key that JavaScript
 * would reorder or read as special, a repeated key, bad UTF-8, a broken length)
 * returns `undefined`, and the caller decodes the document the ordinary way,
 * which gives the same text or the same refusal.
 *
 * @module
 */
import { isValidType } from "./event.ts";
import { MAX_DATE_MS } from "./bson_depth.ts";

/** An event's envelope, read by {@linkcode EventTranscoder.envelope}. */
export interface EventEnvelope {
  /** The envelope's `type` (equal to the topic). */
  type: string;
  /** The envelope's `time`, ms since the epoch. */
  time: number;
  /** The envelope's `host`. */
  host: string;
  /** Bytes of the rest as JSON, appended to the transcoder's text. */
  jsonBytes: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MAX_DEPTH = 90;
const TWO_21 = 2 ** 21;
const HEX = "0123456789abcdef";
// A byte repeated in the four lanes of a 32-bit word, for the scan in #string.
const ONES = 0x01010101;
const SPACES = 0x20202020;
const QUOTES = 0x22222222;
const BACKSLASHES = 0x5c5c5c5c;
const HIGH_BITS = 0x80808080;
const SHORT_ESCAPES: Record<number, number> = { 8: 0x62, 9: 0x74, 10: 0x6e, 12: 0x66, 13: 0x72 };

const KEY_TYPE = [0x74, 0x79, 0x70, 0x65];
const KEY_TIME = [0x74, 0x69, 0x6d, 0x65];
const KEY_HOST = [0x68, 0x6f, 0x73, 0x74];
const KEY_ID = [0x5f, 0x69, 0x64];
const KEY_PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f];

/**
 * Writes `value`, a whole number from 0 to 2^53, in decimal ASCII at `at`, as
 * String() does, without making the string; returns where it ends.
 *
 * @example
 * ```ts
 * import { writeDecimal } from "./bson_json.ts";
 * const bytes = new Uint8Array(8);
 * writeDecimal(bytes, 1, 407); // 4: bytes 1 to 3 are "407"
 * ```
 */
export function writeDecimal(out: Uint8Array, at: number, value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  const end = at + digits;
  for (let n = end - 1; n >= at; n--) {
    out[n] = 0x30 + value % 10;
    value = Math.floor(value / 10);
  }
  return end;
}

/** Thrown inside the walk when the fast path must give up; never escapes. */
const GIVE_UP = Symbol("give up");

/**
 * Reads event documents into their envelope and the rest as UTF-8 JSON, as
 * `encodeFields` writes it, appended to one text with what the caller appends
 * between them (a row's id) until {@linkcode EventTranscoder.take}: a store
 * hands a batch's text to its writer whole, and no document's JSON is copied
 * on the way. One instance reuses its buffers: not for use from two callers at once.
 *
 * @example
 * ```ts
 * import { BSON } from "bson";
 * import { EventTranscoder } from "./bson_json.ts";
 * const doc = BSON.serialize({ type: "a.b", time: new Date(0), host: "h", n: 1 });
 * const transcoder = new EventTranscoder();
 * transcoder.envelope(doc, 0, doc.length, "a.b", null); // { type: "a.b", time: 0, host: "h", jsonBytes: 7 }
 * new TextDecoder().decode(transcoder.json); // '{"n":1}'
 * ```
 */
export class EventTranscoder {
  #out = new Uint8Array(4096);
  #outView = new DataView(this.#out.buffer);
  #length = 0;
  /** Where the document being read (or the last one read) starts in `#out`. */
  #start = 0;
  #body: Uint8Array = new Uint8Array(0);
  #view = new DataView(this.#body.buffer);
  readonly #decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  readonly #encoder = new TextEncoder();
  #topic = "";
  #topicValid = false;
  #topicBytes: Uint8Array = new Uint8Array(0);
  #hostBytes: Uint8Array = new Uint8Array(0);
  #host = "";
  #time = 0;
  /**
   * The keys of the document and the containers being read, as `[start, end)`
   * pairs in `#body`, each container's above its parent's: one array for every
   * document, where one per container made garbage of every event.
   */
  readonly #keys: number[] = [];
  #keyCount = 0;
  /** A bit per key of the document (a hash of its length and ends), to skip comparing. */
  #keyBits = 0;
  /** Whether a string of the current document had a byte past ASCII (to be checked as UTF-8). */
  #beyondAscii = false;

  /**
   * The envelope of the document at `body[offset, offset + size)` sent on
   * `topic`, the rest appended to the text as UTF-8 JSON (also
   * {@linkcode EventTranscoder.json}; a caller that stores bytes, as SQLite
   * does, makes no string of it), its `_id` field set to the ASCII bytes `id`
   * (where the document had one, else last) or removed when `id` is null;
   * undefined, with nothing appended, when the fast path cannot tell (the
   * caller decodes the document instead).
   *
   * @example
   * ```ts
   * import { BSON } from "bson";
   * import { EventTranscoder } from "./bson_json.ts";
   * const doc = BSON.serialize({ type: "a.b", time: new Date(0), host: "h", n: 1 });
   * const transcoder = new EventTranscoder();
   * transcoder.envelope(doc, 0, doc.length, "a.b", null); // { type: "a.b", time: 0, host: "h", jsonBytes: 7 }
   * transcoder.json; // the bytes of '{"n":1}'
   * ```
   */
  envelope(
    body: Uint8Array,
    offset: number,
    size: number,
    topic: string,
    id: Uint8Array | null,
  ): EventEnvelope | undefined {
    const jsonBytes = this.read(body, offset, size, topic, id);
    return jsonBytes < 0
      ? undefined
      : { type: topic, time: this.#time, host: this.#host, jsonBytes };
  }

  /**
   * As {@linkcode EventTranscoder.envelope}, without an object per document:
   * returns the bytes of JSON appended, or -1 (nothing appended); the envelope's
   * `time` and `host` are then those of the transcoder.
   *
   * @example
   * ```ts
   * import { BSON } from "bson";
   * import { EventTranscoder } from "./bson_json.ts";
   * const doc = BSON.serialize({ type: "a.b", time: new Date(5), host: "h", n: 1 });
   * const transcoder = new EventTranscoder();
   * transcoder.read(doc, 0, doc.length, "a.b", null); // 7
   * [transcoder.time, transcoder.host]; // [5, "h"]
   * ```
   */
  read(
    body: Uint8Array,
    offset: number,
    size: number,
    topic: string,
    id: Uint8Array | null,
  ): number {
    if (body !== this.#body) {
      this.#body = body;
      this.#view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    }
    if (topic !== this.#topic) {
      this.#topic = topic;
      this.#topicBytes = this.#encoder.encode(topic);
      this.#topicValid = isValidType(topic);
    }
    if (!this.#topicValid) return -1;
    const start = this.#start = this.#length;
    this.#beyondAscii = false;
    let read = false;
    try {
      read = this.#document(offset, size, id);
    } catch (error) {
      if (error !== GIVE_UP && !(error instanceof RangeError)) throw error;
    }
    if (!read) {
      this.#length = start;
      return -1;
    }
    return this.#length - start;
  }

  /** The `time` of the last document read, ms since the epoch. */
  get time(): number {
    return this.#time;
  }

  /** The `host` of the last document read. */
  get host(): string {
    return this.#host;
  }

  /** The data of the last document read, as UTF-8 JSON; valid until the next read. */
  get json(): Uint8Array {
    return this.#out.subarray(this.#start, this.#length);
  }

  /**
   * Appends `ascii` to the text as a JSON string; returns its length in bytes.
   *
   * @example
   * ```ts
   * import { EventTranscoder } from "./bson_json.ts";
   * new EventTranscoder().appendQuoted(new TextEncoder().encode("ff-a-1")); // 8
   * ```
   */
  appendQuoted(ascii: Uint8Array): number {
    this.#reserve(ascii.length + 2);
    const out = this.#out;
    let n = this.#length;
    out[n++] = QUOTE;
    for (let i = 0; i < ascii.length; i++) out[n++] = ascii[i];
    out[n++] = QUOTE;
    this.#length = n;
    return ascii.length + 2;
  }

  /**
   * Appends `text` to the text as UTF-8; returns its length in bytes.
   *
   * @example
   * ```ts
   * import { EventTranscoder } from "./bson_json.ts";
   * new EventTranscoder().appendString('{"n":1}'); // 7
   * ```
   */
  appendString(text: string): number {
    this.#reserve(text.length * 3);
    const { written } = this.#encoder.encodeInto(text, this.#out.subarray(this.#length));
    this.#length += written;
    return written;
  }

  /**
   * Everything appended since the last take (documents' JSON and the caller's
   * text between them), in a buffer of its own that can be transferred; starts over.
   *
   * @example
   * ```ts
   * import { EventTranscoder } from "./bson_json.ts";
   * const transcoder = new EventTranscoder();
   * transcoder.appendString("{}");
   * transcoder.take(); // the bytes of "{}"
   * ```
   */
  take(): Uint8Array<ArrayBuffer> {
    const text = this.#out.slice(0, this.#length);
    this.clear();
    return text;
  }

  /**
   * Forgets what was appended (by a batch that failed half-way).
   *
   * @example
   * ```ts
   * import { EventTranscoder } from "./bson_json.ts";
   * new EventTranscoder().clear();
   * ```
   */
  clear(): void {
    this.#length = this.#start = 0;
  }

  #document(offset: number, size: number, id: Uint8Array | null): boolean {
    const body = this.#body;
    const end = offset + size;
    if (size < 5 || end > body.length || this.#view.getInt32(offset, true) !== size) return false;
    if (body[end - 1] !== 0) return false;
    let type = false, host: string | undefined, time: number | undefined;
    let idWritten = false;
    this.#keyCount = this.#keyBits = 0;
    this.#byte(0x7b);
    let at = offset + 4;
    while (at < end - 1) {
      const kind = body[at];
      const keyStart = at + 1;
      const keyEnd = this.#cstringEnd(keyStart, end);
      const valueAt = keyEnd + 1;
      if (this.#keyIs(keyStart, keyEnd, KEY_TYPE)) {
        if (type || kind !== 0x02 || !this.#stringIs(valueAt, this.#topicBytes)) return false;
        type = true;
        at = this.#skipString(valueAt, end);
        continue;
      }
      if (this.#keyIs(keyStart, keyEnd, KEY_TIME)) {
        if (time !== undefined || kind !== 0x09 || valueAt + 8 > end) return false;
        time = this.#int64Number(valueAt);
        if (!(Math.abs(time) <= MAX_DATE_MS)) return false;
        at = valueAt + 8;
        continue;
      }
      if (this.#keyIs(keyStart, keyEnd, KEY_HOST)) {
        if (host !== undefined || kind !== 0x02) return false;
        host = this.#hostAt(valueAt, end);
        at = this.#skipString(valueAt, end);
        continue;
      }
      this.#checkKey(0, keyStart, keyEnd);
      const mark = this.#length;
      if (this.#length > this.#start + 1) this.#byte(COMMA);
      this.#key(keyStart, keyEnd);
      at = this.#value(kind, valueAt, end, 1);
      if (this.#keyIs(keyStart, keyEnd, KEY_ID)) {
        // `_id` is the sink's: the derived one where the sender put its own, or none.
        // What is dropped must still be readable, as bson reads it before it is replaced.
        try {
          this.#decoder.decode(this.#out.subarray(mark, this.#length));
        } catch {
          return false;
        }
        this.#length = mark;
        if (id !== null) {
          if (this.#length > this.#start + 1) this.#byte(COMMA);
          this.#idField(id);
          idWritten = true;
        }
      }
    }
    if (at !== end - 1 || !type || host === undefined || time === undefined) return false;
    if (id !== null && !idWritten) {
      if (this.#length > this.#start + 1) this.#byte(COMMA);
      this.#idField(id);
    }
    this.#byte(0x7d);
    if (this.#beyondAscii) {
      try {
        this.#decoder.decode(this.#out.subarray(this.#start, this.#length));
      } catch {
        return false;
      }
    }
    this.#time = time;
    return true;
  }

  /** Writes the value of BSON type `kind` at `at`; returns where the next element starts. */
  #value(kind: number, at: number, end: number, depth: number): number {
    const view = this.#view;
    switch (kind) {
      case 0x01: {
        if (at + 8 > end) throw GIVE_UP;
        const value = view.getFloat64(at, true);
        if (!Number.isFinite(value)) throw GIVE_UP;
        // -0 keeps its sign as relaxed Extended JSON writes it (String(-0) is "0").
        this.#ascii(Object.is(value, -0) ? '{"$numberDouble":"-0.0"}' : String(value));
        return at + 8;
      }
      case 0x02: {
        const next = this.#skipString(at, end);
        this.#string(at + 4, next - 1);
        return next;
      }
      case 0x03:
      case 0x04: {
        if (depth >= MAX_DEPTH || at + 5 > end) throw GIVE_UP;
        const size = view.getInt32(at, true);
        if (size < 5 || at + size > end) throw GIVE_UP;
        this.#container(kind === 0x04, at, at + size, depth + 1);
        return at + size;
      }
      case 0x08: {
        if (at + 1 > end) throw GIVE_UP;
        const value = this.#body[at];
        if (value > 1) throw GIVE_UP;
        this.#ascii(value === 1 ? "true" : "false");
        return at + 1;
      }
      case 0x09: {
        if (at + 8 > end) throw GIVE_UP;
        const ms = this.#int64Number(at);
        // Receivers reject such a document; the ordinary decode says so.
        if (!(Math.abs(ms) <= MAX_DATE_MS)) throw GIVE_UP;
        this.#ascii('{"$date":"');
        this.#ascii(new Date(ms).toISOString());
        this.#ascii('"}');
        return at + 8;
      }
      case 0x0a:
        this.#ascii("null");
        return at;
      case 0x10:
        if (at + 4 > end) throw GIVE_UP;
        this.#int32(view.getInt32(at, true));
        return at + 4;
      case 0x12: {
        if (at + 8 > end) throw GIVE_UP;
        // Always wrapped, small values too: the dialect keeps the type (docs/protocol.md 2.9).
        this.#ascii('{"$numberLong":"');
        const high = view.getInt32(at + 4, true);
        const low = view.getUint32(at, true);
        // Within ±2^53 (most counters) the sum is exact and cheaper than a BigInt.
        this.#ascii(
          (high > -TWO_21 && high < TWO_21)
            ? String(high * 4294967296 + low)
            : view.getBigInt64(at, true).toString(),
        );
        this.#ascii('"}');
        return at + 8;
      }
      default:
        throw GIVE_UP;
    }
  }

  #container(array: boolean, start: number, end: number, depth: number): void {
    const body = this.#body;
    if (body[end - 1] !== 0) throw GIVE_UP;
    const keysFrom = this.#keyCount;
    this.#byte(array ? 0x5b : 0x7b);
    let first = true;
    let at = start + 4;
    while (at < end - 1) {
      const kind = body[at];
      const keyStart = at + 1;
      const keyEnd = this.#cstringEnd(keyStart, end);
      if (!first) this.#byte(COMMA);
      first = false;
      if (!array) {
        this.#checkKey(keysFrom, keyStart, keyEnd);
        this.#key(keyStart, keyEnd);
      }
      at = this.#value(kind, keyEnd + 1, end, depth);
    }
    if (at !== end - 1) throw GIVE_UP;
    this.#byte(array ? 0x5d : 0x7d);
    this.#keyCount = keysFrom;
  }

  /**
   * Gives up on keys whose place or meaning JavaScript would change: an index
   * (ordered first), `$…` (bson's DBRef), `__proto__`, a repeat (the last wins).
   */
  #checkKey(keysFrom: number, start: number, end: number): void {
    const body = this.#body;
    const first = body[start];
    if ((first >= 0x30 && first <= 0x39) || first === 0x24 || end === start) throw GIVE_UP;
    if (this.#keyIs(start, end, KEY_PROTO)) throw GIVE_UP;
    const length = end - start;
    const keys = this.#keys, top = this.#keyCount;
    if (keysFrom === 0) {
      // A document's own keys: a key whose bit no earlier key set repeats none of them,
      // and most keys find their bit clear (every pair compared cost a tenth of the read).
      const bit = 1 << ((length + first * 5 + body[end - 1] * 3) & 31);
      const seen = this.#keyBits & bit;
      this.#keyBits |= bit;
      if (seen === 0) {
        keys[top] = start;
        keys[top + 1] = end;
        this.#keyCount = top + 2;
        return;
      }
    }
    for (let i = keysFrom; i < top; i += 2) {
      if (keys[i + 1] - keys[i] !== length) continue;
      let same = true;
      for (let j = 0; j < length && same; j++) same = body[keys[i] + j] === body[start + j];
      if (same) throw GIVE_UP;
    }
    keys[top] = start;
    keys[top + 1] = end;
    this.#keyCount = top + 2;
  }

  /** Where the key starting at `start` ends (its NUL). */
  #cstringEnd(start: number, end: number): number {
    const body = this.#body;
    let at = start;
    while (at < end && body[at] !== 0) at++;
    if (at >= end) throw GIVE_UP;
    return at;
  }

  #keyIs(start: number, end: number, name: readonly number[]): boolean {
    if (end - start !== name.length) return false;
    const body = this.#body;
    for (let i = 0; i < name.length; i++) if (body[start + i] !== name[i]) return false;
    return true;
  }

  /** The index after the BSON string at `at` (length, bytes, NUL). */
  #skipString(at: number, end: number): number {
    if (at + 4 > end) throw GIVE_UP;
    const length = this.#view.getInt32(at, true);
    if (length < 1 || at + 4 + length > end || this.#body[at + 4 + length - 1] !== 0) {
      throw GIVE_UP;
    }
    return at + 4 + length;
  }

  #stringIs(at: number, expected: Uint8Array): boolean {
    const length = this.#view.getInt32(at, true);
    if (length !== expected.length + 1) return false;
    const body = this.#body;
    for (let i = 0; i < expected.length; i++) if (body[at + 4 + i] !== expected[i]) return false;
    return true;
  }

  /** The host string at `at`, decoded once per distinct host in a row. */
  #hostAt(at: number, end: number): string {
    const next = this.#skipString(at, end);
    const body = this.#body, known = this.#hostBytes;
    const start = at + 4, length = next - 1 - start;
    if (length === known.length) {
      let i = 0;
      while (i < length && body[start + i] === known[i]) i++;
      if (i === length) return this.#host;
    }
    const bytes = body.subarray(start, start + length);
    let host: string;
    try {
      host = this.#decoder.decode(bytes);
    } catch {
      throw GIVE_UP;
    }
    this.#hostBytes = bytes.slice();
    this.#host = host;
    return host;
  }

  #int64Number(at: number): number {
    const view = this.#view;
    return view.getInt32(at + 4, true) * 4294967296 + view.getUint32(at, true);
  }

  #idField(id: Uint8Array): void {
    this.#ascii('"_id":');
    this.appendQuoted(id);
  }

  #key(start: number, end: number): void {
    this.#string(start, end);
    this.#byte(COLON);
  }

  /** Writes body[start, end) as a JSON string, escaped as `JSON.stringify` does. */
  #string(start: number, end: number): void {
    this.#reserve(2 + (end - start) * 6);
    const out = this.#out, body = this.#body;
    let n = this.#length;
    out[n++] = QUOTE;
    // Most strings need no escape: four bytes per step up to the first that does, each
    // word copied as it is read (a subarray and set() per string cost more). A lane of
    // the word is flagged when its byte is below 0x20 or equal to a quote or a backslash
    // (lanes after a flagged one may be flagged too, which only hands them to the byte
    // loop). Bytes past ASCII are never flagged.
    let at = start;
    let bits = 0;
    const view = this.#view, outView = this.#outView;
    while (at + 4 <= end) {
      const word = view.getUint32(at, true);
      const quotes = word ^ QUOTES, backslashes = word ^ BACKSLASHES;
      const flagged = ((word - SPACES) & ~word) | ((quotes - ONES) & ~quotes) |
        ((backslashes - ONES) & ~backslashes);
      if (flagged & HIGH_BITS) break;
      outView.setUint32(n, word, true);
      n += 4;
      bits |= word;
      at += 4;
    }
    for (; at < end; at++) {
      const byte = body[at];
      if (byte >= 0x20 && byte !== QUOTE && byte !== BACKSLASH) {
        bits |= byte;
        out[n++] = byte;
        continue;
      }
      out[n++] = BACKSLASH;
      if (byte === QUOTE || byte === BACKSLASH) out[n++] = byte;
      else if (SHORT_ESCAPES[byte] !== undefined) out[n++] = SHORT_ESCAPES[byte];
      else {
        out[n++] = 0x75;
        out[n++] = 0x30;
        out[n++] = 0x30;
        out[n++] = HEX.charCodeAt(byte >> 4);
        out[n++] = HEX.charCodeAt(byte & 15);
      }
    }
    out[n++] = QUOTE;
    this.#length = n;
    if (bits & HIGH_BITS) this.#beyondAscii = true;
  }

  /** Writes an int32 in decimal, as String() does, without making the string. */
  #int32(value: number): void {
    this.#reserve(11);
    let n = this.#length;
    if (value < 0) this.#out[n++] = 0x2d;
    this.#length = writeDecimal(this.#out, n, Math.abs(value));
  }

  /** Writes a string known to be ASCII. */
  #ascii(text: string): void {
    this.#reserve(text.length);
    const out = this.#out;
    let n = this.#length;
    for (let i = 0; i < text.length; i++) out[n++] = text.charCodeAt(i);
    this.#length = n;
  }

  #byte(byte: number): void {
    this.#reserve(1);
    this.#out[this.#length++] = byte;
  }

  #reserve(more: number): void {
    if (this.#length + more <= this.#out.length) return;
    const grown = new Uint8Array(Math.max(this.#out.length * 2, this.#length + more));
    grown.set(this.#out.subarray(0, this.#length));
    this.#out = grown;
    this.#outView = new DataView(grown.buffer);
  }
}
