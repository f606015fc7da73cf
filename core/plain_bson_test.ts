import assert from "node:assert/strict";
import { BSON, ObjectId } from "bson";
import { BatchEncoder, decodeBatch } from "./codec.ts";
import { writePlainDocument } from "./plain_bson.ts";
import { mulberry32 } from "./random.ts";

/** What the bson package writes for the same document, our reference. */
function reference(document: Record<string, unknown>): Uint8Array {
  return new Uint8Array(BSON.serialize(document, { ignoreUndefined: true }));
}

const SAMPLE_STRINGS = [
  "",
  "plain ascii",
  "ünïcödé",
  "日本語のパス",
  "emoji 🎉 and more",
  "lone \ud800 surrogate",
  "trailing \udc00",
  "nul \0 inside",
  "\u007f\u0080\u07ff\u0800\uffff",
  "x".repeat(300),
];
const SAMPLE_NUMBERS = [
  0,
  -0,
  1,
  -1,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53 - 1,
  -(2 ** 53),
  0.5,
  -1.25e-300,
  1e300,
  NaN,
  Infinity,
  -Infinity,
  Number.MIN_VALUE,
];
const SAMPLE_DATES = [
  new Date(0),
  new Date(-1),
  new Date(1_700_000_000_123),
  new Date(-62_135_596_800_000),
  new Date(8.64e15),
  new Date(-8.64e15),
  new Date(2 ** 32),
  new Date(-(2 ** 32)),
];

function randomValue(random: () => number): unknown {
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  switch (Math.floor(random() * 7)) {
    case 0:
      return pick(SAMPLE_STRINGS);
    case 1:
      return pick(SAMPLE_NUMBERS);
    case 2:
      return Math.floor((random() - 0.5) * 2 ** 40) / (random() < 0.5 ? 1 : 7);
    case 3:
      return random() < 0.5;
    case 4:
      return random() < 0.5 ? null : undefined;
    case 5:
      return pick(SAMPLE_DATES);
    default:
      return String.fromCharCode(...Array.from({ length: 8 }, () => Math.floor(random() * 0xffff)));
  }
}

/** A random plain document: the values above, and now and then nested ones. */
function randomDocument(random: () => number, depth: number): Record<string, unknown> {
  const keys = ["type", "time", "host", "é", "日本", "a.b", "$x", "_id", "k"];
  const document: Record<string, unknown> = {};
  const fields = Math.floor(random() * 12);
  for (let i = 0; i < fields; i++) {
    document[`${keys[Math.floor(random() * keys.length)]}${i}`] = randomNested(random, depth);
  }
  return document;
}

function randomNested(random: () => number, depth: number): unknown {
  const roll = random();
  if (depth < 3 && roll < 0.08) return randomDocument(random, depth + 1);
  if (depth < 3 && roll < 0.16) {
    // Up to 12 elements, so that two-digit index keys occur too.
    return Array.from(
      { length: Math.floor(random() * 13) },
      () => randomNested(random, depth + 1),
    );
  }
  return randomValue(random);
}

Deno.test("plain bson: the same bytes as the bson package for random documents", () => {
  const random = mulberry32(20261124);
  let nested = 0;
  for (let n = 0; n < 5000; n++) {
    const document = randomDocument(random, 0);
    if (Object.values(document).some((v) => typeof v === "object" && !(v instanceof Date))) {
      nested++;
    }
    const buffer = new Uint8Array(64 * 1024);
    const end = writePlainDocument(document, buffer, 7);
    assert.ok(end > 0, `written: ${Deno.inspect(document)}`);
    assert.deepEqual(buffer.subarray(7, end), reference(document), `document ${n}`);
  }
  assert.ok(nested > 1000, `${nested} documents with nested values`);
});

Deno.test("plain bson: arrays write undefined and holes as null, like bson", () => {
  const buffer = new Uint8Array(1024);
  const extra = Object.assign([1, 2], { note: "ignored, as bson does" });
  const documents = [
    { a: [1, undefined, 2] },
    // deno-lint-ignore no-sparse-arrays
    { a: [1, , 2] },
    { a: [], b: {} },
    { extra },
  ];
  for (const document of documents) {
    const end = writePlainDocument(document, buffer, 0);
    assert.deepEqual(buffer.subarray(0, end), reference(document), Deno.inspect(document));
  }
});

Deno.test("plain bson: anything else is left to the bson package", () => {
  const buffer = new Uint8Array(1024);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 40; i++) deep = { deep };
  const others: Record<string, unknown>[] = [
    { big: 1n },
    { nested: { big: 1n } },
    { list: [1, 2n] },
    { bad: new Date(NaN) },
    { ["nul\0key"]: 1 },
    { nested: { ["nul\0key"]: 1 } },
    { f: () => 1 },
    { symbol: Symbol("s") },
    Object.create({ inherited: 1 }),
    { nested: Object.create({ inherited: 1 }) },
    { toBSON: () => ({ a: 1 }) },
    { nested: { toBSON: () => ({ a: 1 }) } },
    { id: new ObjectId() },
    { nested: { _bsontype: "ObjectId" } },
    { map: new Map([["a", 1]]) },
    { bytes: new Uint8Array(2) },
    cyclic,
    deep,
  ];
  for (const document of others) {
    assert.equal(writePlainDocument(document, buffer, 0), -2, Deno.inspect(document));
  }
});

Deno.test("plain bson: a buffer too small is said, never overrun", () => {
  const document = {
    type: "x",
    text: "ü".repeat(100),
    n: 1.5,
    time: new Date(0),
    recipients: [{ to: "a@b", time: new Date(1) }, { to: "ç@d", delay: 0.5 }],
    list: Array.from({ length: 12 }, (_, i) => i),
  };
  const expected = reference(document);
  for (let size = 0; size < expected.length + 400; size += 7) {
    const buffer = new Uint8Array(size + 16);
    const guard = buffer.subarray(size);
    guard.fill(0xaa);
    const end = writePlainDocument(document, buffer.subarray(0, size), 0);
    assert.ok(guard.every((byte) => byte === 0xaa), `overrun at size ${size}`);
    if (end === -1) continue;
    assert.deepEqual(buffer.subarray(0, end), expected);
  }
});

Deno.test("plain bson: BatchEncoder mixes both writers and grows as needed", () => {
  const encoder = new BatchEncoder(16);
  const documents: Record<string, unknown>[] = [
    { type: "a", n: 1 },
    { type: "b", nested: { x: "y" }, id: new ObjectId() },
    { type: "c", s: "z".repeat(5000), time: new Date(5) },
    { type: "d", list: [1, "two"], ids: [new ObjectId()] },
  ];
  for (const document of documents) encoder.add(document);
  const body = encoder.take();
  assert.deepEqual(body, new Uint8Array(documents.flatMap((d) => [...reference(d)])));
  assert.deepEqual(decodeBatch(body), documents);
});
