import assert from "node:assert/strict";
import { Binary, BSON, Decimal128, Long, ObjectId } from "bson";
import {
  BatchEncoder,
  CodecError,
  countDocuments,
  decodeBatch,
  decodeEvents,
  encodeBatch,
  MAX_DOCUMENT_SIZE,
} from "./codec.ts";

const time = new Date("2026-11-23T10:00:00.123Z");

function codecError(reason: string): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof CodecError, `expected CodecError, got ${error}`);
    assert.equal(error.reason, reason, error.message);
    return true;
  };
}

Deno.test("codec: every BSON type events use survives a round trip", () => {
  const oid = new ObjectId();
  const event = {
    type: "http.hit",
    time,
    host: "web1",
    path: "/caf\u00e9/\u{1F600}",
    status: 200,
    negative: -2147483648,
    large: 2 ** 40,
    ratio: 0.25,
    nan: NaN,
    ok: true,
    bad: false,
    nothing: null,
    long: Long.fromString("9007199254740993"),
    bigint: -(2n ** 62n),
    tags: ["a", "b"],
    mixed: [1, "x", true, null, 2.5],
    _id: oid,
    raw: new Binary(new Uint8Array([0, 1, 2, 255])),
    price: Decimal128.fromString("19.90"),
    when: new Date(0),
  };
  const [back] = decodeBatch(encodeBatch([event]));
  assert.equal(back.type, "http.hit");
  assert.deepEqual(back.time, time);
  assert.equal(back.path, event.path);
  assert.equal(back.status, 200);
  assert.equal(back.negative, -2147483648);
  assert.equal(back.large, 2 ** 40);
  assert.equal(back.ratio, 0.25);
  assert.ok(Number.isNaN(back.nan));
  assert.equal(back.ok, true);
  assert.equal(back.bad, false);
  assert.equal(back.nothing, null);
  // Beyond 2^53 a long stays a Long: promoting it to a number would lose digits.
  assert.ok(back.long instanceof Long);
  assert.equal((back.long as Long).toString(), "9007199254740993");
  assert.equal((back.bigint as Long).toString(), (-(2n ** 62n)).toString());
  assert.deepEqual(back.tags, ["a", "b"]);
  assert.deepEqual(back.mixed, [1, "x", true, null, 2.5]);
  assert.ok(back._id instanceof ObjectId);
  assert.equal((back._id as ObjectId).toHexString(), oid.toHexString());
  assert.ok(back.raw instanceof Binary);
  assert.deepEqual([...(back.raw as Binary).buffer], [0, 1, 2, 255]);
  assert.ok(back.price instanceof Decimal128);
  assert.equal((back.price as Decimal128).toString(), "19.90");
  assert.deepEqual(back.when, new Date(0));
});

Deno.test("codec: int64 that fits a double comes back as a number", () => {
  const [back] = decodeBatch(encodeBatch([{ a: 5n, b: Long.fromNumber(2 ** 50) }]));
  assert.equal(back.a, 5);
  assert.equal(back.b, 2 ** 50);
});

Deno.test("codec: undefined fields are left out, not encoded as null", () => {
  const [back] = decodeBatch(encodeBatch([{ a: 1, b: undefined }]));
  assert.deepEqual(Object.keys(back), ["a"]);
});

Deno.test("codec: a body is the documents back to back (mongodump format)", () => {
  const docs = [{ n: 1 }, { n: 2, s: "two" }, { n: 3 }];
  const body = encodeBatch(docs);
  const separately = docs.map((doc) => BSON.serialize(doc));
  assert.equal(body.length, separately.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of separately) {
    assert.deepEqual(body.subarray(offset, offset + part.length), new Uint8Array(part));
    offset += part.length;
  }
  assert.equal(countDocuments(body), 3);
  assert.deepEqual(decodeBatch(body), docs);
});

Deno.test("codec: empty batch encodes to an empty body", () => {
  const body = encodeBatch([]);
  assert.equal(body.length, 0);
  assert.equal(countDocuments(body), 0);
  assert.deepEqual(decodeBatch(body), []);
});

Deno.test("codec: countDocuments works on a view into a larger buffer", () => {
  const body = encodeBatch([{ a: 1 }, { b: "x" }]);
  const big = new Uint8Array(body.length + 20);
  big.set(body, 7);
  const view = big.subarray(7, 7 + body.length);
  assert.equal(countDocuments(view), 2);
  assert.deepEqual(decodeBatch(view), [{ a: 1 }, { b: "x" }]);
});

Deno.test("codec: countDocuments names each malformation", () => {
  const body = encodeBatch([{ a: 1 }, { b: "a longer second document" }]);
  // The second document's length prefix is intact but its bytes are cut.
  assert.throws(() => countDocuments(body.subarray(0, body.length - 10)), codecError("oversized"));
  // Fewer than 5 bytes left for the next document.
  assert.throws(() => countDocuments(body.subarray(0, 3)), codecError("truncated"));
  const extra = new Uint8Array(body.length + 3);
  extra.set(body);
  assert.throws(() => countDocuments(extra), codecError("truncated"));
  // A length prefix below the minimum document size.
  const tiny = body.slice();
  new DataView(tiny.buffer).setInt32(0, 4, true);
  assert.throws(() => countDocuments(tiny), codecError("bson"));
  const negative = body.slice();
  new DataView(negative.buffer).setInt32(0, -100, true);
  assert.throws(() => countDocuments(negative), codecError("bson"));
  // A length prefix past the end of the body.
  const long = body.slice();
  new DataView(long.buffer).setInt32(0, 0x7fffffff, true);
  assert.throws(() => countDocuments(long), codecError("oversized"));
  // A document whose last byte is not its NUL terminator.
  const unterminated = body.slice();
  const firstSize = new DataView(body.buffer).getInt32(0, true);
  unterminated[firstSize - 1] = 1;
  assert.throws(() => countDocuments(unterminated), codecError("bson"));
});

Deno.test("codec: decodeBatch checks the expected count", () => {
  const body = encodeBatch([{ a: 1 }, { a: 2 }]);
  assert.equal(decodeBatch(body, { expectedCount: 2 }).length, 2);
  assert.throws(() => decodeBatch(body, { expectedCount: 3 }), codecError("count"));
  assert.throws(() => decodeBatch(body, { expectedCount: 1 }), codecError("count"));
});

Deno.test("codec: decodeBatch rejects bad BSON inside well-framed documents", () => {
  // Invalid UTF-8 inside a string value.
  const doc = BSON.serialize({ s: "abcd" });
  const badUtf8 = doc.slice();
  const at = badUtf8.indexOf(0x61); // "a" of the value
  badUtf8[at] = 0xff;
  assert.equal(countDocuments(badUtf8), 1);
  assert.throws(() => decodeBatch(badUtf8), codecError("bson"));
  // An unknown element type byte.
  const badType = doc.slice();
  badType[4] = 0x7e;
  assert.throws(() => decodeBatch(badType), codecError("bson"));
  // A string length pointing past the document.
  const badLength = doc.slice();
  new DataView(badLength.buffer).setInt32(7, 1000, true);
  assert.throws(() => decodeBatch(badLength), codecError("bson"));
});

Deno.test("codec: decodeEvents keeps valid envelopes of the right topic", () => {
  const body = encodeBatch([
    { type: "a.b", time, host: "h", n: 1 },
    { type: "a.b", host: "h", n: 2 }, // no time
    { type: "a.b", time: "yesterday", host: "h", n: 3 },
    { type: "a.b", time, host: 7, n: 4 },
    { type: "A B", time, host: "h", n: 5 },
    { type: "a.c", time, host: "h", n: 6 }, // other topic
    { type: "a.b", time, host: "h", n: 7 },
  ]);
  const all = decodeEvents(body);
  assert.deepEqual(all.events.map((e) => e.n), [1, 6, 7]);
  assert.equal(all.rejected, 4);
  const onTopic = decodeEvents(body, { topic: "a.b" });
  assert.deepEqual(onTopic.events.map((e) => e.n), [1, 7]);
  assert.equal(onTopic.rejected, 5);
  assert.ok(onTopic.events[0].time instanceof Date);
  assert.throws(() => decodeEvents(body, { expectedCount: 2 }), codecError("count"));
});

Deno.test("codec: a __proto__ key cannot lend a document an envelope", () => {
  // {"__proto__": {type, time, host}} built by hand: BSON allows any key.
  const inner = BSON.serialize({ type: "a.b", time, host: "h" });
  const key = new TextEncoder().encode("__proto__");
  const size = 4 + 1 + key.length + 1 + inner.length + 1;
  const doc = new Uint8Array(size);
  new DataView(doc.buffer).setInt32(0, size, true);
  doc[4] = 0x03;
  doc.set(key, 5);
  doc.set(inner, 6 + key.length);
  const { events, rejected } = decodeEvents(doc, { topic: "a.b" });
  assert.equal(events.length, 0);
  assert.equal(rejected, 1);
  const [decoded] = decodeBatch(doc);
  assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
  assert.equal(({} as Record<string, unknown>).type, undefined);
});

Deno.test("codec: BatchEncoder grows for large documents and keeps earlier ones", () => {
  const encoder = new BatchEncoder(64);
  const big = "x".repeat(1024 * 1024);
  encoder.add({ n: 1 });
  const size = encoder.add({ n: 2, big });
  assert.ok(size > 1024 * 1024, `size ${size}`);
  assert.equal(size, BSON.calculateObjectSize({ n: 2, big }));
  encoder.add({ n: 3 });
  assert.equal(encoder.count, 3);
  const encoded = encoder.byteLength;
  const body = encoder.take();
  assert.equal(body.length, encoded);
  const docs = decodeBatch(body);
  assert.deepEqual(docs.map((doc) => doc.n), [1, 2, 3]);
  assert.equal((docs[1].big as string).length, big.length);
  assert.equal(docs[1].big, big);
});

Deno.test("codec: BatchEncoder sizes, undoLast and take", () => {
  const encoder = new BatchEncoder(16);
  assert.equal(encoder.count, 0);
  assert.equal(encoder.byteLength, 0);
  const first = encoder.add({ a: "first" });
  assert.equal(first, BSON.calculateObjectSize({ a: "first" }));
  const second = encoder.add({ a: "second", pad: "y".repeat(100) });
  assert.equal(encoder.byteLength, first + second);
  encoder.undoLast(second);
  assert.equal(encoder.count, 1);
  assert.equal(encoder.byteLength, first);
  encoder.add({ a: "third" });
  const body = encoder.take();
  assert.deepEqual(decodeBatch(body), [{ a: "first" }, { a: "third" }]);
  // take() starts over and its result is a copy, unaffected by later adds.
  assert.equal(encoder.count, 0);
  assert.equal(encoder.byteLength, 0);
  encoder.add({ a: "zzzzz" });
  assert.deepEqual(decodeBatch(body), [{ a: "first" }, { a: "third" }]);
  assert.deepEqual(decodeBatch(encoder.take()), [{ a: "zzzzz" }]);
});

Deno.test("codec: BatchEncoder leaves its state alone when a document cannot be encoded", () => {
  const encoder = new BatchEncoder(64);
  encoder.add({ a: 1 });
  const cyclic: Record<string, unknown> = { a: 2 };
  cyclic.self = cyclic;
  assert.throws(() => encoder.add(cyclic));
  assert.equal(encoder.count, 1);
  encoder.add({ a: 3 });
  assert.deepEqual(decodeBatch(encoder.take()), [{ a: 1 }, { a: 3 }]);
});

Deno.test({
  name: "codec: a document over 16 MiB is refused, never silently truncated",
  fn() {
    const encoder = new BatchEncoder();
    encoder.add({ n: 1 });
    for (const size of [16 * 1024 * 1024, 18 * 1024 * 1024]) {
      assert.throws(
        () => encoder.add({ s: "x".repeat(size) }),
        (error: unknown) => error instanceof CodecError && error.reason === "oversized",
      );
    }
    // Just under the limit still encodes whole, and the refused ones left no trace.
    const fits = "y".repeat(MAX_DOCUMENT_SIZE - 64);
    encoder.add({ s: fits });
    const [first, second] = decodeBatch(encoder.take());
    assert.deepEqual(first, { n: 1 });
    assert.equal((second.s as string).length, fits.length);
  },
});

Deno.test("an Invalid Date is refused as unencodable, not written as 1970", () => {
  for (
    const event of [
      { type: "a.b", time: new Date(NaN), host: "h" },
      { type: "a.b", time, host: "h", at: new Date("not a date") },
      { type: "a.b", time, host: "h", id: new ObjectId(), seen: [{ at: new Date(NaN) }] },
    ]
  ) {
    assert.throws(() => encodeBatch([event]), codecError("unencodable"));
  }
  const [decoded] = decodeBatch(
    encodeBatch([{ type: "a.b", time, host: "h", id: new ObjectId() }]),
  );
  assert.deepEqual(decoded.time, time, "valid dates beside class instances still go");
});
