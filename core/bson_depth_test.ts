import assert from "node:assert/strict";
import { BSON } from "bson";
import { documentProblem, MAX_DATE_MS, MAX_NESTING, valueNestsDeeperThan } from "./bson_depth.ts";
import { BatchEncoder, CodecError, decodeBatch, decodeEvents } from "./codec.ts";
import { fromJsonLine, toJsonLine } from "./json.ts";
import { mulberry32 } from "./random.ts";
import { deepEvent, nestedDocument } from "./testdata/deep_bson.ts";
import { farDatedEvent } from "./testdata/far_date.ts";

/** Whether the walk finds `bytes` deeper than `limit`. */
function deeper(bytes: Uint8Array, limit?: number): boolean {
  return documentProblem(bytes, 0, bytes.length, limit) === "depth";
}

Deno.test("documentProblem measures the depth of hand-built documents", () => {
  for (const depth of [0, 1, 50, 98, 99, 100, 101, 5000, 100_000]) {
    for (const arrays of [false, true]) {
      const bytes = nestedDocument(depth, arrays);
      // The top-level document is level 1.
      assert.equal(deeper(bytes), depth + 1 > MAX_NESTING, `${depth}`);
    }
  }
});

Deno.test("an event 5,000 or 100,000 deep is rejected one by one, the rest delivered", () => {
  for (const depth of [5000, 100_000]) {
    const ok = BSON.serialize({ type: "app.x", time: new Date(0), host: "h", n: 1 });
    const body = new Uint8Array(ok.length * 2 + deepEvent("app.x", depth).length);
    const deep = deepEvent("app.x", depth);
    body.set(ok, 0);
    body.set(deep, ok.length);
    body.set(ok, ok.length + deep.length);
    const { events, rejected } = decodeEvents(body, { topic: "app.x" });
    assert.equal(rejected, 1);
    assert.equal(events.length, 2);
    assert.throws(() => decodeBatch(body), (error) => (error as CodecError).reason === "depth");
  }
  // At the limit an event is delivered and can be printed.
  const { events } = decodeEvents(deepEvent("app.x", MAX_NESTING));
  assert.equal(events.length, 1);
  assert.ok(toJsonLine(events[0]).length > MAX_NESTING);
});

Deno.test("the encoder refuses documents deeper than the limit (and cycles) with CodecError", () => {
  let value: Record<string, unknown> = {};
  for (let i = 0; i < 100_000; i++) value = { a: value };
  const encoder = new BatchEncoder();
  assert.throws(
    () => encoder.add({ type: "x", time: new Date(), host: "h", deep: value }),
    (error) => error instanceof CodecError && error.reason === "depth",
  );
  const cyclic: Record<string, unknown> = { type: "x", time: new Date(), host: "h" };
  cyclic.self = cyclic;
  assert.throws(() => encoder.add(cyclic), (error) => (error as CodecError).reason === "depth");
  assert.equal(encoder.count, 0);
  assert.equal(valueNestsDeeperThan({ a: [[{}]] }, 3), true);
  assert.equal(valueNestsDeeperThan({ a: [[{}]] }, 4), false);
});

Deno.test("fuzz: random nesting of documents, arrays and scalars measures like the bson decoder", () => {
  const random = mulberry32(11);
  for (let round = 0; round < 2000; round++) {
    const target = Math.floor(random() * 140);
    // Built inside out, with scalars of every common type beside each level.
    let value: unknown = random() < 0.5 ? {} : [];
    for (let level = 1; level < target; level++) {
      const scalars = [1, 2.5, "s", true, null, new Date(0), new BSON.ObjectId(), 10n];
      const extra = scalars[Math.floor(random() * scalars.length)];
      value = random() < 0.5 ? { x: extra, v: value, y: "z" } : [extra, value];
    }
    const bytes = BSON.serialize({ root: value, n: BSON.Long.fromNumber(round) });
    const depth = Math.max(target, 1) + 1;
    for (const limit of [depth - 1, depth, MAX_NESTING]) {
      assert.equal(deeper(bytes, limit), depth > limit, `${round}`);
    }
    // Truncated or corrupted bytes never throw from the depth walk.
    const cut = bytes.slice(0, Math.floor(random() * bytes.length));
    documentProblem(cut, 0, cut.length, 1);
    const flipped = new Uint8Array(bytes);
    flipped[Math.floor(random() * bytes.length)] ^= 0xff;
    documentProblem(flipped, 0, flipped.length, 1);
    // A small int32 anywhere (where lengths live, it points back or just short) ends the
    // walk and the decode: a loop here would hang the test.
    const lengths = new Uint8Array(bytes);
    const at = Math.floor(random() * Math.max(1, bytes.length - 4));
    new DataView(lengths.buffer).setInt32(at, Math.floor(random() * 80) - 40, true);
    documentProblem(lengths, 0, lengths.length);
    try {
      decodeEvents(lengths);
    } catch (error) {
      assert.ok(error instanceof CodecError, `${round}: ${error}`);
    }
  }
});

Deno.test("a datetime no Date holds, at any depth, rejects its document and no other", () => {
  const max = BigInt(MAX_DATE_MS);
  for (const depth of [0, 1, 2, 7]) {
    for (const ms of [max, -max, max + 1n, -max - 1n, 2n ** 63n - 1n, -(2n ** 63n)]) {
      const far = ms > max || ms < -max;
      const bytes = farDatedEvent("app.x", ms, depth);
      assert.equal(documentProblem(bytes, 0, bytes.length), far ? "date" : undefined);
      // What the walk says is what bson would have made of it.
      const decoded = JSON.stringify(BSON.deserialize(bytes));
      assert.equal(decoded.includes("null"), far, `${ms} at depth ${depth}`);
      const ok = BSON.serialize({ type: "app.x", time: new Date(0), host: "h" });
      const body = new Uint8Array([...ok, ...bytes, ...ok]);
      const { events, rejected } = decodeEvents(body, { topic: "app.x" });
      assert.deepEqual([events.length, rejected], far ? [2, 1] : [3, 0]);
      if (far) {
        assert.throws(() => decodeBatch(body), (error) => (error as CodecError).reason === "date");
      }
    }
  }
});

Deno.test("fromJsonLine: a line nested 5,000 or 100,000 deep is a SyntaxError, not a crash", () => {
  for (const depth of [5000, 100_000]) {
    const line = `{"type":"app.x","a":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
    assert.throws(() => fromJsonLine(line), SyntaxError);
  }
});

Deno.test("a length that points back into the document ends the walk, never loops it", () => {
  // Over 700 bytes, so that the decoder's depth walk reads it too.
  const bytes = BSON.serialize({
    type: "app.x",
    time: new Date(0),
    host: "h",
    pad: "x".repeat(800),
    doc: { s: "abc" },
    s: "abc",
  });
  // `doc`'s length sits after its type byte and name, at the end but for `s` and the NUL.
  const topString = bytes.length - 1 - (4 + 4); // `s`'s length: "abc\0", then the end
  const doc = topString - 3 - 16; // before `s`'s type and name: the 16-byte `doc`
  const nestedString = doc + 4 + 3; // inside `doc`: after its length, type, "s", NUL
  assert.deepEqual([bytes[doc - 5], bytes[doc - 1], bytes[nestedString - 2]], [0x03, 0, 0x73]);
  const cases: [number, number][] = [
    // A string whose length sends the walk back to its own type byte, and before it.
    [nestedString, -(4 + 3)],
    [topString, -(4 + 3)],
    [nestedString, -100],
    // A document whose end lies inside what it holds, and before its start.
    [doc, 5],
    [doc, -20],
  ];
  for (const [at, length] of cases) {
    // A copy in a buffer of its own (bson may hand out a Node Buffer, whose slice shares).
    const copy = new Uint8Array(bytes);
    new DataView(copy.buffer).setInt32(at, length, true);
    assert.equal(documentProblem(copy, 0, copy.length), undefined, `${length} at ${at}`);
    let reason: string | undefined;
    try {
      decodeEvents(copy);
    } catch (error) {
      reason = (error as CodecError).reason;
    }
    assert.equal(reason, "bson", `${length} at ${at}`);
  }
});
