import assert from "node:assert/strict";
import { nextTask, Turns } from "./turns.ts";

function busy(ms: number): void {
  const start = performance.now();
  while (performance.now() - start < ms) { /* a loop that never awaits */ }
}

Deno.test("nextTask lets a due timer run before it resolves", async () => {
  for (let round = 0; round < 20; round++) {
    let fired = false;
    const timer = setTimeout(() => fired = true, 0);
    busy(3);
    await nextTask();
    clearTimeout(timer);
    assert(fired, `round ${round}: the timer had not run`);
  }
});

Deno.test("nextTask lets a signal handler run before it resolves", async () => {
  let seen = 0;
  const handler = () => seen++;
  Deno.addSignalListener("SIGUSR2", handler);
  try {
    for (let round = 0; round < 5; round++) {
      Deno.kill(Deno.pid, "SIGUSR2");
      busy(20);
      // The signal arrives through an op, a task or two after it was raised.
      for (let i = 0; i < 10 && seen <= round; i++) await nextTask();
      assert.equal(seen, round + 1);
    }
  } finally {
    Deno.removeSignalListener("SIGUSR2", handler);
  }
});

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
