import assert from "node:assert/strict";
import { BSON, EJSON } from "bson";
import { listSegments, readSegment } from "@eventstorm/sink-file";
import { emitter, startRouter, stderrChild, waitFor } from "./helpers.ts";

// FFI waits and libzmq's own threads outlive a test's op bookkeeping; each test
// closes everything it opens itself.
const opts = { sanitizeOps: false, sanitizeResources: false };

const SINK_MAIN = new URL("../sinks/file/main.ts", import.meta.url).pathname;
const TYPES = ["http.hit", "ssh.login", "host.cpu"];

/** The file sink as a child process, its stderr gathered as it comes. */
function startSink(args: string[]) {
  const sink = stderrChild(SINK_MAIN, ["--stats-to", "none", "--stats-interval", "200ms", ...args]);
  return {
    ...sink,
    /** The last `stored N` the stats line printed. */
    stored: () => {
      const all = [...sink.stderr().matchAll(/received \d+, stored (\d+)/g)];
      return all.length ? Number(all[all.length - 1][1]) : 0;
    },
  };
}

async function emitAll(endpoint: string, perType: number, first = 0): Promise<void> {
  const out = await emitter({ endpoints: endpoint, host: "e2e" });
  await waitFor(() => out.stats().subscriptions > 0, "the sink's subscription at the source");
  for (let i = first; i < first + perType; i++) {
    for (const type of TYPES) out.emit(type, { i, path: `/p/${i}`, note: "x".repeat(i % 50) });
    await out.ready();
  }
  await out.close();
}

async function partFiles(dir: string): Promise<string[]> {
  return (await listSegments(dir, { includeParts: true }))
    .filter((segment) => segment.part)
    .map((segment) => segment.path);
}

/** The `i` of every event of `type` in its closed segments, in name order. */
async function indexesOf(dir: string, type: string): Promise<number[]> {
  const indexes: number[] = [];
  for (const segment of await listSegments(dir, { type })) {
    for (const event of await readSegment(segment.path)) {
      assert.equal(event.type, type);
      indexes.push(event.i as number);
    }
  }
  return indexes;
}

/**
 * Reads a .bson file without the core codec: `bsondump` when installed, and
 * always a plain loop over the length prefixes with the npm `bson` decoder.
 */
async function independentBsonRead(path: string): Promise<Record<string, unknown>[]> {
  const bytes = await Deno.readFile(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const documents: Record<string, unknown>[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const size = view.getInt32(offset, true);
    assert.ok(size >= 5 && offset + size <= bytes.length, `document at ${offset}`);
    documents.push(BSON.deserialize(bytes.subarray(offset, offset + size)));
    offset += size;
  }
  let dump;
  try {
    dump = await new Deno.Command("bsondump", { args: ["--quiet", path] }).output();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    // mongo-tools is not packaged for Debian 12: the loop above is the independent reader.
    return documents;
  }
  assert.equal(dump.code, 0, new TextDecoder().decode(dump.stderr));
  const lines = new TextDecoder().decode(dump.stdout).trim().split("\n");
  assert.deepEqual(lines.map((line) => EJSON.parse(line, { relaxed: true })), documents);
  return documents;
}

Deno.test(
  "file sink end to end: emitter → router → sink process; SIGTERM closes every segment",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "file_sink_e2e_" });
    const r = startRouter({ sendHwm: 100_000, receiveHwm: 100_000 });
    const sink = startSink(["--dir", dir, "--from", r.sinks, "--max-bytes", "16KiB"]);
    try {
      const perType = 2000;
      await emitAll(r.sources, perType);
      await waitFor(() => sink.stored() >= perType * TYPES.length, "all events stored", 60_000);
      assert.ok((await partFiles(dir)).length > 0, "segments are open before shutdown");
      const status = await sink.stop();
      assert.equal(status.code, 0, sink.stderr());
      assert.deepEqual(await partFiles(dir), []);
      const expected = [...Array(perType).keys()];
      for (const type of TYPES) assert.deepEqual(await indexesOf(dir, type), expected, type);
      const segments = await listSegments(dir, { type: "http.hit" });
      assert.ok(segments.length > 1, "rolled by size");
      for (const segment of segments) {
        assert.ok((await Deno.stat(segment.path)).size <= 16 * 1024);
      }
      const documents = await independentBsonRead(segments[1].path);
      assert.ok(documents.length > 0);
      for (const document of documents) {
        assert.equal(document.type, "http.hit");
        assert.equal(document.host, "e2e");
        assert.ok(document.time instanceof Date);
        assert.match(String(document._id), /^[0-9a-f]+-http\.hit-\d+$/);
      }
      assert.match(sink.stderr(), /sink file: closed .*\/http\.hit\/.*\.bson \(\d+ events/);
    } finally {
      if ((await Promise.race([sink.child.status, null])) === null) await sink.stop("SIGKILL");
      await r.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "file sink end to end: gzip jsonl; after a SIGKILL the next start finalizes the .part files",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "file_sink_e2e_" });
    const r = startRouter({ sendHwm: 100_000, receiveHwm: 100_000 });
    const args = ["--dir", dir, "--from", r.sinks, "--format", "jsonl", "--gzip"];
    let sink = startSink(args);
    try {
      const perType = 500;
      await emitAll(r.sources, perType);
      await waitFor(() => sink.stored() >= perType * TYPES.length, "first events stored", 60_000);
      // Killed without a chance to close: the segments stay .part, without gzip trailer.
      await sink.stop("SIGKILL");
      const parts = await partFiles(dir);
      assert.equal(parts.length, TYPES.length);
      assert.ok(parts.every((path) => path.endsWith(".jsonl.gz.part")));
      sink = startSink(args);
      await waitFor(() => /receiving from/.test(sink.stderr()), "the second sink to start", 60_000);
      for (const type of TYPES) {
        assert.match(sink.stderr(), new RegExp(`recovered .*/${type.replace(".", "\\.")}/`));
      }
      await emitAll(r.sources, perType, perType);
      await waitFor(() => sink.stored() >= perType * TYPES.length, "second events stored", 60_000);
      const status = await sink.stop();
      assert.equal(status.code, 0, sink.stderr());
      assert.deepEqual(await partFiles(dir), []);
      for (const type of TYPES) {
        // Everything the first sink had written reached its file before the kill.
        assert.deepEqual(await indexesOf(dir, type), [...Array(2 * perType).keys()], type);
        for (const segment of await listSegments(dir, { type })) {
          const check = await new Deno.Command("gzip", { args: ["-t", segment.path] }).output();
          assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
        }
      }
    } finally {
      if ((await Promise.race([sink.child.status, null])) === null) await sink.stop("SIGKILL");
      await r.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
