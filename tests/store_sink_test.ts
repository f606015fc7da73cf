import assert from "node:assert/strict";
import { EventStore, queryEvents } from "@eventstorm/sink-store";
import { cli, emitter, finish, gather, startRouter, tempDir, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function statsNumbers(stderr: string): Record<string, number> {
  const last = stderr.trim().split("\n").filter((line) => line.startsWith("sink store:")).pop() ??
    "";
  const numbers: Record<string, number> = {};
  for (
    const [, key, value] of last.matchAll(/(received|stored|buffered|dropped|lost on wire) (\d+)/g)
  ) {
    numbers[key] = Number(value);
  }
  return numbers;
}

Deno.test("source → router → store sink → eventstorm query", opts, async () => {
  await using temp = await tempDir();
  const dir = temp.path;
  const db = `${dir}/events.db`;
  const r = startRouter();
  const sink = cli([
    "sink",
    "store",
    "--db",
    db,
    "--from",
    r.sinks,
    "--topic",
    "http.",
    "--stats-interval",
    "1s",
    "--stats-to",
    "none",
  ]);
  const out = await emitter({ endpoints: r.sources });
  await waitFor(() => out.stats().subscriptions > 0, "the sink's subscription at the source");
  const base = Date.UTC(2026, 10, 23, 12, 0, 0);
  for (let i = 0; i < 3000; i++) {
    out.send({
      type: "http.hit",
      time: new Date(base + i * 100),
      host: "web1",
      status: i % 10 === 0 ? 500 : 200,
      request_time: (i % 100) / 100,
      path: `/p/${i % 7}`,
    });
    out.send({ type: "ssh.login", time: new Date(base), host: "web1", result: "failed" });
  }
  await out.close();
  await waitFor(() => {
    try {
      const store = EventStore.open(db, { readOnly: true });
      const count = store.count();
      store.close();
      return count >= 3000;
    } catch {
      return false;
    }
  }, "3000 events in the store");
  sink.kill("SIGTERM");
  const result = await finish(sink);
  assert.equal(result.code, 0, result.stderr);
  const numbers = statsNumbers(result.stderr);
  assert.equal(numbers.received, 3000, result.stderr);
  assert.equal(numbers.stored, 3000);
  assert.equal(numbers.dropped, 0);

  const store = EventStore.open(db, { readOnly: true });
  const errors = queryEvents(store, {
    type: "http.",
    where: [{ field: "status", op: ">=", value: 500 }],
  });
  assert.equal(errors.length, 300);
  assert.ok(errors.every((event) => event.time instanceof Date && event.status === 500));
  assert.equal(queryEvents(store, { type: "ssh." }).length, 0, "the sink subscribed to http. only");
  store.close();

  const query = await finish(
    cli([
      "query",
      "--db",
      db,
      "--type",
      "http.hit",
      "--since",
      new Date(base).toISOString(),
      "--until",
      new Date(base + 300_000).toISOString(),
      "--every",
      "1m",
      "--measure",
      "count",
      "--measure",
      "p95:request_time",
    ]),
  );
  assert.equal(query.code, 0, query.stderr);
  const rows = query.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.equal(
    rows.reduce((sum, row) => sum + (row.count ?? row.values?.count ?? 0), 0),
    3000,
    query.stdout,
  );
  await r.stop();
});

Deno.test("a replayed stream is stored once (stable ids from stream positions)", opts, async () => {
  await using temp = await tempDir();
  const dir = temp.path;
  const db = `${dir}/events.db`;
  const r = startRouter();
  const sink = cli([
    "sink",
    "store",
    "--db",
    db,
    "--from",
    r.sinks,
    "--stats-interval",
    "1s",
    "--stats-to",
    "none",
  ]);
  const first = await emitter({ endpoints: r.sources });
  await waitFor(() => first.stats().subscriptions > 0, "subscription");
  for (let i = 0; i < 500; i++) first.emit("app.line", { i });
  await first.close();
  // A restarted source resumes its stream: same source id, numbering from an older checkpoint.
  const replay = await emitter({
    endpoints: r.sources,
    sourceId: first.sourceId,
    positions: { "app.line": 300 },
  });
  await waitFor(() => replay.stats().subscriptions > 0, "subscription");
  for (let i = 300; i < 700; i++) replay.emit("app.line", { i });
  await replay.close();
  await waitFor(() => {
    try {
      const store = EventStore.open(db, { readOnly: true });
      const count = store.count();
      store.close();
      return count >= 700;
    } catch {
      return false;
    }
  }, "700 events");
  sink.kill("SIGTERM");
  const result = await finish(sink);
  assert.equal(result.code, 0, result.stderr);
  const store = EventStore.open(db, { readOnly: true });
  const values = queryEvents(store, { type: "app.line", limit: 10_000 }).map((event) =>
    event.i as number
  ).sort((a, b) => a - b);
  store.close();
  assert.deepEqual(values, [...Array(700).keys()]);
  await r.stop();
});

Deno.test(
  "SIGTERM while events wait in the sink's socket: they are stored, not discarded",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const r = startRouter();
    // One event per transaction keeps the store behind the wire, so at the signal
    // most events still sit in libzmq's queues on their way to the sink.
    const sink = cli([
      "sink",
      "store",
      "--db",
      `${dir}/events.db`,
      "--from",
      r.sinks,
      "--batch-size",
      "1",
      "--stats-interval",
      "0s",
      "--stats-to",
      "none",
    ]);
    try {
      const out = await emitter({ endpoints: r.sources, maxEvents: 1000 });
      await waitFor(() => out.stats().subscriptions > 0, "the sink's subscription at the source");
      // In steps, as a live source sends: each wakes the sink, which then spends
      // its time writing while the rest queues up in libzmq.
      for (let i = 0; i < 50_000; i++) {
        out.emit("app.count", { i });
        if (i % 1000 === 999) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await out.flush();
      await new Promise((resolve) => setTimeout(resolve, 300));
      sink.kill("SIGTERM");
      const result = await finish(sink);
      await out.close();
      assert.equal(result.code, 0, result.stderr);
      const numbers = statsNumbers(result.stderr);
      assert.equal(numbers.received, 50_000, result.stderr);
      assert.equal(numbers.stored, 50_000, result.stderr);
      const store = EventStore.open(`${dir}/events.db`, { readOnly: true });
      assert.equal(queryEvents(store, { type: "app.count" }).length, 50_000);
      store.close();
    } finally {
      await r.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "sink store from the command line: --retain at start, stats published as events",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const db = `${dir}/events.db`;
    const now = Date.now();
    const seed = EventStore.open(db);
    seed.insertBatch([
      ...[1, 2, 3].map((i) => ({
        type: "old.x",
        time: new Date(now - 2 * 3_600_000),
        host: "h",
        i,
      })),
      ...[1, 2].map((i) => ({ type: "old.x", time: new Date(now - 60_000), host: "h", i })),
    ]);
    seed.close();
    const r = startRouter();
    const stats = await gather({ endpoints: r.sinks, topics: ["eventstorm.stats"] });
    const sink = cli([
      "sink",
      "store",
      "--db",
      db,
      "--retain",
      "1h",
      "--from",
      r.sinks,
      "--topic",
      "app.",
      "--stats-to",
      r.sources,
      "--stats-interval",
      "1s",
    ]);
    try {
      const out = await emitter({ endpoints: r.sources });
      await waitFor(() => out.stats().subscriptions > 1, "the sink's subscription at the source");
      for (let i = 0; i < 100; i++) out.emit("app.x", { i });
      await out.close();
      await waitFor(
        () => stats.events.some((event) => event.stored === 100),
        "a stats event saying 100 stored",
      );
      const published = stats.events.find((event) => event.stored === 100)!;
      assert.equal(published.component, "sink-store");
      assert.equal(published.received, 100);
      for (
        const field of [
          "dropped_full",
          "dropped_rejected",
          "dropped_shutdown",
          "lost",
          "duplicates",
        ]
      ) {
        assert.equal(published[field], 0, field);
      }
      assert.equal(typeof published.latency_ms_avg, "number");
      assert.ok((published.latency_ms_max as number) >= (published.latency_ms_avg as number));
      sink.kill("SIGTERM");
      const result = await finish(sink);
      assert.equal(result.code, 0, result.stderr);
      const store = EventStore.open(db, { readOnly: true });
      assert.equal(queryEvents(store, { type: "app.x" }).length, 100);
      // The two-hour-old events went at start; the minute-old ones stay.
      assert.deepEqual(queryEvents(store, { type: "old.x" }).map((e) => e.i), [1, 2]);
      store.close();
    } finally {
      await stats.stop();
      await r.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
