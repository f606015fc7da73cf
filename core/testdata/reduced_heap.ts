// Fills V8's old generation with garbage, starts the memory reducer and prints,
// as JSON, whether it started, the heap and the file-backed RSS (kB) before and
// after it had time to run, and whether code still runs after that.
// The timer is unref'd: this script must exit on its own when its work is done.
import { startMemoryReducer } from "../memory_reducer.ts";

function rssFileKb(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(status.match(/^RssFile:\s+(\d+) kB$/m)?.[1] ?? NaN);
}

let kept: unknown[] = [];
for (let round = 0; round < 40; round++) {
  kept.push(Array.from({ length: 10_000 }, (_, i) => ({ round, i, text: `line ${i}` })));
}
kept = []; // all of it is garbage now, but old enough to sit in the old generation
const before = Deno.memoryUsage().heapUsed;
const fileBefore = rssFileKb();
const stop = startMemoryReducer(50);
await new Promise((resolve) => setTimeout(resolve, 400));
const after = Deno.memoryUsage().heapUsed;
const fileAfter = rssFileKb();
// Code whose pages were unmapped runs again from the file: a fresh module, a
// regular expression, a hash.
const { parseDuration } = await import("../duration.ts");
const digest = Array.from(
  new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("abc"))),
  (byte) => byte.toString(16).padStart(2, "0"),
).join("") + ` ${parseDuration("90s")}`;
console.log(JSON.stringify({
  started: stop !== undefined,
  before,
  after,
  fileBefore,
  fileAfter,
  digest,
}));
