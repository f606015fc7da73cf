import assert from "node:assert/strict";
import { encodeBatch, toJsonLine } from "@eventstorm/core/protocol";
import { FileBackend } from "./backend.ts";
import { deflateChunk, gzipHeader } from "./gzip.ts";
import { listSegments, readSegment } from "./read.ts";
import { completePrefix, recoverDirectory } from "./recover.ts";
import { filesUnder, makeEvents } from "./test_util.ts";
import { FUZZ_SEED, LineFuzzer, withSeed } from "../../tests/fuzz.ts";

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const encoder = new TextEncoder();

Deno.test("recovery: .part files are cut to their complete events and renamed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sink_file_recover_" });
  try {
    const events = makeEvents("http.hit", 10);
    const bson = encodeBatch(events);
    const jsonl = encoder.encode(events.map((event) => toJsonLine(event) + "\n").join(""));
    await Deno.mkdir(`${dir}/http.hit`);
    await Deno.mkdir(`${dir}/ssh.login`);
    const base = `${dir}/http.hit/2026-11-23T18-00-00Z`;
    // A torn last document, as a crash mid-write leaves it.
    await Deno.writeFile(`${base}-000001.bson.part`, bson.subarray(0, bson.length - 7));
    // Zero-filled tail: what delayed allocation can leave after a power cut.
    await Deno.writeFile(`${base}-000002.bson.part`, concat(bson, new Uint8Array(4096)));
    await Deno.writeFile(`${base}-000003.jsonl.part`, jsonl.subarray(0, jsonl.length - 20));
    // A gzip stream cut inside its second chunk, without trailer.
    const half = encodeBatch(events.slice(0, 5));
    const rest = encodeBatch(events.slice(5));
    const chunk2 = deflateChunk(rest);
    await Deno.writeFile(
      `${base}-000004.bson.gz.part`,
      concat(gzipHeader(), deflateChunk(half), chunk2.subarray(0, chunk2.length - 9)),
    );
    // Nothing complete in it: removed.
    await Deno.writeFile(
      `${dir}/ssh.login/2026-11-23T18-00-00Z-000001.bson.part`,
      bson.subarray(0, 30),
    );
    // What a recovery cut off by a crash leaves behind.
    await Deno.writeFile(`${base}-000009.bson.gz.recovering`, new Uint8Array(10));
    await Deno.writeTextFile(`${dir}/http.hit/notes.txt.part`, "not ours");

    const backend = await FileBackend.open({ dir, tickMs: 0 });
    await backend.close();
    const byPart = new Map(backend.recovered.map((r) => [r.part.slice(dir.length + 1), r]));
    assert.equal(byPart.size, 5);
    assert.equal(byPart.get("http.hit/2026-11-23T18-00-00Z-000001.bson.part")!.documents, 9);
    assert.equal(
      byPart.get("http.hit/2026-11-23T18-00-00Z-000001.bson.part")!.droppedBytes,
      encodeBatch([events[9]]).length - 7,
    );
    assert.equal(byPart.get("http.hit/2026-11-23T18-00-00Z-000002.bson.part")!.droppedBytes, 4096);
    assert.equal(byPart.get("http.hit/2026-11-23T18-00-00Z-000003.jsonl.part")!.documents, 9);
    // Complete documents inflated from the cut chunk count too; the whole first chunk at least.
    const gzKept = byPart.get("http.hit/2026-11-23T18-00-00Z-000004.bson.gz.part")!.documents;
    assert.ok(gzKept >= 5 && gzKept < 10, `${gzKept} kept`);
    assert.deepEqual(await filesUnder(dir), [
      ".lock",
      ".positions",
      "http.hit/2026-11-23T18-00-00Z-000001.bson",
      "http.hit/2026-11-23T18-00-00Z-000002.bson",
      "http.hit/2026-11-23T18-00-00Z-000003.jsonl",
      "http.hit/2026-11-23T18-00-00Z-000004.bson.gz",
      "http.hit/notes.txt.part",
    ]);
    const segments = await listSegments(dir, { type: "http.hit" });
    const contents = await Promise.all(segments.map((segment) => readSegment(segment.path)));
    assert.deepEqual(contents, [
      events.slice(0, 9),
      events,
      events.slice(0, 9),
      events.slice(0, gzKept),
    ]);
    const sshRecovery = backend.recovered.find((r) => r.part.includes("/ssh.login/"))!;
    assert.equal(sshRecovery.path, undefined);
    assert.equal(sshRecovery.documents, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recovery: a complete gzip .part (crash before rename) is kept whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sink_file_recover_" });
  try {
    const events = makeEvents("app.log", 4);
    const backend = await FileBackend.open({ dir, gzip: true, format: "jsonl", tickMs: 0 });
    await backend.write(events);
    await backend.close();
    const [segment] = await listSegments(dir);
    await Deno.rename(segment.path, segment.path + ".part");
    const [result] = await recoverDirectory(dir);
    assert.deepEqual(result, {
      part: segment.path + ".part",
      path: segment.path,
      documents: 4,
      droppedBytes: 0,
    });
    assert.deepEqual(await readSegment(segment.path), events);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recovery: a .part beside its final file is a finished recovery's leftover", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sink_file_recover_" });
  try {
    const events = makeEvents("app.log", 3);
    await Deno.mkdir(`${dir}/app.log`);
    const path = `${dir}/app.log/2026-01-01T00-00-00Z-000001.bson`;
    await Deno.writeFile(path, encodeBatch(events));
    await Deno.writeFile(path + ".part", encodeBatch(events).subarray(0, 40));
    const [result] = await recoverDirectory(dir);
    assert.equal(result.path, path);
    assert.deepEqual(await filesUnder(dir), ["app.log/2026-01-01T00-00-00Z-000001.bson"]);
    assert.deepEqual(await readSegment(path), events);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recovery: a .part that is not gzip at all is left in place and reported", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sink_file_recover_" });
  try {
    await Deno.mkdir(`${dir}/app.log`);
    const part = `${dir}/app.log/2026-01-01T00-00-00Z-000001.bson.gz.part`;
    await Deno.writeTextFile(part, "certainly not gzip");
    const [result] = await recoverDirectory(dir);
    assert.equal(result.part, part);
    assert.match(result.error!, /not a gzip file/);
    assert.deepEqual(await filesUnder(dir), ["app.log/2026-01-01T00-00-00Z-000001.bson.gz.part"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("completePrefix: stops at the first document that does not decode", () => {
  const events = makeEvents("app.log", 3);
  const bson = encodeBatch(events);
  assert.deepEqual(completePrefix(bson, "bson"), { bytes: bson.length, documents: 3 });
  const corrupt = bson.slice();
  const second = encodeBatch([events[0]]).length;
  corrupt[second + 4] = 0x7f; // an unknown BSON element type inside the second document
  assert.deepEqual(completePrefix(corrupt, "bson"), { bytes: second, documents: 1 });
  const lines = encoder.encode('{"a":1}\n{"a":2}\nnot json\n{"a":3}\n');
  assert.deepEqual(completePrefix(lines, "jsonl"), { bytes: 16, documents: 2 });
});

Deno.test("fuzz: completePrefix of a mutated segment never throws and keeps only what decodes", () => {
  const fuzzer = new LineFuzzer(FUZZ_SEED);
  const events = makeEvents("app.log", 20);
  const contents = {
    bson: encodeBatch(events),
    jsonl: encoder.encode(events.map((event) => toJsonLine(event) + "\n").join("")),
  };
  withSeed(() => {
    for (let round = 0; round < 2000; round++) {
      for (const format of ["bson", "jsonl"] as const) {
        const content = contents[format].slice();
        // A torn tail, zero-filled pages and flipped bytes, as a crash or a bad disk leaves.
        const cut = fuzzer.int(content.length + 1);
        for (let n = fuzzer.int(4); n > 0; n--) {
          content[fuzzer.int(content.length)] = fuzzer.int(256);
        }
        if (fuzzer.int(3) === 0) content.fill(0, fuzzer.int(content.length));
        const torn = content.subarray(0, cut);
        const ids: unknown[] = [];
        const prefix = completePrefix(torn, format, (id) => ids.push(id));
        assert.ok(prefix.bytes <= torn.length && prefix.documents === ids.length);
        assert.deepEqual(completePrefix(torn.subarray(0, prefix.bytes), format), prefix);
      }
    }
  });
});
