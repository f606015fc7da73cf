import assert from "node:assert/strict";
import { LogHistogram } from "./histogram.ts";

function nearestRank(sorted: number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p * sorted.length) / 100 - 1e-9)) - 1];
}

Deno.test("LogHistogram percentiles are within half a bucket of the nearest-rank value", () => {
  const histogram = new LogHistogram({ precision: 0.01 });
  const values: number[] = [];
  let seed = 42;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < 50_000; i++) {
    const value = Math.round(random() ** 3 * 2000) / 1000 + 0.001;
    values.push(value);
    histogram.add(value);
  }
  values.sort((a, b) => a - b);
  for (const p of [1, 50, 90, 95, 99, 99.9, 100]) {
    const exact = nearestRank(values, p);
    const estimate = histogram.percentile(p)!;
    assert.ok(Math.abs(estimate - exact) / exact <= 0.0051, `p${p}: ${estimate} vs ${exact}`);
  }
  assert.equal(histogram.count, 50_000);
});

Deno.test("LogHistogram counts zeros exactly and ignores NaN", () => {
  const histogram = new LogHistogram();
  for (let i = 0; i < 60; i++) histogram.add(0);
  for (let i = 0; i < 40; i++) histogram.add(0.5);
  histogram.add(NaN);
  assert.equal(histogram.count, 100);
  assert.equal(histogram.percentile(60), 0);
  assert.ok(Math.abs(histogram.percentile(61)! - 0.5) < 0.003);
});

Deno.test("LogHistogram: empty gives null, reset empties, huge values clamp", () => {
  const histogram = new LogHistogram({ max: 100 });
  assert.equal(histogram.percentile(50), null);
  histogram.add(1e9);
  assert.ok(histogram.percentile(50)! >= 99 && histogram.percentile(50)! <= 101);
  histogram.reset();
  assert.equal(histogram.count, 0);
  assert.equal(histogram.percentile(99), null);
  assert.throws(() => new LogHistogram({ min: 0 }), RangeError);
});

Deno.test("LogHistogram.merge: percentiles of both streams, as if counted in one", () => {
  const whole = new LogHistogram();
  const merged = new LogHistogram();
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  // A minute of seconds, each with its own spread, merged one by one.
  for (let second = 0; second < 60; second++) {
    const part = new LogHistogram();
    for (let i = 0; i < 100; i++) {
      const value = second === 30 ? 0 : random() * (second + 1) / 10;
      part.add(value);
      whole.add(value);
    }
    merged.merge(part);
  }
  assert.equal(merged.count, 6000);
  for (const p of [1, 1.5, 50, 95, 99, 100]) {
    assert.equal(merged.percentile(p), whole.percentile(p), `p${p}`);
  }
  merged.merge(new LogHistogram());
  assert.equal(merged.count, 6000);
  assert.throws(() => merged.merge(new LogHistogram({ precision: 0.02 })), RangeError);
  merged.reset();
  assert.equal(merged.percentile(50), null);
  merged.add(0.25);
  assert.ok(Math.abs(merged.percentile(50)! - 0.25) < 0.002, "reset left no stale bucket");
});
