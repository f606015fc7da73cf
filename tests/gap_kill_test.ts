// A sink reading two routers (protocol 5.2) is killed with SIGKILL while it holds
// a gap open for the router that is behind (SIGSTOPped): the position it saved
// passes the gap, so unless the gap is saved with it, the restarted sink takes
// the gap's late copies as duplicates and never counts it lost. Over both runs,
// each event must be stored or counted lost, once.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Emitter } from "@eventstorm/core";
import { listSegments, readSegment } from "@eventstorm/sink-file";
import { startRouter, stderrChild } from "./helpers.ts";
import { RouterProcess } from "./redundant.ts";
import { tempDir } from "./temp.ts";
import { waitFor } from "./wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const TOPIC = "app.gap";

function storeSink(db: string, from: string) {
  return stderrChild(CLI, [
    ...["sink", "store", "--db", db, "--from", from, "--topic", TOPIC],
    ...["--stats-interval", "200ms", "--stats-to", "none"],
  ]);
}

/** The counters of the last stats line of a sink's stderr. */
function lastCounts(stderr: string): { stored: number; lost: number; duplicates: number } {
  const line = stderr.trim().split("\n").filter((l) => /lost on wire/.test(l)).pop() ?? "";
  // A counter at 0 may be left out of the line (duplicates on wire).
  const number = (name: string) =>
    line === "" ? NaN : Number(new RegExp(`${name} (\\d+)`).exec(line)?.[1] ?? 0);
  return {
    stored: number("stored"),
    lost: number("lost on wire"),
    duplicates: number("duplicates on wire"),
  };
}

/** Event indexes stored, from the events' `i`. */
function storedIndexes(db: string): number[] {
  const database = new DatabaseSync(db, { readOnly: true });
  try {
    const rows = database.prepare(
      "SELECT json_extract(data, '$.i') AS i FROM events WHERE type = ?",
    ).all(TOPIC) as { i: number }[];
    return rows.map(({ i }) => i).sort((a, b) => a - b);
  } finally {
    database.close();
  }
}

function emit(emitter: Emitter, from: number, to: number): void {
  for (let i = from; i < to; i++) emitter.emit(TOPIC, { i });
}

Deno.test(
  "store sink killed -9 while a gap is held for a stopped router: each event stored or lost once",
  opts,
  async () => {
    await using dir = await tempDir();
    const db = `${dir.path}/events.db`;
    const fast = new RouterProcess(), slow = new RouterProcess();
    await Promise.all([fast.start(), slow.start()]);
    const from = `${fast.sinks},${slow.sinks}`;
    let sink = storeSink(db, from);
    // One source, one emitter per router: the path through `fast` skips what `slow` holds.
    const source = 0x6a9n;
    let viaFast: Emitter | undefined, viaSlow: Emitter | undefined;
    try {
      viaFast = await Emitter.open({ endpoints: fast.sources, host: "h", sourceId: source });
      viaSlow = await Emitter.open({ endpoints: slow.sources, host: "h", sourceId: source });
      const [a, b] = [viaFast, viaSlow];
      await waitFor(
        () => a.stats().subscriptions > 0 && b.stats().subscriptions > 0,
        "the sink's subscription through both routers",
        60_000,
      );
      emit(a, 0, 100);
      emit(b, 0, 100);
      // Both paths' copies accounted: the slow router holds nothing older when it stops.
      await waitFor(
        () => {
          const { stored, duplicates } = lastCounts(sink.stderr());
          return stored === 100 && duplicates === 100;
        },
        "0..99 stored, the other path's copies duplicates",
        60_000,
      );

      // The slow router stops: 100..199 wait in its queues. The fast path has lost them.
      slow.child!.kill("SIGSTOP");
      emit(b, 100, 200);
      await b.ready();
      viaFast = await Emitter.open({
        endpoints: fast.sources,
        host: "h",
        sourceId: source,
        positions: { [TOPIC]: 200 },
      });
      await a.close();
      const c = viaFast;
      await waitFor(() => c.stats().subscriptions > 0, "the new fast path's subscription", 60_000);
      emit(c, 200, 300);
      // 200..299 stored, [100, 200) held open as a gap (10 s): not lost yet.
      await waitFor(() => lastCounts(sink.stderr()).stored === 200, "200..299 stored", 60_000);
      assert.equal(lastCounts(sink.stderr()).lost, 0);
      await sink.stop("SIGKILL");
      assert.equal(storedIndexes(db).length, 200);

      sink = storeSink(db, from);
      await waitFor(() => /receiving from/.test(sink.stderr()), "the sink to restart", 60_000);
      await waitFor(() => c.stats().subscriptions > 0, "the restarted sink's subscription");
      // The slow router goes on: its copies of 100..199 reach the restarted sink, or
      // arrive before its subscription and are gone; either way each is counted.
      slow.child!.kill("SIGCONT");
      emit(c, 300, 310);
      await waitFor(
        () => {
          // Late copies taken as duplicates would be the flaw: wait for them too.
          const { stored, lost, duplicates } = lastCounts(sink.stderr());
          return stored >= 10 && 200 + stored + lost + duplicates >= 310;
        },
        "every event stored or counted lost",
        60_000,
      ).catch((error) => {
        throw new Error(`${error.message}\n${sink.stderr().split("\n").slice(-4).join("\n")}`);
      });
      const stopped = await sink.stop("SIGTERM");
      assert.equal(stopped.code, 0, sink.stderr());
      const second = lastCounts(sink.stderr());
      const indexes = storedIndexes(db);
      assert.equal(new Set(indexes).size, indexes.length);
      assert.equal(second.stored, indexes.length - 200);
      // Each of the 310 events once: stored, or lost (by the second run: the first was
      // killed before the gap's hold ran out).
      assert.equal(indexes.length + second.lost, 310, sink.stderr());
      for (let i = 0; i < 100; i++) assert.equal(indexes[i], i);
      for (let i = 200; i < 310; i++) assert.ok(indexes.includes(i), `event ${i} stored`);
    } finally {
      await viaFast?.close();
      await viaSlow?.close();
      await sink.stop("SIGKILL");
      slow.child?.kill("SIGCONT");
      await Promise.all([fast.kill(), slow.kill()]);
    }
  },
);

/** A bound emitter of one path of `source`'s stream, from index `from` on. */
function path(source: bigint, from: number): Promise<Emitter> {
  return Emitter.open({
    endpoints: "@tcp://127.0.0.1:*",
    host: "h",
    sourceId: source,
    positions: { [TOPIC]: from },
  });
}

Deno.test(
  "store sink killed -9 while a gap is held: the late copies after the restart are stored",
  opts,
  async () => {
    await using dir = await tempDir();
    const db = `${dir.path}/events.db`;
    const source = 0x6aan;
    const paths = [await path(source, 0), await path(source, 200), await path(source, 100)];
    const [early, ahead, late] = paths;
    const from = paths.map((p) => `>${p.boundEndpoint()}`).join(",");
    let sink = storeSink(db, from);
    try {
      await waitFor(() => early.stats().subscriptions > 0, "the sink's subscription", 60_000);
      emit(early, 0, 100);
      await waitFor(() => lastCounts(sink.stderr()).stored === 100, "0..99 stored", 60_000);
      emit(ahead, 200, 300);
      await waitFor(() => lastCounts(sink.stderr()).stored === 200, "200..299 stored", 60_000);
      await sink.stop("SIGKILL");

      sink = storeSink(db, from);
      await waitFor(() => /receiving from/.test(sink.stderr()), "the sink to restart", 60_000);
      await waitFor(() => late.stats().subscriptions > 0, "the restarted sink's subscription");
      emit(late, 100, 200);
      await waitFor(
        () => {
          const { stored, duplicates } = lastCounts(sink.stderr());
          return stored + duplicates === 100;
        },
        "100..199 accounted",
        60_000,
      );
      for (const p of paths) await p.close();
      assert.equal((await sink.stop("SIGTERM")).code, 0, sink.stderr());
      assert.deepEqual(lastCounts(sink.stderr()), { stored: 100, lost: 0, duplicates: 0 });
      assert.deepEqual(storedIndexes(db), [...Array(300).keys()]);
    } finally {
      await sink.stop("SIGKILL");
      for (const p of paths) await p.close();
    }
  },
);

/** Starts a sink (the same store or directory each time) reading `from`. */
type SinkStart = (from: string) => ReturnType<typeof storeSink>;

/** `eventstorm sink file` into `dir`, as `storeSink`. */
function fileSink(dir: string, from: string) {
  return stderrChild(CLI, [
    ...["sink", "file", "--dir", dir, "--from", from, "--topic", TOPIC],
    ...["--stats-interval", "200ms", "--stats-to", "none"],
  ]);
}

/** Event indexes in the file sink's closed segments, from the events' `i`. */
async function archivedIndexes(dir: string): Promise<number[]> {
  const indexes: number[] = [];
  for (const segment of await listSegments(dir, { type: TOPIC })) {
    for (const event of await readSegment(segment.path)) indexes.push(event.i as number);
  }
  return indexes.sort((a, b) => a - b);
}

/** Stats lines a sink printed so far. */
function statsLines(stderr: string): number {
  return stderr.split("\n").filter((l) => /lost on wire/.test(l)).length;
}

/**
 * A sink of three paths of one stream, `0..99` stored through the first and
 * `200..299` through the second, so that `[100, 200)` is a gap held open (10 s)
 * and saved with the position; the third path goes on at 300 later. A fourth
 * path, of another stream, stores one event half a second later or so: the
 * sink's once-a-second save of its gaps then runs out of step with the gap's
 * hold, as it would on a sink that is not idle.
 */
async function sinkWithGap(start: SinkStart, source: bigint) {
  const paths = [await path(source, 0), await path(source, 200), await path(source, 300)];
  const nudge = await path(source + 1n, 0);
  const [early, ahead] = paths;
  const from = [...paths, nudge].map((p) => `>${p.boundEndpoint()}`).join(",");
  const sink = start(from);
  try {
    await waitFor(() => early.stats().subscriptions > 0, "the sink's subscription", 60_000);
    emit(early, 0, 100);
    await waitFor(() => lastCounts(sink.stderr()).stored === 100, "0..99 stored", 60_000);
    emit(ahead, 200, 300);
    await waitFor(() => lastCounts(sink.stderr()).stored === 200, "200..299 stored", 60_000);
    const lines = statsLines(sink.stderr());
    await waitFor(() => statsLines(sink.stderr()) >= lines + 3, "three stats lines (200 ms each)");
    nudge.emit(`${TOPIC}.nudge`, {});
    await waitFor(() => lastCounts(sink.stderr()).stored === 201, "the other stream's event");
  } catch (error) {
    await sink.stop("SIGKILL");
    for (const p of paths) await p.close();
    throw error;
  } finally {
    await nudge.close();
  }
  return { paths, from, sink };
}

/**
 * The run after the restart: the stream goes on at 300 through the third path,
 * then a clean stop (which counts a gap still open lost). Returns its last counts.
 */
async function goOnAndStop(start: SinkStart, from: string, later: Emitter) {
  const sink = start(from);
  try {
    await waitFor(() => /receiving from/.test(sink.stderr()), "the sink to restart", 60_000);
    await waitFor(() => later.stats().subscriptions > 0, "the restarted sink's subscription");
    emit(later, 300, 310);
    await waitFor(() => lastCounts(sink.stderr()).stored === 10, "300..309 stored", 60_000);
    assert.equal((await sink.stop("SIGTERM")).code, 0, sink.stderr());
    return lastCounts(sink.stderr());
  } finally {
    await sink.stop("SIGKILL");
  }
}

/**
 * Kills a sink with `kill -9` the moment its stats show a gap counted lost, and
 * restarts it: the next run must not count the gap again. `stored` reads the
 * indexes of the events stored, after the second run's clean stop.
 */
async function killedAsLostShows(
  start: SinkStart,
  stored: () => Promise<number[]>,
  source: bigint,
): Promise<void> {
  const { paths, from, sink } = await sinkWithGap(start, source);
  try {
    // No copy of 100..199 comes: past the hold the sink counts them lost. The moment
    // it shows that, the gaps it saved must no longer hold them.
    await waitFor(
      () => lastCounts(sink.stderr()).lost > 0,
      "the gap counted lost",
      60_000,
      2,
    );
    await sink.stop("SIGKILL");
    const first = lastCounts(sink.stderr());
    assert.equal(first.lost, 100, sink.stderr());

    const second = await goOnAndStop(start, from, paths[2]);
    assert.deepEqual(second, { stored: 10, lost: 0, duplicates: 0 });
    const indexes = await stored();
    assert.equal(indexes.length, 210);
    assert.equal(new Set(indexes).size, 210);
  } finally {
    await sink.stop("SIGKILL");
    for (const p of paths) await p.close();
  }
}

Deno.test(
  "store sink killed -9 as soon as it shows a gap counted lost: the next run does not count it again",
  opts,
  async () => {
    await using dir = await tempDir();
    const db = `${dir.path}/events.db`;
    await killedAsLostShows(
      (from) => storeSink(db, from),
      () => Promise.resolve(storedIndexes(db)),
      0x6abn,
    );
  },
);

Deno.test(
  "file sink killed -9 as soon as it shows a gap counted lost: the next run does not count it again",
  opts,
  async () => {
    await using dir = await tempDir();
    await killedAsLostShows(
      (from) => fileSink(dir.path, from),
      () => archivedIndexes(dir.path),
      0x6adn,
    );
  },
);

Deno.test(
  "store sink killed -9 as soon as it shows late copies stored: the next run keeps the gap filled",
  opts,
  async () => {
    await using dir = await tempDir();
    const db = `${dir.path}/events.db`;
    const start = (from: string) => storeSink(db, from);
    const { paths, from, sink } = await sinkWithGap(start, 0x6aen);
    try {
      // The first path catches up: its copies of 100..199 fill the gap. They are saved
      // with the gaps that leave them out, in one transaction, so a crash the moment
      // they show as stored cannot bring the gap back.
      emit(paths[0], 100, 200);
      await waitFor(
        () => lastCounts(sink.stderr()).stored === 301,
        "the late copies stored",
        60_000,
        2,
      );
      await sink.stop("SIGKILL");
      assert.equal(lastCounts(sink.stderr()).lost, 0);

      const second = await goOnAndStop(start, from, paths[2]);
      assert.deepEqual(second, { stored: 10, lost: 0, duplicates: 0 });
      assert.deepEqual(storedIndexes(db), [...Array(310).keys()]);
    } finally {
      await sink.stop("SIGKILL");
      for (const p of paths) await p.close();
    }
  },
);

Deno.test(
  "store sink that cannot save its gaps (database locked) does not show the gap lost; the next run counts it once",
  opts,
  async () => {
    await using dir = await tempDir();
    const db = `${dir.path}/events.db`;
    const start = (from: string) => storeSink(db, from);
    const { paths, from, sink } = await sinkWithGap(start, 0x6acn);
    // Another writer holds the database: the sink can save nothing (5 s busy timeout, then an error).
    const lock = new DatabaseSync(db);
    let locked = false;
    try {
      lock.exec("BEGIN IMMEDIATE");
      locked = true;
      // The gap opened before 200..299 were stored: its 10 s hold has run out once
      // a stats line later than this shows (reading the counters counts it).
      const expired = Date.now() + 10_000;
      let lines = Infinity;
      await waitFor(
        () => {
          if (Date.now() >= expired && lines === Infinity) lines = statsLines(sink.stderr());
          return statsLines(sink.stderr()) >= lines + 2;
        },
        "stats lines after the gap's hold ran out",
        60_000,
      );
      assert.match(sink.stderr(), /database is locked/);
      // Saved, the gap is still open: a crash now brings it back, so it is not counted yet.
      assert.equal(lastCounts(sink.stderr()).lost, 0, sink.stderr());
      await sink.stop("SIGKILL");
      lock.exec("ROLLBACK");
      locked = false;

      const second = await goOnAndStop(start, from, paths[2]);
      // Counted once, by the run whose saved position and gaps agree with it.
      assert.deepEqual(second, { stored: 10, lost: 100, duplicates: 0 });
      assert.equal(storedIndexes(db).length, 210);
    } finally {
      if (locked) lock.exec("ROLLBACK");
      lock.close();
      await sink.stop("SIGKILL");
      for (const p of paths) await p.close();
    }
  },
);

Deno.test(
  "store sink killed -9 as soon as it shows a stream's tail lost: the next run does not count it again",
  opts,
  async () => {
    await using dir = await tempDir();
    const db = `${dir.path}/events.db`;
    const source = 0x6afn;
    const r = startRouter();
    let sink = storeSink(db, r.sinks);
    const outs: Emitter[] = [];
    try {
      // Events above 200 bytes are dropped by the source: 10..14 are a tail only the
      // announcement of its close shows; no later batch of the stream saves past them.
      const out = await Emitter.open({
        endpoints: r.sources,
        host: "h",
        sourceId: source,
        maxEventBytes: 200,
      });
      outs.push(out);
      await waitFor(() => out.stats().subscriptions > 0, "the sink's subscription", 60_000);
      emit(out, 0, 10);
      await waitFor(() => lastCounts(sink.stderr()).stored === 10, "0..9 stored", 60_000);
      for (let i = 10; i < 15; i++) out.emit(TOPIC, { i, pad: "x".repeat(300) });
      await out.close();
      await waitFor(() => lastCounts(sink.stderr()).lost > 0, "the tail counted lost", 60_000, 2);
      await sink.stop("SIGKILL");
      assert.equal(lastCounts(sink.stderr()).lost, 5, sink.stderr());

      sink = storeSink(db, r.sinks);
      await waitFor(() => /receiving from/.test(sink.stderr()), "the sink to restart", 60_000);
      const more = await Emitter.open({
        endpoints: r.sources,
        host: "h",
        sourceId: source,
        positions: { [TOPIC]: 15 },
      });
      outs.push(more);
      await waitFor(() => more.stats().subscriptions > 0, "the restarted sink's subscription");
      emit(more, 15, 20);
      await waitFor(() => lastCounts(sink.stderr()).stored === 5, "15..19 stored", 60_000);
      assert.equal((await sink.stop("SIGTERM")).code, 0, sink.stderr());
      assert.deepEqual(lastCounts(sink.stderr()), { stored: 5, lost: 0, duplicates: 0 });
      assert.equal(storedIndexes(db).length, 15);
    } finally {
      await sink.stop("SIGKILL");
      for (const out of outs) await out.close();
      await r.stop();
    }
  },
);
