import assert from "node:assert/strict";
import { readLines } from "./lines.ts";

const utf8 = new TextEncoder();

async function lines(chunks: (string | Uint8Array)[]): Promise<string[]> {
  const stream = ReadableStream.from(
    chunks.map((chunk) => typeof chunk === "string" ? utf8.encode(chunk) : chunk),
  );
  return await Array.fromAsync(readLines(stream));
}

Deno.test("lines: split on LF and CRLF, empty lines kept", async () => {
  assert.deepEqual(await lines(["a\nb\r\n\nc\n"]), ["a", "b", "", "c"]);
  assert.deepEqual(await lines(["\n"]), [""]);
  assert.deepEqual(await lines([]), []);
  assert.deepEqual(await lines([""]), []);
  // Only a CR right before the LF is removed.
  assert.deepEqual(await lines(["a\rb\n\r\r\n"]), ["a\rb", "\r"]);
});

Deno.test("lines: a last line without newline is yielded", async () => {
  assert.deepEqual(await lines(["a\nlast"]), ["a", "last"]);
  assert.deepEqual(await lines(["a\nlast\r"]), ["a", "last"]);
});

Deno.test("lines: lines and CRLF split across chunks", async () => {
  assert.deepEqual(await lines(["he", "llo\r", "\nwor", "ld\n", "", "x"]), [
    "hello",
    "world",
    "x",
  ]);
  // One byte per chunk.
  const text = "one\r\ntwo\nthree";
  assert.deepEqual(await lines([...utf8.encode(text)].map((b) => new Uint8Array([b]))), [
    "one",
    "two",
    "three",
  ]);
});

Deno.test("lines: a multi-byte character split across chunks stays whole", async () => {
  const bytes = utf8.encode("caf\u00e9 \u{1F600}\n");
  const chunks = [bytes.subarray(0, 4), bytes.subarray(4, 7), bytes.subarray(7)];
  assert.deepEqual(await lines(chunks), ["caf\u00e9 \u{1F600}"]);
});

Deno.test("lines: invalid UTF-8 becomes U+FFFD, never an error", async () => {
  assert.deepEqual(await lines([new Uint8Array([0x61, 0xff, 0x0a, 0x62, 0xc3])]), [
    "a\uFFFD",
    "b\uFFFD",
  ]);
});
