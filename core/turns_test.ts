import assert from "node:assert/strict";
import { Turns } from "./turns.ts";

function busy(ms: number): void {
  const start = performance.now();
  while (performance.now() - start < ms) { /* a loop that never awaits */ }
}

Deno.test("a busy loop that gives its turns lets an interval keep time", async () => {
  const turns = new Turns({ intervalMs: 5, clockEvery: 1 });
  let ticks = 0;
  const interval = setInterval(() => ticks++, 10);
  const start = performance.now();
  while (performance.now() - start < 200) {
    if (turns.due()) await turns.give();
  }
  clearInterval(interval);
  // 20 ticks were due; a loop that never gave a turn would see none.
  assert(ticks >= 12, `only ${ticks} ticks`);
});

Deno.test("Turns is due only after its interval of busy work", async () => {
  const turns = new Turns({ intervalMs: 30, clockEvery: 1 });
  assert(!turns.due());
  busy(35);
  assert(turns.due());
  await turns.give();
  assert(!turns.due());
  busy(35);
  turns.waited();
  assert(!turns.due());
});
