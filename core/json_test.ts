import assert from "node:assert/strict";
import { Binary, BSON, Decimal128, Long, ObjectId, Timestamp } from "bson";
import { decodeEvents } from "./codec.ts";
import {
  decodeFields,
  decodeValue,
  encodeFields,
  encodeValue,
  fromJsonLine,
  toJsonLine,
} from "./json.ts";

Deno.test("encodeFields leaves the envelope out and wraps what JSON cannot hold", () => {
  const json = encodeFields({
    type: "app.x",
    time: new Date(0),
    host: "h",
    n: 1.5,
    s: "x",
    at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
    big: 2n ** 63n - 1n,
    nan: NaN,
    skipped: undefined,
  });
  assert.deepEqual(JSON.parse(json), {
    n: 1.5,
    s: "x",
    at: { $date: "2026-01-02T03:04:05.006Z" },
    big: { $numberLong: "9223372036854775807" },
    nan: { $numberDouble: "NaN" },
  });
});

Deno.test("every BSON value survives encode and decode", () => {
  const oid = new ObjectId("65a1b2c3d4e5f60718293a4b");
  const fields: Record<string, unknown> = {
    date: new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 1)),
    bigint: -(2n ** 62n) - 3n,
    long: Long.fromString("9007199254740993"),
    oid,
    binary: new Binary(new Uint8Array([0, 1, 2, 250, 255]), 0x80),
    bytes: new Uint8Array([9, 8, 7]),
    decimal: Decimal128.fromString("1234.5678901234567890"),
    timestamp: new Timestamp({ t: 1700000000, i: 7 }),
    inf: -Infinity,
    list: [1, new Date(5), "a", null],
    nothing: null,
    flag: false,
  };
  const back = decodeFields(encodeFields(fields));
  assert.ok(back.date instanceof Date);
  assert.equal((back.date as Date).getTime(), (fields.date as Date).getTime());
  assert.equal(back.bigint, -(2n ** 62n) - 3n);
  // A Long comes back as a native bigint, without losing the low digit a double would.
  assert.equal(back.long, 9007199254740993n);
  assert.ok(back.oid instanceof ObjectId);
  assert.equal((back.oid as ObjectId).toHexString(), oid.toHexString());
  assert.ok(back.binary instanceof Binary);
  assert.equal((back.binary as Binary).sub_type, 0x80);
  assert.deepEqual([...(back.binary as Binary).buffer], [0, 1, 2, 250, 255]);
  assert.ok(back.bytes instanceof Binary);
  assert.deepEqual([...(back.bytes as Binary).buffer], [9, 8, 7]);
  assert.ok(back.decimal instanceof Decimal128);
  assert.equal(String(back.decimal), "1234.5678901234567890");
  assert.ok(back.timestamp instanceof Timestamp);
  assert.equal((back.timestamp as Timestamp).t, 1700000000);
  assert.equal((back.timestamp as Timestamp).i, 7);
  assert.equal(back.inf, -Infinity);
  assert.deepEqual(back.list, [1, new Date(5), "a", null]);
  assert.equal(back.nothing, null);
  assert.equal(back.flag, false);
});

Deno.test("an invalid date and a broken wrapper decode without throwing", () => {
  const back = decodeFields(encodeFields({ bad: new Date(NaN) }));
  assert.ok(back.bad instanceof Date && Number.isNaN(back.bad.getTime()));
  const broken = { $numberLong: "12x" };
  assert.deepEqual(decodeValue(broken), broken);
  const badBinary = { $binary: { base64: "AQ==", subType: "04" } };
  assert.deepEqual(decodeValue(badBinary), badBinary);
});

Deno.test("a field named __proto__ stays a field", () => {
  const fields = JSON.parse('{"__proto__": {"$date": "2026-01-01T00:00:00Z"}, "a": 1}');
  const back = decodeFields(encodeFields(fields));
  assert.deepEqual(Object.keys(back), ["__proto__", "a"]);
  assert.ok(Object.getOwnPropertyDescriptor(back, "__proto__")!.value instanceof Date);
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
});

Deno.test("toJsonLine writes the whole event, envelope first as given", () => {
  const line = toJsonLine({ type: "x", time: new Date(0), host: "h", id: 5n, ok: true });
  assert.equal(
    line,
    '{"type":"x","time":{"$date":"1970-01-01T00:00:00.000Z"},"host":"h","id":{"$numberLong":"5"},"ok":true}',
  );
});

Deno.test("encodeValue reports a cycle as an error rather than looping", () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => encodeFields({ nested: cyclic }));
  assert.equal(encodeValue(() => 1), undefined);
});

Deno.test("toJsonLine writes one line; ObjectId, Long and Date in Extended JSON", () => {
  const line = toJsonLine({
    type: "x",
    time: new Date(0),
    host: "h",
    _id: new ObjectId("0123456789abcdef01234567"),
    n: Long.fromNumber(42),
    msg: "two\nlines",
  });
  assert.equal(line.includes("\n"), false);
  assert.deepEqual(JSON.parse(line), {
    type: "x",
    time: { $date: "1970-01-01T00:00:00.000Z" },
    host: "h",
    _id: { $oid: "0123456789abcdef01234567" },
    n: { $numberLong: "42" },
    msg: "two\nlines",
  });
});

Deno.test("fromJsonLine inverts toJsonLine and reads plain JSON and canonical Extended JSON", () => {
  const event = {
    type: "x",
    time: new Date(-1),
    host: "h",
    _id: new ObjectId(),
    n: 3,
    f: 1.5,
    big: 2n ** 53n + 1n,
    tags: ["a"],
    nothing: null,
  };
  const back = fromJsonLine(toJsonLine(event));
  assert.deepEqual(back, event);
  assert.deepEqual(fromJsonLine('{"a": 1, "b": [true]}'), { a: 1, b: [true] });
  const canonical = fromJsonLine(
    '{"t":{"$date":{"$numberLong":"-86400000"}},"i":{"$numberInt":"7"}}',
  );
  assert.equal((canonical.t as Date).getTime(), -86400000);
  assert.equal(canonical.i, 7);
});

Deno.test("fromJsonLine rejects what is not one JSON object", () => {
  for (
    const line of ["", "not json", "[1,2]", "null", "42", '"text"', "{", '{"$date":"2026-01-01"}']
  ) {
    assert.throws(() => fromJsonLine(line), SyntaxError, line);
  }
});

Deno.test("the JSON dialect round-trips every valid vector of docs/vectors exactly", () => {
  const dir = new URL("../docs/vectors/", import.meta.url);
  const hex = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
  let checked = 0;
  const seen = { above: false, before1970: false, after2038: false };
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.name.startsWith("valid-") || !entry.name.endsWith(".json")) continue;
    const vector = JSON.parse(Deno.readTextFileSync(new URL(entry.name, dir)));
    const body = hex(vector.frames[vector.frames.length - 1]);
    // The documents a receiver delivers: rejected ones (too deep, a date no Date holds) are not.
    for (const document of decodeEvents(body).events) {
      const line = toJsonLine(document);
      const back = fromJsonLine(line);
      // Byte for byte: the JSON keeps every value and BSON type the decoder gave
      // (an int64 past 2^53 comes back as a bigint, which is int64 again).
      assert.deepEqual(BSON.serialize(back), BSON.serialize(document), `${entry.name}: ${line}`);
      if (line.includes('{"$numberLong":"9007199254740993"}')) seen.above = true;
      for (const value of Object.values(back)) {
        if (!(value instanceof Date)) continue;
        if (value.getTime() < 0) seen.before1970 = true;
        if (value.getTime() > 2 ** 31 * 1000) seen.after2038 = true;
      }
      checked++;
    }
  }
  assert.ok(checked >= 10, `${checked} documents`);
  assert.deepEqual(seen, { above: true, before1970: true, after2038: true });
});

Deno.test('json: -0 keeps its sign as {"$numberDouble":"-0.0"} and reads back (audit #6)', () => {
  const event = { type: "t.z", time: new Date(0), host: "h", negz: -0, zero: 0, list: [-0] };
  assert.equal(
    encodeFields(event),
    '{"negz":{"$numberDouble":"-0.0"},"zero":0,"list":[{"$numberDouble":"-0.0"}]}',
  );
  const line = toJsonLine(event);
  assert.ok(line.includes('"negz":{"$numberDouble":"-0.0"}'), line);
  const back = fromJsonLine(line);
  assert.ok(Object.is(back.negz, -0));
  assert.ok(Object.is(back.zero, 0));
  assert.ok(Object.is((back.list as number[])[0], -0));
  assert.ok(Object.is(decodeFields(encodeFields(event)).negz, -0));
});

Deno.test("json: a bare integer past 2^53 reads back exact as an int64; past int64 is refused (audit #5)", () => {
  const back = fromJsonLine(
    '{"a":9007199254740993,"b":-9223372036854775808,"c":[12345678901234567],"d":{"e":9007199254740991},"f":1e20,"g":12.5}',
  );
  assert.equal(back.a, 9007199254740993n);
  assert.equal(back.b, -(2n ** 63n));
  assert.deepEqual(back.c, [12345678901234567n]);
  assert.deepEqual(back.d, { e: 9007199254740991 });
  assert.equal(back.f, 1e20);
  assert.equal(back.g, 12.5);
  assert.throws(() => fromJsonLine('{"a":9223372036854775808}'), /beyond int64's range/);
  assert.throws(() => fromJsonLine('{"a":-9223372036854775809}'), SyntaxError);
  // Sixteen digits in a string are left alone.
  assert.deepEqual(fromJsonLine('{"s":"12345678901234567890"}'), { s: "12345678901234567890" });
});
