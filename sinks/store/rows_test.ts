import assert from "node:assert/strict";
import { mulberry32 } from "@eventstorm/core/internal";
import { gapsToSave } from "./rows.ts";

/** Sorted ranges below `next` that do not touch, from random cuts. */
function randomGaps(random: () => number, next: number): number[] {
  const gaps: number[] = [];
  let at = 0;
  while (true) {
    const from = at + 1 + Math.floor(random() * 4), to = from + 1 + Math.floor(random() * 4);
    if (to > next || random() < 0.2) return gaps;
    gaps.push(from, to);
    at = to;
  }
}

Deno.test("gapsToSave: open below the larger next where both views are, as ranges that never touch", () => {
  const random = mulberry32(7);
  for (let round = 0; round < 2000; round++) {
    const savedNext = Math.floor(random() * 30), next = Math.floor(random() * 30);
    const saved = { next: savedNext, gaps: randomGaps(random, savedNext), positioned: true };
    const gaps = randomGaps(random, next);
    // A view's gap may reach its next, as the runner's do.
    if (gaps.length > 0 && random() < 0.3) gaps[gaps.length - 1] = next;
    const result = gapsToSave(saved, next, gaps);
    const openIn = (next: number, gaps: number[], index: number) => {
      if (index >= next) return true;
      for (let i = 0; i < gaps.length; i += 2) {
        if (gaps[i] <= index && index < gaps[i + 1]) return true;
      }
      return false;
    };
    const expected: number[] = [];
    for (let index = 0; index < Math.max(savedNext, next); index++) {
      if (!openIn(next, gaps, index) || !openIn(savedNext, saved.gaps, index)) continue;
      if (expected.at(-1) === index) expected[expected.length - 1] = index + 1;
      else expected.push(index, index + 1);
    }
    assert.deepEqual(result, expected, JSON.stringify({ saved, next, gaps }));
  }
});
