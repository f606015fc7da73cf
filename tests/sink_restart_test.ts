// Issue 11 item 2 across a sink restart, for the sinks that need no server (store, file): see
// tests/restart.ts; and the file sink killed between its documents and its positions. The Cassandra and MongoDB cases are in their own test files.
import assert from "node:assert/strict";
import { Emitter } from "@eventstorm/core";
import { FileBackend, listSegments, POSITIONS_FILE, readSegment } from "@eventstorm/sink-file";
import { StoreBackend } from "@eventstorm/sink-store";
import { startRouter, stderrChild, waitFor } from "./helpers.ts";
import {
  gapsSavedAndLoaded,
  lostWhileDown,
  replayAfterRestart,
  type RestartTarget,
} from "./restart.ts";
import { DatabaseSync } from "node:sqlite";
import { tempDir } from "./temp.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function storeTarget(): Promise<RestartTarget & { dir: string }> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/events.db`;
  return {
    dir,
    open: () => Promise.resolve(new StoreBackend(path)),
    rows: async () => {
      const backend = new StoreBackend(path);
      const n = backend.store.count();
      await backend.close();
      return n;
    },
  };
}

Deno.test("store sink: a replay after a restart counts as duplicates", opts, async () => {
  const target = await storeTarget();
  await replayAfterRestart(target, 0x5701n);
  await Deno.remove(target.dir, { recursive: true });
});

Deno.test("store sink: events sent while it was down count as lost", opts, async () => {
  const target = await storeTarget();
  await lostWhileDown(target, 0x5702n);
  await Deno.remove(target.dir, { recursive: true });
});

Deno.test("store sink: gaps are saved with positions and read back", opts, async () => {
  await using dir = await tempDir();
  await gapsSavedAndLoaded(
    () => Promise.resolve(new StoreBackend(`${dir.path}/events.db`)),
    0x5704n,
  );
});

Deno.test(
  "store sink: a positions table saved before gaps were loads, gaps none",
  opts,
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/events.db`;
    await new StoreBackend(path).close();
    // The table as it was before the column: one stream saved there.
    const old = new DatabaseSync(path);
    old.exec("ALTER TABLE streams DROP COLUMN gaps");
    old.exec("INSERT INTO streams (source, topic, next, at) VALUES ('5705', 'app.tick', 7, 1)");
    old.close();
    const backend = new StoreBackend(path);
    try {
      assert.deepEqual(await backend.positions(), [
        { source: 0x5705n, topic: "app.tick", next: 7, at: 1 },
      ]);
      await backend.savePositions([
        { source: 0x5705n, topic: "app.tick", next: 9, at: 2, gaps: [7, 8] },
      ]);
      assert.deepEqual(await backend.positions(), [
        { source: 0x5705n, topic: "app.tick", next: 9, at: 2, gaps: [7, 8] },
      ]);
    } finally {
      await backend.close();
    }
  },
);

async function fileTarget(): Promise<RestartTarget & { dir: string }> {
  const dir = await Deno.makeTempDir();
  return {
    dir,
    open: () => FileBackend.open({ dir, format: "jsonl" }),
    rows: async () => {
      let n = 0;
      for (const segment of await listSegments(dir, { type: "app.tick" })) {
        n += (await readSegment(segment.path)).length;
      }
      return n;
    },
  };
}

Deno.test("file sink: a replay after a restart counts as duplicates", opts, async () => {
  const target = await fileTarget();
  await replayAfterRestart(target, 0xf11en);
  await Deno.remove(target.dir, { recursive: true });
});

Deno.test("file sink: events sent while it was down count as lost", opts, async () => {
  const target = await fileTarget();
  await lostWhileDown(target, 0xf12en);
  await Deno.remove(target.dir, { recursive: true });
});

Deno.test("file sink: gaps are saved with positions and read back", opts, async () => {
  await using dir = await tempDir();
  await gapsSavedAndLoaded(() => FileBackend.open({ dir: dir.path, format: "jsonl" }), 0xf14en);
});

Deno.test(
  "file sink: killed before it saved its positions, it finds them in the .part segments",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const r = startRouter();
    const args = ["--dir", dir, "--from", r.sinks, "--format", "jsonl", "--gzip"];
    let sink = fileSink(args);
    try {
      await waitFor(() => /receiving from/.test(sink.stderr()), "the sink to start", 60_000);
      const out = await Emitter.open({ endpoints: r.sources, host: "h", sourceId: 0xf13en });
      await waitFor(() => out.stats().subscriptions > 0, "the sink's subscription");
      for (let i = 0; i < 50; i++) out.emit("app.tick", { i });
      await out.close();
      await waitFor(() => /stored 50,/.test(sink.stderr()), "50 stored", 60_000);
      await sink.stop("SIGKILL");
      // The worst moment of the crash: not one position saved.
      await Deno.remove(`${dir}/${POSITIONS_FILE}`);
      sink = fileSink(args);
      await waitFor(() => /receiving from/.test(sink.stderr()), "the sink to restart", 60_000);
      const replay = await Emitter.open({ endpoints: r.sources, host: "h", sourceId: 0xf13en });
      await waitFor(() => replay.stats().subscriptions > 0, "the restarted sink's subscription");
      for (let i = 0; i < 60; i++) replay.emit("app.tick", { i });
      await replay.close();
      await waitFor(() => /stored 10,/.test(sink.stderr()), "10 stored", 60_000);
      assert.equal((await sink.stop("SIGTERM")).code, 0, sink.stderr());
      const last = sink.stderr().trim().split("\n").at(-1)!;
      assert.match(last, /received 10, stored 10,.*lost on wire 0, duplicates on wire 50/);
      const indexes: number[] = [];
      for (const segment of await listSegments(dir, { type: "app.tick" })) {
        for (const event of await readSegment(segment.path)) indexes.push(event.i as number);
      }
      assert.deepEqual(indexes.sort((a, b) => a - b), [...Array(60).keys()]);
    } finally {
      if ((await Promise.race([sink.child.status, null])) === null) await sink.stop("SIGKILL");
      await r.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "store sink command: SIGTERM, restart, replay: duplicates on wire, then lost for what it missed",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const r = startRouter();
    const args = ["sink", "store", "--db", `${dir}/events.db`, "--from", r.sinks];
    const start = () => {
      const sink = stderrChild(new URL("../cli.ts", import.meta.url).pathname, [
        ...args,
        "--stats-interval",
        "200ms",
        "--stats-to",
        "none",
      ]);
      return {
        stderr: sink.stderr,
        stop: async () => {
          const { code } = await sink.stop();
          return { code, last: sink.stderr().trim().split("\n").at(-1)! };
        },
      };
    };
    let sink = start();
    try {
      const out = await Emitter.open({ endpoints: r.sources, host: "h", sourceId: 0x5703n });
      await waitFor(() => out.stats().subscriptions > 0, "the sink's subscription", 60_000);
      for (let i = 0; i < 30; i++) out.emit("app.tick", { i });
      await out.close();
      await waitFor(() => /stored 30,/.test(sink.stderr()), "30 stored", 60_000);
      assert.equal((await sink.stop()).code, 0);
      sink = start();
      // Replays 20..29 and goes on to 39, after 40..49 were lost on the way.
      const replay = await Emitter.open({
        endpoints: r.sources,
        host: "h",
        sourceId: 0x5703n,
        positions: { "app.tick": 20 },
      });
      await waitFor(() => replay.stats().subscriptions > 0, "the restarted sink's subscription");
      for (let i = 20; i < 40; i++) replay.emit("app.tick", { i });
      await replay.close();
      const after = await Emitter.open({
        endpoints: r.sources,
        host: "h",
        sourceId: 0x5703n,
        positions: { "app.tick": 50 },
      });
      await waitFor(() => after.stats().subscriptions > 0, "the subscription, again");
      for (let i = 50; i < 55; i++) after.emit("app.tick", { i });
      await after.close();
      await waitFor(() => /stored 15,/.test(sink.stderr()), "15 stored", 60_000);
      const { code, last } = await sink.stop();
      assert.equal(code, 0);
      assert.match(last, /received 15, stored 15,.*lost on wire 10, duplicates on wire 10/);
    } finally {
      await sink.stop().catch(() => {});
      await r.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** The file sink as a child process. */
function fileSink(args: string[]) {
  return stderrChild(new URL("../sinks/file/main.ts", import.meta.url).pathname, [
    "--stats-to",
    "none",
    "--stats-interval",
    "200ms",
    ...args,
  ]);
}
