import assert from "node:assert/strict";
import { WindowedTopN } from "./top_n.ts";

Deno.test("WindowedTopN ranks keys by count, ties by key", () => {
  const top = new WindowedTopN({ windowMs: 60_000 });
  top.rotate(0);
  for (const key of ["b", "a", "c", "a", "b", "a", "d"]) top.add(key);
  top.add("c", 2);
  assert.deepEqual(top.top(3), [["a", 3], ["c", 3], ["b", 2]]);
  assert.deepEqual(top.top(10).length, 4);
});

Deno.test("WindowedTopN forgets what slid out of the window", () => {
  const top = new WindowedTopN({ windowMs: 60_000, segments: 6 });
  top.rotate(0);
  top.add("old", 5);
  top.rotate(30_000);
  top.add("new", 1);
  assert.deepEqual(top.top(5), [["old", 5], ["new", 1]]);
  // 60 s after "old" was counted its segment leaves the window; "new" (at 30 s) stays.
  top.rotate(60_000);
  assert.deepEqual(top.top(5), [["new", 1]]);
  top.rotate(95_000);
  assert.deepEqual(top.top(5), []);
  // A long pause empties everything at once.
  top.add("x");
  top.rotate(10_000_000);
  assert.deepEqual(top.top(5), []);
});

Deno.test("WindowedTopN stays bounded under distinct keys and keeps the heavy ones exact", () => {
  const top = new WindowedTopN({ windowMs: 60_000, segments: 6, capacity: 100 });
  top.rotate(0);
  let heavy = 0;
  for (let i = 0; i < 200_000; i++) {
    top.add(`10.0.${i >> 8}.${i & 255}`);
    if (i % 10 === 0) {
      top.add("203.0.113.9");
      heavy++;
    }
    assert.ok(top.size <= 6 * 4 * 100 + 1, `size ${top.size}`);
  }
  assert.deepEqual(top.top(1), [["203.0.113.9", heavy]]);
});

Deno.test("WindowedTopN cuts long keys", () => {
  const top = new WindowedTopN({ maxKeyLength: 10 });
  top.rotate(0);
  top.add("x".repeat(10_000));
  top.add("x".repeat(20_000));
  const [[key, count]] = top.top(1);
  assert.equal(key, "x".repeat(9) + "…");
  assert.equal(count, 2);
});

Deno.test("WindowedTopN refuses a bad window", () => {
  assert.throws(() => new WindowedTopN({ windowMs: 0 }), RangeError);
  assert.throws(() => new WindowedTopN({ segments: 0 }), RangeError);
});
