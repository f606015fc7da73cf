import assert from "node:assert/strict";
import { crc32, deflateChunk, gunzipPrefix, gzipHeader, gzipTrailer } from "./gzip.ts";
import { gunzipWeb } from "./test_util.ts";

const encoder = new TextEncoder();

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

Deno.test("crc32: the gzip check values", () => {
  assert.equal(crc32(encoder.encode("123456789")), 0xcbf43926);
  assert.equal(crc32(encoder.encode("")), 0);
  // Running: in pieces equals in one go.
  assert.equal(crc32(encoder.encode("56789"), crc32(encoder.encode("1234"))), 0xcbf43926);
});

Deno.test("gzip: independent chunks make one member any gunzip reads", async () => {
  const pieces = ["first piece, ", "second piece, ".repeat(50), "", "third\n"].map((text) =>
    encoder.encode(text)
  );
  let crc = 0;
  let length = 0;
  const chunks = pieces.map((piece) => {
    crc = crc32(piece, crc);
    length += piece.length;
    return deflateChunk(piece);
  });
  const file = concat(gzipHeader(), ...chunks, gzipTrailer(crc, length));
  const expected = concat(...pieces);
  assert.deepEqual(await gunzipWeb(file), expected);
  assert.deepEqual(gunzipPrefix(file), { data: expected, complete: true });
  const child = new Deno.Command("gzip", { args: ["-dc"], stdin: "piped", stdout: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(file);
  await writer.close();
  const output = await child.output();
  assert.equal(output.code, 0);
  assert.deepEqual(output.stdout, expected);
});

Deno.test("gunzipPrefix: a stream cut anywhere yields the chunks before the cut", () => {
  const pieces = ["alpha ".repeat(30), "beta ".repeat(30), "gamma ".repeat(30)].map((text) =>
    encoder.encode(text)
  );
  const chunks = pieces.map((piece) => deflateChunk(piece));
  const whole = concat(gzipHeader(), ...chunks);
  let boundary = gzipHeader().length;
  const ends = chunks.map((chunk) => (boundary += chunk.length));
  for (let cut = gzipHeader().length; cut <= whole.length; cut++) {
    const { data, complete } = gunzipPrefix(whole.subarray(0, cut));
    assert.equal(complete, false);
    const whole_chunks = ends.filter((end) => end <= cut).length;
    const before = concat(...pieces.slice(0, whole_chunks));
    // Everything of whole chunks, and never bytes that were not written.
    assert.deepEqual(data.subarray(0, before.length), before, `cut at ${cut}`);
    const full = concat(...pieces);
    assert.deepEqual(data, full.subarray(0, data.length), `cut at ${cut}`);
  }
  assert.throws(() => gunzipPrefix(encoder.encode("plain text")), /not a gzip file/);
});
