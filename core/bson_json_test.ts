import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { BSON, Decimal128, Long, ObjectId } from "bson";
import { EventTranscoder } from "./bson_json.ts";
import { decodeBatch } from "./codec.ts";
import { envelopeProblem } from "./event.ts";
import { encodeFields } from "./json.ts";
import { mulberry32 } from "./random.ts";
import { farDatedEvent } from "./testdata/far_date.ts";

/**
 * What the ordinary path makes of a document: decoded, checked, `_id` set or
 * removed, fields to JSON; undefined when it refuses the document.
 */
function ordinary(bytes: Uint8Array, topic: string, id: string | null) {
  let document: Record<string, unknown>;
  try {
    // As the store's own fallback does: every int64 stays one.
    [document] = decodeBatch(bytes, { useBigInt64: true });
  } catch {
    return undefined;
  }
  if (envelopeProblem(document) !== undefined || document.type !== topic) return undefined;
  if (id === null) delete document._id;
  else document._id = id;
  const time = (document.time as Date).getTime();
  return { type: topic, time, host: document.host as string, data: encodeFields(document) };
}

const STRINGS = [
  "",
  "plain",
  'quote " and \\ backslash',
  "tab\there\nnewline\r\u0000nul\u0001\u001f\u007f",
  "ünïcødé ✓ 𝄞 \u2028\u2029",
  "/static/app.js?v=12345",
];
const NUMBERS = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 2 ** 31 - 1, -(2 ** 31), 2 ** 53, NaN, Infinity];
const KEYS = ["a", "status", "path", "_id", "1", "0a", "$ref", "__proto__", "ü", 'k"q', "x\ty"];

function randomValue(random: () => number, depth: number): unknown {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  switch (Math.floor(random() * 16)) {
    case 0:
      return pick(STRINGS);
    case 1:
      return pick(NUMBERS);
    case 2:
      return Math.floor(random() * 2 ** 31) - 2 ** 30;
    case 3:
      return new BSON.Int32(Math.floor(random() * 1000) - 500);
    case 4:
      return Long.fromBigInt(
        pick([0n, 1n, -1n, 2n ** 53n, -(2n ** 53n), 2n ** 53n + 1n, -(2n ** 63n)]),
      );
    case 5:
      return random() < 0.5;
    case 6:
      return null;
    case 7:
      return new Date(pick([0, -1, 1733300000123, -62167219200000, 253402300800000, 8.64e15]));
    case 8:
      return depth < 3 ? randomDocument(random, depth + 1) : "leaf";
    case 9:
      return depth < 3 ? Array.from({ length: 3 }, () => randomValue(random, depth + 1)) : [];
    case 10:
      return new ObjectId();
    case 11:
      return new BSON.Binary(new Uint8Array([1, 2, 3]));
    case 12:
      return Decimal128.fromString("1.5");
    case 13:
      return new BSON.Double(pick(NUMBERS));
    case 14:
      return /ab+c/i;
    default:
      return `s${Math.floor(random() * 100)}`;
  }
}

function randomDocument(random: () => number, depth: number): Record<string, unknown> {
  const document: Record<string, unknown> = {};
  const fields = Math.floor(random() * 6);
  for (let i = 0; i < fields; i++) {
    const key = random() < 0.3 ? KEYS[Math.floor(random() * KEYS.length)] : `f${i}`;
    Object.defineProperty(document, key, {
      value: randomValue(random, depth),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return document;
}

/** An event with random fields; sometimes a broken envelope. */
function randomEvent(random: () => number): Record<string, unknown> {
  const event: Record<string, unknown> = {
    type: random() < 0.95 ? "http.hit" : "other.type",
    time: random() < 0.95 ? new Date(1733300000000 + Math.floor(random() * 1e6)) : "soon",
    host: random() < 0.95 ? (random() < 0.5 ? "web-1" : "wéb-2") : 7,
  };
  if (random() < 0.05) delete event.host;
  return { ...event, ...randomDocument(random, 0) };
}

/** Flips, drops or overwrites a few bytes. */
function mutate(bytes: Uint8Array, random: () => number): Uint8Array {
  const copy = bytes.slice();
  const changes = 1 + Math.floor(random() * 3);
  for (let i = 0; i < changes; i++) {
    copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
  }
  return copy;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The envelope and, as text, the JSON the transcoder reads from a document; undefined when it gives up. */
function rowOf(
  transcoder: EventTranscoder,
  body: Uint8Array,
  offset: number,
  size: number,
  topic: string,
  id: string | null,
) {
  transcoder.clear();
  const envelope = transcoder.envelope(
    body,
    offset,
    size,
    topic,
    id === null ? null : new TextEncoder().encode(id),
  );
  // What it appended to the text is the document's JSON, and nothing when it gave up.
  const text = transcoder.take();
  if (envelope === undefined) {
    assert.equal(text.length, 0);
    return undefined;
  }
  const { jsonBytes, ...row } = envelope;
  assert.equal(jsonBytes, text.length);
  return { ...row, data: utf8.decode(text) };
}

Deno.test("transcoder: every row it gives is the ordinary path's row, over 20,000 random events", () => {
  const random = mulberry32(1234);
  const transcoder = new EventTranscoder();
  let fast = 0, agreedRefusals = 0;
  for (let i = 0; i < 20_000; i++) {
    let bytes = BSON.serialize(randomEvent(random));
    if (i % 4 === 3) bytes = mutate(bytes, random);
    const id = random() < 0.8 ? `ff-http.hit-${i}` : null;
    const row = rowOf(transcoder, bytes, 0, bytes.length, "http.hit", id);
    const expected = ordinary(bytes, "http.hit", id);
    if (row === undefined) {
      if (expected === undefined) agreedRefusals++;
      continue;
    }
    fast++;
    assert.deepEqual(
      row,
      expected,
      `event ${i}: ${
        BSON.EJSON.stringify(BSON.deserialize(bytes, { validation: { utf8: false } }))
      }`,
    );
  }
  // Both sides are exercised: a transcoder that always gave up would not pass.
  assert.ok(fast > 3000, `only ${fast} rows took the fast path`);
  assert.ok(agreedRefusals > 1000, `only ${agreedRefusals} refusals`);
});

Deno.test("transcoder: every int64 is a $numberLong, small ones too; -0 keeps its sign (audit #4, #6)", () => {
  const transcoder = new EventTranscoder();
  const event = {
    type: "t.i64",
    time: new Date(0),
    host: "h",
    small: Long.fromNumber(5),
    negative: Long.fromNumber(-7),
    edge: Long.fromBigInt(2n ** 53n),
    big: Long.fromBigInt(2n ** 53n + 1n),
    low: Long.fromBigInt(-(2n ** 63n)),
    negz: new BSON.Double(-0),
    zero: new BSON.Double(0),
  };
  const bytes = BSON.serialize(event);
  const row = rowOf(transcoder, bytes, 0, bytes.length, "t.i64", null);
  assert.equal(
    row?.data,
    '{"small":{"$numberLong":"5"},"negative":{"$numberLong":"-7"},' +
      '"edge":{"$numberLong":"9007199254740992"},"big":{"$numberLong":"9007199254740993"},' +
      '"low":{"$numberLong":"-9223372036854775808"},"negz":{"$numberDouble":"-0.0"},"zero":0}',
  );
  assert.deepEqual(row, ordinary(bytes, "t.i64", null));
});

Deno.test("transcoder: an nginx event takes the fast path, _id replaced in place or appended", () => {
  const transcoder = new EventTranscoder();
  const event = {
    type: "http.hit",
    time: new Date(1733300000123),
    host: "web-1",
    _id: "sender's",
    status: 200,
    path: '/a?b="c"',
    request_time: 0.012,
    bytes: Long.fromBigInt(2n ** 60n),
  };
  const bytes = BSON.serialize(event);
  assert.deepEqual(rowOf(transcoder, bytes, 0, bytes.length, "http.hit", "ff-http.hit-3"), {
    type: "http.hit",
    time: 1733300000123,
    host: "web-1",
    data:
      '{"_id":"ff-http.hit-3","status":200,"path":"/a?b=\\"c\\"","request_time":0.012,"bytes":{"$numberLong":"1152921504606846976"}}',
  });
  const { _id: _, ...withoutId } = event;
  const plain = BSON.serialize(withoutId);
  assert.equal(
    rowOf(transcoder, plain, 0, plain.length, "http.hit", "ff-http.hit-4")?.data,
    '{"status":200,"path":"/a?b=\\"c\\"","request_time":0.012,"bytes":{"$numberLong":"1152921504606846976"},"_id":"ff-http.hit-4"}',
  );
  assert.equal(
    rowOf(transcoder, bytes, 0, bytes.length, "http.hit", null)?.data,
    '{"status":200,"path":"/a?b=\\"c\\"","request_time":0.012,"bytes":{"$numberLong":"1152921504606846976"}}',
  );
});

Deno.test("transcoder: a date no Date holds leaves the row to the ordinary path, which refuses it", () => {
  const transcoder = new EventTranscoder();
  for (const depth of [0, 1, 3]) {
    for (const [ms, readable] of [[-8_640_000_000_000_000n, true], [2n ** 60n, false]] as const) {
      const bytes = farDatedEvent("http.hit", ms, depth);
      const row = rowOf(transcoder, bytes, 0, bytes.length, "http.hit", null);
      assert.equal(row !== undefined, readable, `${ms} at depth ${depth}`);
      assert.deepEqual(row, ordinary(bytes, "http.hit", null));
    }
  }
});

Deno.test("transcoder: a document inside a larger body, and one sent on another topic", () => {
  const transcoder = new EventTranscoder();
  const one = BSON.serialize({ type: "a.b", time: new Date(0), host: "h", n: 1 });
  const two = BSON.serialize({ type: "a.b", time: new Date(1), host: "h", n: 2 });
  const body = new Uint8Array([...one, ...two]);
  assert.equal(rowOf(transcoder, body, one.length, two.length, "a.b", null)?.data, '{"n":2}');
  assert.equal(rowOf(transcoder, body, 0, one.length, "a.c", null), undefined);
  // A size that runs past the body is never read past.
  assert.equal(rowOf(transcoder, body, one.length, two.length + 1, "a.b", null), undefined);
});

Deno.test("transcoder: envelope leaves the JSON as UTF-8 bytes; bad UTF-8 in a key or value gives none", () => {
  const transcoder = new EventTranscoder();
  const T0 = Date.UTC(2024, 0, 1);
  const event = { type: "a.b", time: new Date(T0), host: "h", "clé": "café ✓", n: 1 };
  const bytes = BSON.serialize(event);
  assert.deepEqual(
    transcoder.envelope(bytes, 0, bytes.length, "a.b", new TextEncoder().encode("1-a.b-0")),
    {
      type: "a.b",
      time: T0,
      host: "h",
      jsonBytes: 42,
    },
  );
  assert.equal(
    new TextDecoder().decode(transcoder.json),
    '{"clé":"café ✓","n":1,"_id":"1-a.b-0"}',
  );
  for (const text of ["clé", "café ✓"]) {
    const broken = BSON.serialize(event);
    const at = Buffer.from(broken).indexOf(text) + text.indexOf("é");
    assert.equal(broken[at], 0xc3);
    broken[at] = 0xff; // no UTF-8 sequence starts with 0xff
    assert.equal(transcoder.envelope(broken, 0, broken.length, "a.b", null), undefined, text);
    assert.equal(rowOf(transcoder, broken, 0, broken.length, "a.b", null), undefined, text);
  }
});

Deno.test("transcoder: an escape, a byte past ASCII or bad UTF-8 is found at every place in a string", () => {
  // The scan reads four bytes at a time: each special byte at each place of strings of
  // each length, so that every lane of a word and the bytes after the last word are hit.
  const transcoder = new EventTranscoder();
  const specials = ['"', "\\", "\n", "\u0000", "\u001f", " ", "~", "é", "✓", "𝄞"];
  for (let length = 1; length <= 13; length++) {
    for (let place = 0; place < length; place++) {
      for (const special of [...specials, "bad"]) {
        const text = "a".repeat(place) + (special === "bad" ? "é" : special) +
          "b".repeat(length - place - 1);
        let bytes = BSON.serialize({ type: "a.b", time: new Date(0), host: "h", s: text });
        if (special === "bad") {
          bytes = bytes.slice();
          bytes[Buffer.from(bytes).indexOf("é") + 1] = 0x41; // 0xc3 0x41: not UTF-8
        }
        const what = `${JSON.stringify(special)} at ${place} of ${length}`;
        const row = rowOf(transcoder, bytes, 0, bytes.length, "a.b", null);
        if (special === "bad") assert.equal(row, undefined, what);
        else assert.equal(row?.data, JSON.stringify({ s: text }), what);
      }
    }
  }
});

Deno.test("transcoder: documents and the caller's text accumulate until take; one it gives up on leaves nothing", () => {
  const transcoder = new EventTranscoder();
  const time = new Date(0);
  const first = BSON.serialize({ type: "a.b", time, host: "h", n: 1 });
  const refused = BSON.serialize({ type: "a.b", time, host: "h", $n: 2 });
  const second = BSON.serialize({ type: "a.b", time, host: "h", s: "x" });
  const id = new TextEncoder().encode("ff-a.b-1");
  assert.equal(transcoder.envelope(first, 0, first.length, "a.b", null)?.jsonBytes, 7);
  assert.equal(transcoder.appendQuoted(id), 10);
  assert.equal(transcoder.envelope(refused, 0, refused.length, "a.b", id), undefined);
  assert.equal(transcoder.appendString('{"é":1}'), 8);
  assert.equal(transcoder.envelope(second, 0, second.length, "a.b", id)?.jsonBytes, 26);
  assert.equal(utf8.decode(transcoder.json), '{"s":"x","_id":"ff-a.b-1"}');
  assert.equal(
    utf8.decode(transcoder.take()),
    '{"n":1}"ff-a.b-1"{"é":1}{"s":"x","_id":"ff-a.b-1"}',
  );
  assert.equal(transcoder.take().length, 0);
});
