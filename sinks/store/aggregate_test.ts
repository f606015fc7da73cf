import assert from "node:assert/strict";
import type { Event } from "@eventstorm/core";
import { UsageError } from "@eventstorm/core/cli";
import { EventStore } from "./store.ts";
import { aggregate, nearestRank, parseMeasure } from "./aggregate.ts";
import { parseWhere } from "./filter.ts";

const MINUTE = 60_000;
/** Not itself on a minute boundary, so alignment is to the epoch and not to the data. */
const START = Date.UTC(2026, 4, 5, 10, 0, 0) + 17_345;

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function sampleEvents(count: number, seed: number): Event[] {
  const next = random(seed);
  const hosts = ["a", "b", "b", "c", "c", "c", "d"];
  return Array.from({ length: count }, (_, i) => {
    const event: Event = {
      type: i % 5 === 0 ? "http.error" : "http.hit",
      time: new Date(START + Math.floor(next() * 10 * MINUTE)),
      host: hosts[Math.floor(next() * hosts.length)],
      latency: Math.round(next() * 1_000_000) / 1000,
      bytes: BigInt(Math.floor(next() * 1e6)),
    };
    if (i % 9 === 0) event.latency = "n/a";
    if (i % 17 === 0) delete event.latency;
    return event;
  });
}

/** The definition of the nearest-rank percentile: the least value with at least p% of values at or below it. */
function percentileByDefinition(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  if (p === 0) return sorted[0];
  for (const candidate of sorted) {
    const atOrBelow = sorted.filter((v) => v <= candidate).length;
    if (atOrBelow * 100 >= p * values.length) return candidate;
  }
  return sorted[sorted.length - 1];
}

function expectedFor(events: Event[]) {
  const latencies = events.flatMap((e) => typeof e.latency === "number" ? [e.latency] : []);
  const bytes = events.map((e) => Number(e.bytes));
  return {
    count: events.length,
    "sum:latency": latencies.reduce((s, v) => s + v, 0),
    "avg:latency": latencies.length
      ? latencies.reduce((s, v) => s + v, 0) / latencies.length
      : null,
    "min:latency": latencies.length ? Math.min(...latencies) : null,
    "max:latency": latencies.length ? Math.max(...latencies) : null,
    "p50:latency": percentileByDefinition(latencies, 50),
    "p95:latency": percentileByDefinition(latencies, 95),
    "p99.9:latency": percentileByDefinition(latencies, 99.9),
    "p0:latency": percentileByDefinition(latencies, 0),
    "p100:latency": percentileByDefinition(latencies, 100),
    "sum:bytes": bytes.reduce((s, v) => s + v, 0),
    "max:bytes": bytes.length ? Math.max(...bytes) : null,
  };
}

const MEASURES = [
  "count",
  "sum:latency",
  "avg:latency",
  "min:latency",
  "max:latency",
  "p50:latency",
  "p95:latency",
  "p99.9:latency",
  "p0:latency",
  "p100:latency",
  "sum:bytes",
  "max:bytes",
];

function assertClose(
  actual: Record<string, number | bigint | null>,
  expected: Record<string, number | null>,
  what: string,
) {
  for (const [label, value] of Object.entries(expected)) {
    const got = actual[label];
    if (value === null || got === null || typeof got === "bigint") {
      assert.equal(got, value, `${what} ${label}`);
    } else {
      assert.ok(
        Math.abs(got - value) <= 1e-9 * Math.max(1, Math.abs(value)),
        `${what} ${label}: ${got} != ${value}`,
      );
    }
  }
}

Deno.test("every measure per minute bucket matches values computed here", () => {
  const store = EventStore.open(":memory:");
  const events = sampleEvents(3000, 7);
  store.insertBatch(events);
  const hits = events.filter((e) => e.type === "http.hit");
  const buckets = new Map<number, Event[]>();
  for (const e of hits) {
    const start = Math.floor(e.time.getTime() / MINUTE) * MINUTE;
    buckets.set(start, [...(buckets.get(start) ?? []), e]);
  }
  // With a percentile the values are gathered in JavaScript; without, SQLite aggregates.
  for (const measures of [MEASURES, MEASURES.filter((m) => !m.startsWith("p"))]) {
    const result = aggregate(store, { type: "http.hit", every: MINUTE, measures });
    assert.deepEqual(result.measures, measures);
    assert.deepEqual(
      result.rows.map((r) => r.time.getTime()),
      [...buckets.keys()].sort((a, b) => a - b),
    );
    for (const row of result.rows) {
      assert.equal(row.time.getTime() % MINUTE, 0);
      assert.equal(row.group, undefined);
      assert.deepEqual(Object.keys(row.values), measures);
      const expected: Record<string, number | null> = expectedFor(buckets.get(row.time.getTime())!);
      const wanted = Object.fromEntries(measures.map((m) => [m, expected[m]]));
      assertClose(row.values, wanted, `${measures.length} measures, ${row.time.toISOString()}`);
    }
  }
  store.close();
});

Deno.test("buckets are UTC epoch multiples, also before 1970 and for days", () => {
  const store = EventStore.open(":memory:");
  const times = [
    Date.UTC(2026, 0, 1, 23, 59, 59, 999),
    Date.UTC(2026, 0, 2, 0, 0, 0, 0),
    Date.UTC(2026, 0, 2, 13, 30),
    -1,
    -86_400_000,
    -86_400_001,
  ];
  store.insertBatch(times.map((t) => ({ type: "x.y", time: new Date(t), host: "h" })));
  const day = 86_400_000;
  const result = aggregate(store, { every: day });
  assert.deepEqual(
    result.rows.map((r) => [r.time.toISOString(), r.values.count]),
    [
      ["1969-12-30T00:00:00.000Z", 1],
      ["1969-12-31T00:00:00.000Z", 2],
      ["2026-01-01T00:00:00.000Z", 1],
      ["2026-01-02T00:00:00.000Z", 2],
    ],
  );
  store.close();
});

Deno.test("a breakdown keeps the top groups by events, each measured on its own", () => {
  const store = EventStore.open(":memory:");
  const events = sampleEvents(2000, 11);
  store.insertBatch(events);
  const since = new Date(START - 2 * MINUTE);
  const until = new Date(START + 12 * MINUTE);
  const result = aggregate(store, {
    since,
    until,
    every: 5 * MINUTE,
    measures: ["count", "avg:latency", "p95:latency", "sum:bytes"],
    by: "host",
    top: 2,
  });
  const totals = new Map<string, number>();
  for (const e of events) totals.set(e.host, (totals.get(e.host) ?? 0) + 1);
  const ranked = [...totals.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  assert.deepEqual(result.groups, ranked.slice(0, 2).map(([host]) => host));
  assert.equal(result.by, "host");

  const first = Math.floor(since.getTime() / (5 * MINUTE)) * 5 * MINUTE;
  const bucketStarts: number[] = [];
  for (let t = first; t < until.getTime(); t += 5 * MINUTE) bucketStarts.push(t);
  // Every bucket of the range is there for every kept group, empty ones included.
  assert.deepEqual(
    result.rows.map((r) => [r.time.getTime(), r.group]),
    bucketStarts.flatMap((t) => result.groups!.map((g) => [t, g])),
  );
  for (const row of result.rows) {
    const inRow = events.filter((e) =>
      e.host === row.group &&
      Math.floor(e.time.getTime() / (5 * MINUTE)) * 5 * MINUTE === row.time.getTime()
    );
    const expected = expectedFor(inRow);
    assertClose(row.values, {
      count: expected.count,
      "avg:latency": expected["avg:latency"],
      "p95:latency": expected["p95:latency"],
      "sum:bytes": expected["sum:bytes"],
    }, `${row.group} ${row.time.toISOString()}`);
  }
  store.close();
});

Deno.test("a breakdown by a numeric or sometimes-missing field", () => {
  const store = EventStore.open(":memory:");
  const t = Date.UTC(2026, 0, 1);
  store.insertBatch([
    { type: "x.y", time: new Date(t), host: "h", status: 200, ms: 1 },
    { type: "x.y", time: new Date(t), host: "h", status: 200, ms: 3 },
    { type: "x.y", time: new Date(t), host: "h", status: 200, ms: 5 },
    { type: "x.y", time: new Date(t), host: "h", ms: 100 },
    { type: "x.y", time: new Date(t), host: "h", ms: 300 },
    { type: "x.y", time: new Date(t), host: "h", status: "200", ms: 7 },
  ]);
  const result = aggregate(store, {
    every: MINUTE,
    by: "status",
    measures: ["count", "max:ms", "p50:ms"],
  });
  assert.deepEqual(result.groups, [200, null, "200"]);
  assert.deepEqual(result.rows.map((r) => [r.group, r.values]), [
    [200, { count: 3, "max:ms": 5, "p50:ms": 3 }],
    [null, { count: 2, "max:ms": 300, "p50:ms": 100 }],
    ["200", { count: 1, "max:ms": 7, "p50:ms": 7 }],
  ]);
  store.close();
});

Deno.test("empty buckets are filled from since to until; where conditions apply", () => {
  const store = EventStore.open(":memory:");
  const t = Date.UTC(2026, 0, 1, 0, 0, 0);
  store.insertBatch([
    { type: "x.y", time: new Date(t + 5_000), host: "h", v: 2, keep: "y" },
    { type: "x.y", time: new Date(t + 35_000), host: "h", v: 4, keep: "n" },
    { type: "x.y", time: new Date(t + 36_000), host: "h", v: 6, keep: "y" },
  ]);
  const result = aggregate(store, {
    since: new Date(t + 1_000),
    until: new Date(t + 50_000),
    every: 10_000,
    where: [parseWhere("keep=y")],
    measures: ["count", "sum:v", "avg:v", "p99:v"],
  });
  assert.deepEqual(result.rows.map((r) => [r.time.getTime() - t, r.values]), [
    [0, { count: 1, "sum:v": 2, "avg:v": 2, "p99:v": 2 }],
    [10_000, { count: 0, "sum:v": 0, "avg:v": null, "p99:v": null }],
    [20_000, { count: 0, "sum:v": 0, "avg:v": null, "p99:v": null }],
    [30_000, { count: 1, "sum:v": 6, "avg:v": 6, "p99:v": 6 }],
    [40_000, { count: 0, "sum:v": 0, "avg:v": null, "p99:v": null }],
  ]);
  const unfilled = aggregate(store, {
    since: new Date(t),
    every: 10_000,
    fill: false,
    now: t + 50_000,
  });
  assert.deepEqual(unfilled.rows.map((r) => r.values.count), [1, 2]);
  store.close();
});

Deno.test("nearestRank and parseMeasure", () => {
  assert.equal(nearestRank([15, 20, 35, 40, 50], 30), 20);
  assert.equal(nearestRank([15, 20, 35, 40, 50], 40), 20);
  assert.equal(nearestRank([15, 20, 35, 40, 50], 50), 35);
  assert.equal(nearestRank([15, 20, 35, 40, 50], 100), 50);
  assert.equal(nearestRank([15, 20, 35, 40, 50], 0), 15);
  assert.equal(nearestRank([], 50), null);
  // 7% of 100 is rank 7 exactly, although 0.07 * 100 is 7.000000000000001 in floating point.
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(nearestRank(hundred, 7), 7);
  assert.equal(nearestRank(hundred, 99.9), 100);

  assert.deepEqual(parseMeasure("count"), { kind: "count", label: "count" });
  assert.deepEqual(parseMeasure("avg:rt"), { kind: "avg", field: "rt", label: "avg:rt" });
  assert.deepEqual(parseMeasure("p95:rt"), {
    kind: "percentile",
    field: "rt",
    percentile: 95,
    label: "p95:rt",
  });
  for (const bad of ["p101:x", "median:x", "sum:", "sum:a'b", "count:x", "avg:host", "p:x"]) {
    assert.throws(() => parseMeasure(bad), UsageError, bad);
  }
  const store = EventStore.open(":memory:");
  assert.throws(() => aggregate(store, { every: 0 }), RangeError);
  assert.throws(() => aggregate(store, { every: 1000, measures: ["bogus"] }), RangeError);
  assert.throws(() => aggregate(store, { every: 1000, by: "time" }), RangeError);
  assert.throws(() => aggregate(store, { every: 1000, measures: ["count", "count"] }), RangeError);
  store.close();
});

Deno.test("min and max of int64 are exact, bigints past 2^53 (audit #1)", () => {
  const store = EventStore.open(":memory:");
  try {
    const snow = 1234567890123456789n;
    store.insertBatch([
      { type: "t.snow", time: new Date(0), host: "h", id: snow, who: "a" },
      { type: "t.snow", time: new Date(1), host: "h", id: snow + 1n, who: "a" },
      { type: "t.snow", time: new Date(2), host: "h", id: 7n, who: "b" },
      { type: "t.snow", time: new Date(3), host: "h", id: 2.5, who: "b" },
    ]);
    for (const measures of [["min:id", "max:id", "count"], ["min:id", "max:id", "p50:id"]]) {
      const result = aggregate(store, { type: "t.snow", every: 86_400_000, measures, by: "who" });
      const byWho = new Map(result.rows.map((row) => [row.group, row.values]));
      assert.equal(byWho.get("a")!["min:id"], snow, measures.join());
      assert.equal(byWho.get("a")!["max:id"], snow + 1n, measures.join());
      assert.equal(byWho.get("b")!["min:id"], 2.5, measures.join());
      assert.equal(byWho.get("b")!["max:id"], 7, measures.join());
    }
  } finally {
    store.close();
  }
});
