import assert from "node:assert/strict";
import { tempDir } from "../../tests/temp.ts";
import { mulberry32 } from "../random.ts";
import { FileFollower, type FollowerOptions } from "./mod.ts";

interface Read {
  /** Each line's bytes, as the batch's ranges give them. */
  bytes: number[][];
  /** Each line's `text(i)`. */
  texts: string[];
  /** The batches' `texts()`, one after another. */
  batchTexts: string[];
}

/** Reads `content` once through `byteBatches`, taking each batch before the next. */
async function readBytes(content: Uint8Array, options: Partial<FollowerOptions> = {}) {
  await using temp = await tempDir();
  const log = `${temp.path}/app.log`;
  await Deno.writeFile(log, content);
  const follower = new FileFollower({ paths: [log], once: true, ...options });
  const read: Read = { bytes: [], texts: [], batchTexts: [] };
  for await (const batch of follower.byteBatches()) {
    for (let i = 0; i < batch.count; i++) {
      read.bytes.push([...batch.bytes.subarray(batch.starts[i], batch.ends[i])]);
      read.texts.push(batch.text(i));
    }
    read.batchTexts.push(...batch.texts());
  }
  const lines: string[] = [];
  for await (const batch of new FileFollower({ paths: [log], once: true, ...options }).batches()) {
    lines.push(...batch.lines);
  }
  return { read, lines };
}

/** The lines of `content` by the definition: split at "\n", one BOM and a CRLF's CR dropped. */
function expected(content: Uint8Array): { bytes: number[][]; texts: string[] } {
  const all = [...content];
  const bytes: number[][] = [];
  for (let from = 0; from < all.length;) {
    let to = all.indexOf(10, from);
    if (to < 0) to = all.length;
    let line = all.slice(from, to);
    if (line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) line = line.slice(3);
    if (line.at(-1) === 13) line = line.slice(0, -1);
    bytes.push(line);
    from = to + 1;
  }
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  return { bytes, texts: bytes.map((line) => decoder.decode(new Uint8Array(line))) };
}

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("byte batches: ranges without newline, CR and BOM; text as the text batches have it", async () => {
  const content = new Uint8Array([
    ...encode("\ufeffGET /\r\n"),
    ...encode("plain\n"),
    ...[0x61, 0xff, 0x0d, 0x0a], // invalid UTF-8, then CRLF
    ...encode("\r\n\n"), // a line that is only a CR, then an empty line
    ...encode("\ufeff\ufeffé\n"), // one BOM is dropped, as the text batches drop one
    ...encode("last, no newline\r"),
  ]);
  const { read, lines } = await readBytes(content);
  const want = expected(content);
  assert.deepEqual(read.bytes, want.bytes);
  assert.deepEqual(read.texts, [
    "GET /",
    "plain",
    "a\ufffd",
    "",
    "",
    "\ufeffé",
    "last, no newline",
  ]);
  assert.deepEqual(read.batchTexts, read.texts);
  assert.deepEqual(lines, read.texts);
});

Deno.test("byte batches: a line past the limit is cut there, at a character's start", async () => {
  const long = "x".repeat(99) + "é" + "y".repeat(200);
  const { read, lines } = await readBytes(encode(`short\n${long}\nafter\n`), {
    maxLineBytes: 100,
  });
  assert.deepEqual(read.texts, ["short", "x".repeat(99), "after"]);
  assert.deepEqual(read.bytes[1], [...encode("x".repeat(99))]);
  assert.deepEqual(lines, read.texts);
});

Deno.test("byte batches: random lines in random batch sizes read as the definition says", async () => {
  const random = mulberry32(20261207);
  const pieces = ["a", "GET / HTTP/1.1", " ", "\r", "\ufeff", "é", "€", "\u{1f600}", "\n", "\n"];
  for (let round = 0; round < 25; round++) {
    const parts: number[] = [];
    const length = Math.floor(random() * 400);
    for (let i = 0; i < length; i++) {
      if (random() < 0.05) parts.push(Math.floor(random() * 256)); // any byte, valid or not
      else parts.push(...encode(pieces[Math.floor(random() * pieces.length)]));
    }
    if (random() < 0.5) parts.push(10);
    const content = new Uint8Array(parts);
    const maxBatchLines = 1 + Math.floor(random() * 7);
    const { read, lines } = await readBytes(content, { maxBatchLines });
    const want = expected(content);
    assert.deepEqual(read.bytes, want.bytes, `round ${round}`);
    assert.deepEqual(read.texts, want.texts, `round ${round}`);
    assert.deepEqual(read.batchTexts, read.texts, `round ${round}`);
    assert.deepEqual(lines, read.texts, `round ${round}`);
  }
});
