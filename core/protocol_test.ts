import assert from "node:assert/strict";
import { encodeBatch } from "./codec.ts";
import {
  decodeTopic,
  DROP_REASONS,
  encodeHeader,
  type Header,
  HEADER_MAGIC,
  HEADER_SIZE,
  parseHeader,
  parseMessage,
  PROTOCOL_VERSION,
  randomSourceId,
} from "./protocol.ts";
import { MessageBuilder } from "./message.ts";

const utf8 = new TextEncoder();
const time = new Date("2026-11-23T10:00:00Z");

function event(n: number, type = "a.b") {
  return { type, time, host: "h", n };
}

function header(fields: Partial<Header> = {}): Uint8Array {
  return encodeHeader({ flags: 0, count: 1, source: 99n, first: 0, ...fields });
}

function rejected(frames: Uint8Array[]): string {
  const result = parseMessage(frames);
  assert.equal(result.ok, false, "expected a drop");
  if (result.ok) throw new Error("unreachable");
  assert.ok(DROP_REASONS.includes(result.reason), result.reason);
  assert.ok(result.detail.length > 0);
  return result.reason;
}

Deno.test("protocol: header layout is 24 bytes little-endian", () => {
  const bytes = encodeHeader({
    flags: 0,
    count: 0x01020304,
    source: 0x1122334455667788n,
    first: 0x0a0b0c0d0e,
  });
  assert.equal(bytes.length, HEADER_SIZE);
  assert.deepEqual([...bytes], [
    0xe5,
    0x01,
    0x00,
    0x00,
    0x04,
    0x03,
    0x02,
    0x01,
    0x88,
    0x77,
    0x66,
    0x55,
    0x44,
    0x33,
    0x22,
    0x11,
    0x0e,
    0x0d,
    0x0c,
    0x0b,
    0x0a,
    0x00,
    0x00,
    0x00,
  ]);
  assert.equal(bytes[0], HEADER_MAGIC);
  assert.equal(bytes[1], PROTOCOL_VERSION);
});

Deno.test("protocol: header round trip, including extremes and views", () => {
  for (
    const value of [
      { flags: 0, count: 0, source: 0n, first: 0 },
      { flags: 0, count: 0xffffffff, source: 2n ** 64n - 1n, first: Number.MAX_SAFE_INTEGER },
      { flags: 0, count: 7, source: randomSourceId(), first: 123456789 },
    ]
  ) {
    assert.deepEqual(parseHeader(encodeHeader(value)), value);
  }
  // Written into and read from the middle of a larger buffer.
  const big = new Uint8Array(100);
  encodeHeader({ flags: 0, count: 3, source: 5n, first: 9 }, big.subarray(40, 64));
  assert.equal(big[39], 0);
  assert.equal(big[64], 0);
  assert.deepEqual(parseHeader(big.subarray(40, 64)), { flags: 0, count: 3, source: 5n, first: 9 });
});

Deno.test("protocol: parseHeader names every bad header", () => {
  const reason = (frame: Uint8Array) => {
    const parsed = parseHeader(frame);
    assert.ok("reason" in parsed, "expected a rejection");
    return parsed.reason;
  };
  assert.equal(reason(new Uint8Array(0)), "header_size");
  assert.equal(reason(new Uint8Array(23)), "header_size");
  assert.equal(reason(new Uint8Array(25)), "header_size");
  const magic = header();
  magic[0] = 0xe4;
  assert.equal(reason(magic), "magic");
  const version = header();
  version[1] = 2;
  assert.equal(reason(version), "version");
  version[1] = 0;
  assert.equal(reason(version), "version");
  for (const bit of [0, 1, 7, 8, 15]) {
    const flags = header();
    new DataView(flags.buffer).setUint16(2, 1 << bit, true);
    assert.equal(reason(flags), "flags", `bit ${bit}`);
  }
  const index = header();
  new DataView(index.buffer).setBigUint64(16, BigInt(Number.MAX_SAFE_INTEGER) + 1n, true);
  assert.equal(reason(index), "index");
  new DataView(index.buffer).setBigUint64(16, 2n ** 64n - 1n, true);
  assert.equal(reason(index), "index");
});

Deno.test("protocol: decodeTopic accepts event types only", () => {
  assert.equal(decodeTopic(utf8.encode("http.hit")), "http.hit");
  assert.equal(decodeTopic(utf8.encode("a")), "a");
  assert.equal(decodeTopic(utf8.encode("x".repeat(255))), "x".repeat(255));
  for (
    const bad of ["", "x".repeat(256), "HTTP.hit", "a..b", ".a", "a.", "a b", "caf\u00e9", "a\0"]
  ) {
    assert.equal(decodeTopic(utf8.encode(bad)), undefined, JSON.stringify(bad));
  }
  assert.equal(decodeTopic(new Uint8Array([0x61, 0xff])), undefined);
  assert.equal(decodeTopic(new Uint8Array([0x61, 0xc3])), undefined); // cut sequence
  assert.equal(decodeTopic(new Uint8Array([0xed, 0xa0, 0x80])), undefined); // surrogate
});

Deno.test("protocol: a topic frame starting with a UTF-8 BOM is not a valid type", () => {
  // Subscriptions match bytes: EF BB BF 61 must not pass for topic "a".
  assert.equal(decodeTopic(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])), undefined);
});

Deno.test("protocol: a valid three-frame message parses", () => {
  const body = encodeBatch([event(1), event(2), event(3)]);
  const frames = [utf8.encode("a.b"), header({ count: 3, source: 42n, first: 10 }), body];
  const result = parseMessage(frames);
  assert.ok(result.ok);
  assert.equal(result.message.topic, "a.b");
  assert.equal(result.message.count, 3);
  assert.deepEqual(result.message.header, { flags: 0, count: 3, source: 42n, first: 10 });
  assert.equal(result.message.body, body);
});

Deno.test("protocol: a two-frame message parses without a header", () => {
  const body = encodeBatch([event(1), event(2)]);
  const result = parseMessage([utf8.encode("a.b"), body]);
  assert.ok(result.ok);
  assert.equal(result.message.header, undefined);
  assert.equal(result.message.count, 2);
});

Deno.test("protocol: parseMessage names every structural drop", () => {
  const topic = utf8.encode("a.b");
  const body = encodeBatch([event(1)]);
  assert.equal(rejected([]), "frames");
  assert.equal(rejected([topic]), "frames");
  assert.equal(rejected([topic, header(), body, body]), "frames");
  assert.equal(rejected([new Uint8Array([0xff, 0xfe]), header(), body]), "topic");
  assert.equal(rejected([utf8.encode("Bad Topic"), header(), body]), "topic");
  assert.equal(rejected([new Uint8Array(0), body]), "topic");
  assert.equal(rejected([topic, new Uint8Array(10), body]), "header_size");
  const magic = header();
  magic[0] = 0;
  assert.equal(rejected([topic, magic, body]), "magic");
  const version = header();
  version[1] = 9;
  assert.equal(rejected([topic, version, body]), "version");
  const flags = header();
  flags[2] = 1;
  assert.equal(rejected([topic, flags, body]), "flags");
  const index = header();
  index[23] = 0x80;
  assert.equal(rejected([topic, index, body]), "index");
  assert.equal(rejected([topic, header({ count: 2 }), body]), "count");
  assert.equal(rejected([topic, header({ count: 0 }), body]), "count");
  assert.equal(rejected([topic, header({ count: 1 }), new Uint8Array(0)]), "count");
  // An empty body only means something with a header (a position announcement).
  assert.equal(rejected([topic, new Uint8Array(0)]), "count");
  assert.equal(rejected([topic, header(), body.subarray(0, 4)]), "truncated");
  assert.equal(rejected([topic, header(), body.subarray(0, body.length - 1)]), "oversized");
  const unterminated = body.slice();
  unterminated[unterminated.length - 1] = 7;
  assert.equal(rejected([topic, header(), unterminated]), "bson");
  // Checks run in frame order: a bad topic wins over a bad header.
  assert.equal(rejected([new Uint8Array([0xff]), magic, body]), "topic");
});

Deno.test("protocol: an empty body with a header is a position announcement", () => {
  const result = parseMessage([
    utf8.encode("a.b"),
    header({ count: 0, source: 3n, first: 17 }),
    new Uint8Array(0),
  ]);
  assert.ok(result.ok);
  assert.equal(result.message.count, 0);
  assert.equal(result.message.header?.first, 17);
});

Deno.test("protocol: parseMessage does not decode BSON (the router's fast path)", () => {
  // Well-framed but undecodable content passes the structural check.
  const body = encodeBatch([{ s: "abcd" }]);
  body[body.indexOf(0x61)] = 0xff;
  assert.ok(parseMessage([utf8.encode("a.b"), header(), body]).ok);
});

Deno.test("protocol: randomSourceId is a non-zero 64-bit id that differs per call", () => {
  const ids = new Set<bigint>();
  for (let i = 0; i < 100; i++) {
    const id = randomSourceId();
    assert.ok(id > 0n && id < 2n ** 64n);
    ids.add(id);
  }
  assert.equal(ids.size, 100);
});

Deno.test("message: MessageBuilder numbers events per topic", () => {
  const builder = new MessageBuilder(7n);
  const a1 = builder.build("a.x", [event(1, "a.x"), event(2, "a.x")]);
  const b1 = builder.build("b.x", [event(1, "b.x")]);
  const a2 = builder.build("a.x", [event(3, "a.x")]);
  const parsed = [a1, b1, a2].map((frames) => parseMessage(frames));
  const summary = parsed.map((result) => {
    assert.ok(result.ok);
    return [result.message.topic, result.message.header?.source, result.message.header?.first];
  });
  assert.deepEqual(summary, [["a.x", 7n, 0], ["b.x", 7n, 0], ["a.x", 7n, 2]]);
});
