/**
 * Writes the protocol v1 test vectors (docs/vectors/*.json) from the cases below.
 * Deterministic: fixed source ids, indexes and times, so the files only change
 * when a case does. `deno run -A docs/vectors/generate.ts` rewrites them;
 * core/vectors_test.ts checks that the files equal what this produces.
 *
 * @module
 */
import { BSON, EJSON } from "bson";

/** One vector file's content. */
export interface Vector {
  /** One sentence. */
  description: string;
  /** The frames, lower-case hex. */
  frames: string[];
  /** What a receiver makes of them. */
  expect: ValidExpectation | { valid: false; reason: string };
}

/** The expectation for a message a receiver accepts. */
export interface ValidExpectation {
  valid: true;
  topic: string;
  header: { count: number; source: string; first: string } | null;
  /** Canonical Extended JSON v2 of each delivered event, in order. */
  events: Record<string, unknown>[];
  /** Documents dropped one by one: an invalid envelope, too deep, a date no Date holds. */
  rejected: number;
}

const utf8 = new TextEncoder();
const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const T = "2026-12-03T10:00:00.000Z";
const SOURCE = 0x1234567890abcdefn;

/** Canonical Extended JSON text → BSON document bytes, keeping field order and types. */
function bson(canonical: Record<string, unknown>): Uint8Array {
  return BSON.serialize(
    EJSON.parse(JSON.stringify(canonical), { relaxed: false }) as BSON.Document,
  );
}

function header(count: number, source: bigint, first: bigint, overrides: Partial<{
  magic: number;
  version: number;
  flags: number;
}> = {}): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, overrides.magic ?? 0xe5);
  view.setUint8(1, overrides.version ?? 1);
  view.setUint16(2, overrides.flags ?? 0, true);
  view.setUint32(4, count, true);
  view.setBigUint64(8, source, true);
  view.setBigUint64(16, first, true);
  return bytes;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const date = (iso: string) => ({ $date: { $numberLong: String(Date.parse(iso)) } });
const int = (n: number) => ({ $numberInt: String(n) });
const long = (n: string) => ({ $numberLong: n });
const double = (n: string) => ({ $numberDouble: n });

/** An event in canonical Extended JSON, envelope first. */
function event(type: string, fields: Record<string, unknown> = {}, time = T, host = "web1") {
  return { type, time: date(time), host, ...fields };
}

function valid(
  description: string,
  topic: string,
  events: Record<string, unknown>[],
  options: {
    source?: bigint;
    first?: bigint;
    legacy?: boolean;
    /** Canonical Extended JSON, or bytes for what Extended JSON cannot express. */
    rejectedDocs?: (Record<string, unknown> | Uint8Array)[];
  } = {},
): Vector {
  const docs = [...events, ...(options.rejectedDocs ?? [])];
  const body = concat(docs.map((doc) => doc instanceof Uint8Array ? doc : bson(doc)));
  const source = options.source ?? SOURCE;
  const first = options.first ?? 0n;
  const frames = options.legacy
    ? [utf8.encode(topic), body]
    : [utf8.encode(topic), header(docs.length, source, first), body];
  return {
    description,
    frames: frames.map(hex),
    expect: {
      valid: true,
      topic,
      header: options.legacy
        ? null
        : { count: docs.length, source: source.toString(), first: first.toString() },
      events,
      rejected: options.rejectedDocs?.length ?? 0,
    },
  };
}

function invalid(description: string, frames: Uint8Array[], reason: string): Vector {
  return { description, frames: frames.map(hex), expect: { valid: false, reason } };
}

const hit = event("http.hit", {
  method: "GET",
  path: "/index.html",
  query: "",
  status: int(200),
  body_bytes_sent: int(612),
  request_time: double("0.004"),
  remote_addr: "192.0.2.7",
  http_user_agent: "curl/8.5.0",
  http_referer: "",
});
const one = bson(hit);

/** Every vector, by file name (without .json). */
export function vectors(): Record<string, Vector> {
  const topic = utf8.encode("http.hit");
  const deploy = (n: number) => event("app.deploy", { version: `1.${n}` });
  return {
    "valid-one-event": valid("one http.hit event, first index 0", "http.hit", [hit]),
    "valid-batch": valid(
      "a batch of three events carrying indexes 41, 42 and 43 of their stream",
      "app.deploy",
      [deploy(1), deploy(2), deploy(3)],
      { first: 41n },
    ),
    "valid-bson-types": valid(
      "every BSON type the sources and libraries emit, one field each",
      "app.types",
      [event("app.types", {
        double: double("-2.5"),
        string: "text",
        document: { a: int(1) },
        array: [int(1), "two", double("3.0")],
        binary: { $binary: { base64: "AAEC/w==", subType: "00" } },
        uuid: { $binary: { base64: "ASNFZ4mrze8BI0VniavN7w==", subType: "04" } },
        object_id: { $oid: "65a1b2c3d4e5f60718293a4b" },
        true: true,
        false: false,
        date: date("2026-01-02T03:04:05.678Z"),
        null: null,
        int32: int(-2147483648),
        int64: long("1099511627776"),
        decimal: { $numberDecimal: "12345.6789" },
      })],
    ),
    "valid-int64-above-2-53": valid(
      "int64 values no double can hold: 2^53 + 1, the int64 extremes",
      "app.counter",
      [event("app.counter", {
        above: long("9007199254740993"),
        max: long("9223372036854775807"),
        min: long("-9223372036854775808"),
      })],
    ),
    "valid-date-before-1970": valid(
      "times before the Unix epoch (negative milliseconds), as envelope time and a field",
      "app.history",
      [event(
        "app.history",
        { landing: date("1969-07-20T20:17:40.000Z") },
        "1901-12-13T20:45:52.000Z",
      )],
    ),
    "valid-date-after-2038": valid(
      "times past 2038 (beyond 32-bit seconds) up to the year 9999",
      "app.future",
      [event("app.future", { last: date("9999-12-31T23:59:59.999Z") }, "2106-02-07T06:28:16.000Z")],
    ),
    "valid-nested": valid(
      "nested documents and arrays three levels deep",
      "smtp.transaction",
      [event("smtp.transaction", {
        queue_id: "4BQYq05Ygzz9vXp",
        recipients: [
          {
            to: "a@example.org",
            status: "sent",
            dsn: "2.0.0",
            hops: [{ relay: "mx1", delay: double("0.5") }],
          },
          { to: "b@example.org", status: "deferred", dsn: "4.4.1", hops: [] },
        ],
      })],
    ),
    "valid-unicode": valid(
      "UTF-8 in host, values and field names: accents, CJK, an emoji, a NUL-free control",
      "app.unicode",
      [event(
        "app.unicode",
        { "clé": "été", "名前": "東京", emoji: "😀", tab: "a\tb" },
        T,
        "hôte-1",
      )],
    ),
    "valid-announcement": valid(
      "a position announcement: count 0, empty body, next index 1000",
      "http.hit",
      [],
      { first: 1000n },
    ),
    "valid-legacy-two-frame": valid(
      "a minimal two-frame message [topic][body]: delivered, not accounted",
      "http.hit",
      [hit],
      { legacy: true },
    ),
    "valid-rejected-envelope": valid(
      "a valid message whose second document has another type and third no time: one delivered, two rejected",
      "http.hit",
      [hit],
      {
        rejectedDocs: [
          event("http.other"),
          { type: "http.hit", host: "web1" },
        ],
      },
    ),
    "valid-rejected-limits": valid(
      "a valid message whose second document nests 101 levels deep, third has a time and fourth a field's date past 8.64e15 ms: one delivered, three rejected",
      "http.hit",
      [hit],
      {
        rejectedDocs: [
          bson(event("http.hit", { deep: nested(100) })),
          withDate(bson(event("http.hit", {}, "1999-01-01T00:00:00.000Z")), 8_640_000_000_000_001n),
          withDate(
            bson(event("http.hit", { at: [{ when: date("1999-01-01T00:00:00.000Z") }] })),
            -8_640_000_000_000_001n,
          ),
        ],
      },
    ),
    "valid-large-index": valid(
      "indexes past 2^32 and the largest source id",
      "app.deploy",
      [deploy(9)],
      { source: 0xffffffffffffffffn, first: 4294967296n },
    ),
    "valid-envelope-only": valid(
      "events with no field but the envelope, from a host with a dotted name",
      "app.ping",
      [event("app.ping", {}, T, "db1.example.org"), event("app.ping", {}, T, "db2.example.org")],
    ),
    "invalid-frames-one": invalid("one frame", [topic], "frames"),
    "invalid-frames-four": invalid(
      "four frames",
      [topic, header(1, SOURCE, 0n), one, one],
      "frames",
    ),
    "invalid-topic-case": invalid(
      "a topic with capitals is not a type",
      [utf8.encode("HTTP.hit"), header(1, SOURCE, 0n), one],
      "topic",
    ),
    "invalid-topic-utf8": invalid(
      "a topic that is not UTF-8",
      [new Uint8Array([0x68, 0xff, 0xfe]), header(1, SOURCE, 0n), one],
      "topic",
    ),
    "invalid-topic-long": invalid(
      "a topic longer than 255 bytes",
      [utf8.encode("a".repeat(256)), header(1, SOURCE, 0n), one],
      "topic",
    ),
    "invalid-header-size": invalid(
      "a 23-byte header",
      [topic, header(1, SOURCE, 0n).subarray(0, 23), one],
      "header_size",
    ),
    "invalid-magic": invalid(
      "magic 0xE4",
      [topic, header(1, SOURCE, 0n, { magic: 0xe4 }), one],
      "magic",
    ),
    "invalid-version": invalid(
      "version 2, which a v1 receiver refuses",
      [topic, header(1, SOURCE, 0n, { version: 2 }), one],
      "version",
    ),
    "invalid-flags": invalid(
      "an unknown flag bit",
      [topic, header(1, SOURCE, 0n, { flags: 1 }), one],
      "flags",
    ),
    "invalid-index": invalid(
      "first at 2^53, beyond what a receiver counts exactly",
      [topic, header(1, SOURCE, 1n << 53n), one],
      "index",
    ),
    "invalid-bson-short": invalid(
      "a 5-byte body whose document declares 4 bytes, shorter than any document",
      [topic, header(1, SOURCE, 0n), new Uint8Array([4, 0, 0, 0, 0])],
      "bson",
    ),
    "invalid-bson-terminator": invalid(
      "a document whose last byte is not NUL",
      [
        topic,
        header(1, SOURCE, 0n),
        concat([one.subarray(0, one.length - 1), new Uint8Array([1])]),
      ],
      "bson",
    ),
    "invalid-oversized": invalid(
      "a document that declares more bytes than the body holds",
      [topic, header(1, SOURCE, 0n), one.subarray(0, one.length - 10)],
      "oversized",
    ),
    "invalid-truncated": invalid(
      "three bytes after the last document, too few for a length",
      [topic, header(1, SOURCE, 0n), concat([one, new Uint8Array([1, 2, 3])])],
      "truncated",
    ),
    "invalid-count": invalid(
      "the header says 2 documents, the body holds 1",
      [topic, header(2, SOURCE, 0n), one],
      "count",
    ),
    "invalid-legacy-empty": invalid(
      "a two-frame message with an empty body",
      [topic, new Uint8Array()],
      "count",
    ),
    "invalid-bson-utf8": invalid(
      "lengths tile the body, but a string is not UTF-8 (found only by decoding receivers)",
      [topic, header(1, SOURCE, 0n), badUtf8(one)],
      "bson",
    ),
  };
}

/** `{a: {a: … {} …}}`, `levels` documents deep. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let level = 1; level < levels; level++) value = { a: value };
  return value;
}

/** `document` with its one datetime of 1999-01-01 set to `ms`, which no Date holds. */
function withDate(document: Uint8Array, ms: bigint): Uint8Array {
  const copy = new Uint8Array(document);
  const view = new DataView(copy.buffer);
  const marker = BigInt(Date.parse("1999-01-01T00:00:00.000Z"));
  let at = 0;
  while (view.getBigInt64(at, true) !== marker) at++;
  view.setBigInt64(at, ms, true);
  return copy;
}

/** `document` with the first byte of its "GET" string value made invalid UTF-8. */
function badUtf8(document: Uint8Array): Uint8Array {
  const copy = document.slice();
  const at = hex(copy).indexOf(hex(utf8.encode("GET\0"))) / 2;
  copy[at] = 0xff;
  return copy;
}

/** The text of one vector file. */
export function vectorText(vector: Vector): string {
  return JSON.stringify(vector, null, 2) + "\n";
}

if (import.meta.main) {
  const dir = new URL(".", import.meta.url).pathname;
  for (const [name, vector] of Object.entries(vectors())) {
    Deno.writeTextFileSync(`${dir}${name}.json`, vectorText(vector));
  }
  console.log(`wrote ${Object.keys(vectors()).length} vectors to ${dir}`);
}
