// Fills V8's old generation with garbage, starts the memory reducer and prints,
// as JSON, whether it started and the heap before and after it had time to run.
// The timer is unref'd: this script must exit on its own when its work is done.
import { startMemoryReducer } from "../memory_reducer.ts";

let kept: unknown[] = [];
for (let round = 0; round < 40; round++) {
  kept.push(Array.from({ length: 10_000 }, (_, i) => ({ round, i, text: `line ${i}` })));
}
kept = []; // all of it is garbage now, but old enough to sit in the old generation
const before = Deno.memoryUsage().heapUsed;
const stop = startMemoryReducer(50);
await new Promise((resolve) => setTimeout(resolve, 400));
const after = Deno.memoryUsage().heapUsed;
console.log(JSON.stringify({ started: stop !== undefined, before, after }));
