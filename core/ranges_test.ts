import assert from "node:assert/strict";
import { intersectRanges, rangesLength } from "./ranges.ts";

Deno.test("ranges: intersectRanges keeps the indexes in both lists", () => {
  assert.deepEqual(intersectRanges([0, 10, 20, 30], [5, 25]), [5, 10, 20, 25]);
  assert.deepEqual(intersectRanges([5, 25], [0, 10, 20, 30]), [5, 10, 20, 25]);
  assert.deepEqual(intersectRanges([100, 200], []), []);
  assert.deepEqual(intersectRanges([100, 200], [100, 200]), [100, 200]);
  // Touching is not overlapping: [from, to) pairs.
  assert.deepEqual(intersectRanges([0, 10], [10, 20]), []);
  assert.deepEqual(intersectRanges([0, 10, 12, 14, 16, 30], [5, 13, 15, 17]), [
    5,
    10,
    12,
    13,
    16,
    17,
  ]);
});

Deno.test("ranges: rangesLength counts the indexes", () => {
  assert.equal(rangesLength([]), 0);
  assert.equal(rangesLength([0, 10, 20, 25]), 15);
});
