import assert from "node:assert/strict";
import type { Event } from "@eventstorm/core";
import { UsageError } from "@eventstorm/core/cli";
import { decodeBatch, encodeBatch, fromJsonLine } from "@eventstorm/core/protocol";
import { FileBackend, type FileBackendOptions } from "./backend.ts";
import { listSegments, readSegment } from "./read.ts";
import { filesUnder, gunzipWeb, makeEvents, TinyDisk } from "./test_util.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sink_file_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function open(dir: string, options: Partial<FileBackendOptions> = {}): Promise<FileBackend> {
  return FileBackend.open({ dir, tickMs: 0, ...options });
}

/** Every document of a type's closed segments, in name order. */
async function readType(dir: string, type: string): Promise<Record<string, unknown>[]> {
  const documents: Record<string, unknown>[] = [];
  for (const segment of await listSegments(dir, { type })) {
    documents.push(...await readSegment(segment.path));
  }
  return documents;
}

Deno.test("file backend: segments roll by size, each within max-bytes, events in order", async () => {
  await withDir(async (dir) => {
    const events = makeEvents("http.hit", 300);
    const sizes = events.map((event) => encodeBatch([event]).length);
    const maxBytes = sizes[0] * 40;
    const backend = await open(dir, { maxBytes });
    for (let i = 0; i < events.length; i += 70) {
      assert.equal(await backend.write(events.slice(i, i + 70)), 0);
    }
    await backend.close();
    const segments = await listSegments(dir);
    assert.ok(segments.length >= 300 / 41, `${segments.length} segments`);
    assert.deepEqual(new Set(segments.map((segment) => segment.type)), new Set(["http.hit"]));
    let total = 0;
    for (const [n, segment] of segments.entries()) {
      const { size } = await Deno.stat(segment.path);
      assert.ok(size <= maxBytes, `${segment.path} holds ${size} bytes`);
      // Rolled only when the next event would not fit: nothing but the last is short.
      if (n < segments.length - 1) assert.ok(size + Math.max(...sizes) > maxBytes);
      total += size;
    }
    assert.equal(total, sizes.reduce((a, b) => a + b, 0));
    assert.deepEqual(await readType(dir, "http.hit"), events);
    const stats = backend.stats();
    assert.equal(stats.rolledBySize, segments.length - 1);
    assert.equal(stats.closedSegments, segments.length);
    assert.equal(stats.documents, 300);
  });
});

Deno.test("file backend: an event larger than max-bytes gets a segment of its own", async () => {
  await withDir(async (dir) => {
    const backend = await open(dir, { maxBytes: 1000 });
    const small = makeEvents("app.log", 2);
    const [big] = makeEvents("app.log", 1, 2, 5000);
    await backend.write([small[0], big, small[1]]);
    await backend.close();
    const segments = await listSegments(dir);
    const contents = await Promise.all(segments.map((segment) => readSegment(segment.path)));
    assert.deepEqual(contents, [[small[0]], [big], [small[1]]]);
  });
});

Deno.test("file backend: segments roll by age on the clock, aligned, even without events", async () => {
  await withDir(async (dir) => {
    let now = Date.UTC(2026, 10, 23, 18, 20, 0);
    const backend = await open(dir, { maxAgeMs: 3_600_000, now: () => now });
    const events = makeEvents("ssh.login", 6);
    await backend.write([events[0]]);
    now = Date.UTC(2026, 10, 23, 18, 59, 59, 999);
    await backend.write([events[1]]);
    await backend.maintain();
    assert.deepEqual(await filesUnder(dir), [
      ".lock",
      ".positions",
      "ssh.login/2026-11-23T18-20-00Z-000001.bson.part",
    ]);
    now = Date.UTC(2026, 10, 23, 19, 0, 0);
    await backend.maintain();
    assert.deepEqual(await filesUnder(dir), [
      ".lock",
      ".positions",
      "ssh.login/2026-11-23T18-20-00Z-000001.bson",
    ]);
    assert.deepEqual(await readType(dir, "ssh.login"), events.slice(0, 2));
    now = Date.UTC(2026, 10, 23, 19, 0, 5);
    await backend.write([events[2]]);
    // A write after the deadline rolls by itself, without maintain().
    now = Date.UTC(2026, 10, 23, 20, 0, 1);
    await backend.write([events[3], events[4]]);
    now = Date.UTC(2026, 10, 23, 20, 0, 1, 500);
    await backend.write([events[5]]);
    await backend.close();
    assert.deepEqual(await filesUnder(dir), [
      ".lock",
      ".positions",
      "ssh.login/2026-11-23T18-20-00Z-000001.bson",
      "ssh.login/2026-11-23T19-00-05Z-000001.bson",
      "ssh.login/2026-11-23T20-00-01Z-000001.bson",
    ]);
    const segments = await listSegments(dir);
    assert.deepEqual(await readSegment(segments[1].path), [events[2]]);
    assert.deepEqual(await readSegment(segments[2].path), events.slice(3));
    assert.equal(backend.stats().rolledByAge, 2);
  });
});

Deno.test("file backend: the timer closes a segment whose age is up", async () => {
  await withDir(async (dir) => {
    let now = Date.UTC(2026, 0, 1, 0, 0, 0);
    const closed: string[] = [];
    const backend = await FileBackend.open({
      dir,
      maxAgeMs: 60_000,
      now: () => now,
      tickMs: 10,
      onClose: (segment) => closed.push(segment.path),
    });
    await backend.write(makeEvents("host.cpu", 3));
    now += 60_000;
    const deadline = Date.now() + 10_000;
    while (closed.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual(closed, [`${dir}/host.cpu/2026-01-01T00-00-00Z-000001.bson`]);
    await backend.close();
  });
});

Deno.test("file backend: names within one second sort by sequence, after existing files", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/app.log`);
    // Left by an earlier run in this very second.
    await Deno.writeFile(`${dir}/app.log/2026-01-01T00-00-00Z-000007.bson`, new Uint8Array());
    let now = Date.UTC(2026, 0, 1, 0, 0, 0, 100);
    const backend = await open(dir, { maxBytes: 1, now: () => now });
    await backend.write(makeEvents("app.log", 3));
    // A clock stepped back must not give names that sort before the newest.
    now = Date.UTC(2025, 11, 31, 23, 59, 0);
    await backend.write(makeEvents("app.log", 1, 3));
    await backend.close();
    const names = (await filesUnder(dir)).filter((name) => name.startsWith("app.log/"));
    assert.deepEqual(names, [
      "app.log/2026-01-01T00-00-00Z-000007.bson",
      "app.log/2026-01-01T00-00-00Z-000008.bson",
      "app.log/2026-01-01T00-00-00Z-000009.bson",
      "app.log/2026-01-01T00-00-00Z-000010.bson",
      "app.log/2026-01-01T00-00-00Z-000011.bson",
    ]);
  });
});

Deno.test("file backend: one directory per type, .bson decodes to the same events", async () => {
  await withDir(async (dir) => {
    const hits = makeEvents("http.hit", 50);
    const logins = makeEvents("ssh.login", 20);
    const mixed: Event[] = [];
    for (let i = 0; i < 50; i++) {
      mixed.push(hits[i]);
      if (i < 20) mixed.push(logins[i]);
    }
    const backend = await open(dir);
    await backend.write(mixed.slice(0, 33));
    await backend.write(mixed.slice(33));
    await backend.close();
    assert.deepEqual(await filesUnder(dir), [
      ".lock",
      ".positions",
      ...(await listSegments(dir)).map((segment) =>
        `${segment.type}/${segment.path.split("/").pop()}`
      ),
    ]);
    const [hitFile] = await listSegments(dir, { type: "http.hit" });
    assert.deepEqual(decodeBatch(await Deno.readFile(hitFile.path)), hits);
    const [loginFile] = await listSegments(dir, { type: "ssh.login" });
    assert.deepEqual(decodeBatch(await Deno.readFile(loginFile.path)), logins);
  });
});

Deno.test("file backend: .jsonl lines are Extended JSON that parse back to the events", async () => {
  await withDir(async (dir) => {
    const events = makeEvents("http.hit", 25);
    const backend = await open(dir, { format: "jsonl" });
    await backend.write(events);
    await backend.close();
    const [segment] = await listSegments(dir);
    assert.match(segment.path, /\/http\.hit\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-000001\.jsonl$/);
    const text = await Deno.readTextFile(segment.path);
    const lines = text.split("\n");
    assert.equal(lines.pop(), "");
    assert.equal(lines.length, 25);
    for (const [i, line] of lines.entries()) {
      const plain = JSON.parse(line);
      assert.equal(plain.time.$date, events[i].time.toISOString());
      assert.equal(plain.i, i);
      assert.deepEqual(fromJsonLine(line), events[i]);
    }
  });
});

for (const format of ["bson", "jsonl"] as const) {
  Deno.test(`file backend: gzip ${format} segments decompress to the plain bytes`, async () => {
    await withDir(async (dir) => {
      const events = makeEvents("http.hit", 400);
      const plainDir = `${dir}/plain`;
      const gzDir = `${dir}/gz`;
      for (const [target, gzip] of [[plainDir, false], [gzDir, true]] as const) {
        const backend = await open(target, { format, gzip, maxBytes: 40_000 });
        for (let i = 0; i < events.length; i += 37) await backend.write(events.slice(i, i + 37));
        await backend.close();
      }
      const plain = await listSegments(plainDir);
      const gz = await listSegments(gzDir);
      assert.ok(plain.length > 1);
      assert.equal(gz.length, plain.length);
      for (let n = 0; n < gz.length; n++) {
        assert.ok(gz[n].path.endsWith(`.${format}.gz`));
        const expected = await Deno.readFile(plain[n].path);
        const compressed = await Deno.readFile(gz[n].path);
        assert.ok(compressed.length < expected.length / 2, "compressed");
        assert.deepEqual(await gunzipWeb(compressed), expected);
        const gzip = await new Deno.Command("gzip", { args: ["-dc", gz[n].path] }).output();
        assert.equal(gzip.code, 0, new TextDecoder().decode(gzip.stderr));
        assert.deepEqual(gzip.stdout, expected);
      }
      assert.deepEqual(await readType(gzDir, "http.hit"), events);
    });
  });
}

for (const gzip of [false, true]) {
  Deno.test(
    `file backend: a write that fails (ENOSPC) leaves no trace, the retry stores each event once${
      gzip ? " (gzip)" : ""
    }`,
    async () => {
      await withDir(async (dir) => {
        const disk = new TinyDisk();
        const errors: string[] = [];
        const backend = await open(dir, {
          gzip,
          maxBytes: 3000,
          openFile: disk.open,
          onError: (error) => errors.push(error.message),
        });
        const hits = makeEvents("http.hit", 200);
        const logins = makeEvents("ssh.login", 200);
        const batches: Event[][] = [];
        for (let i = 0; i < 200; i += 25) {
          batches.push([...hits.slice(i, i + 25), ...logins.slice(i, i + 25)]);
        }
        let failed = 0;
        for (const [n, batch] of batches.entries()) {
          // Space runs out partway through this batch, at a different spot each time.
          disk.free = n % 2 === 0 ? Infinity : gzip ? 150 + n * 50 : 1500 + n * 300;
          // As the runner does: what a type could not store is retried, the rest was stored.
          let left = batch;
          while (left.length > 0) {
            const result = await backend.write(left);
            if (typeof result === "number") break;
            assert.match(String(result.failed!.error), /No space left/);
            left = result.failed!.events;
            failed += new Set(left.map((event) => event.type)).size;
            disk.free = Infinity;
          }
        }
        disk.free = Infinity;
        await backend.close();
        assert.ok(failed >= 3, `${failed} writes failed`);
        assert.equal(backend.stats().failedWrites, failed);
        assert.deepEqual(await readType(dir, "http.hit"), hits);
        assert.deepEqual(await readType(dir, "ssh.login"), logins);
        assert.deepEqual((await filesUnder(dir)).filter((name) => name.endsWith(".part")), []);
      });
    },
  );
}

Deno.test("file backend: a segment that cannot be closed is retried, then finished", async () => {
  await withDir(async (dir) => {
    const disk = new TinyDisk();
    const errors: string[] = [];
    let now = Date.UTC(2026, 0, 1);
    const backend = await open(dir, {
      gzip: true,
      maxAgeMs: 60_000,
      now: () => now,
      openFile: disk.open,
      onError: (error) => errors.push(error.message),
    });
    const events = makeEvents("app.log", 10);
    await backend.write(events);
    disk.free = 3; // not enough for the gzip trailer
    now += 60_000;
    await backend.maintain();
    assert.equal(backend.stats().pendingClose, 1);
    assert.match(errors[0], /could not close .*\.bson\.gz\.part: No space left/);
    disk.free = Infinity;
    await backend.maintain();
    assert.equal(backend.stats().pendingClose, 0);
    await backend.close();
    assert.deepEqual(await readType(dir, "app.log"), events);
  });
});

Deno.test("file backend: close fails loudly when a segment cannot be finished", async () => {
  await withDir(async (dir) => {
    const disk = new TinyDisk();
    const backend = await open(dir, { gzip: true, openFile: disk.open });
    await backend.write(makeEvents("app.log", 5));
    disk.free = 0;
    await assert.rejects(backend.close(), /1 segment\(s\) could not be closed/);
    assert.equal((await filesUnder(dir)).filter((name) => name.endsWith(".part")).length, 1);
    // The next start finalizes what the failed close left.
    const again = await open(dir);
    assert.equal(again.recovered.length, 1);
    assert.equal(again.recovered[0].documents, 5);
    await again.close();
    assert.deepEqual(await readType(dir, "app.log"), makeEvents("app.log", 5));
  });
});

Deno.test("file backend: refuses events with a bad type, writes the rest", async () => {
  await withDir(async (dir) => {
    const backend = await open(dir);
    const good = makeEvents("app.log", 2);
    const bad = { ...good[0], type: "../escape" } as Event;
    assert.equal(await backend.write([good[0], bad, good[1]]), 1);
    await backend.close();
    assert.deepEqual(await readType(dir, "app.log"), good);
    assert.deepEqual((await filesUnder(dir)).filter((name) => !name.startsWith("app.log/")), [
      ".lock",
      ".positions",
    ]);
  });
});

Deno.test("file backend: one sink per directory, and a directory that cannot be used", async () => {
  await withDir(async (dir) => {
    const first = await open(`${dir}/archive`);
    await assert.rejects(
      open(`${dir}/archive`),
      (error) => error instanceof UsageError && /in use by another file sink/.test(error.message),
    );
    await first.close();
    const second = await open(`${dir}/archive`);
    await second.close();
    await assert.rejects(second.write(makeEvents("app.log", 1)), /closed/);
    await second.close();
    await Deno.writeTextFile(`${dir}/plain-file`, "x");
    await assert.rejects(
      open(`${dir}/plain-file`),
      (error) => error instanceof UsageError && /--dir .*plain-file/.test(error.message),
    );
    await assert.rejects(
      open(`${dir}/plain-file/below`),
      (error) => error instanceof UsageError && /cannot create/.test(error.message),
    );
  });
});

Deno.test("file backend: a type whose directory cannot be written fails alone (audit #3)", async () => {
  await withDir(async (dir) => {
    // A plain file where the type's directory should be.
    await Deno.writeTextFile(`${dir}/k.blocked`, "");
    const backend = await open(dir, { format: "jsonl" });
    const blocked = makeEvents("k.blocked", 5);
    const ok = makeEvents("k.ok", 5);
    const positions = [
      { source: 255n, topic: "k.blocked", next: 5, at: 0 },
      { source: 255n, topic: "k.ok", next: 5, at: 0 },
    ];
    const result = await backend.write(blocked.flatMap((event, i) => [event, ok[i]]), positions);
    assert.ok(typeof result === "object" && result.failed !== undefined);
    assert.deepEqual(result.failed.events, blocked);
    assert.match(String(result.failed.error), /k\.blocked/);
    assert.equal(result.rejected, 0);
    assert.equal(backend.stats().failedWrites, 1);
    // The healthy type's position is saved, the failed one's is not.
    assert.deepEqual((await backend.positions()).map((p) => p.topic), ["k.ok"]);
    // Once the directory can be made, the retry stores the events kept back.
    await Deno.remove(`${dir}/k.blocked`);
    assert.equal(await backend.write(blocked), 0);
    await backend.close();
    assert.deepEqual(await readType(dir, "k.ok"), ok);
    assert.deepEqual(await readType(dir, "k.blocked"), blocked);
  });
});
