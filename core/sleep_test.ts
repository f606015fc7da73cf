import assert from "node:assert/strict";
import { sleep } from "./sleep.ts";

Deno.test("sleep: resolves true once the time has passed", async () => {
  const started = performance.now();
  assert.equal(await sleep(20), true);
  assert.ok(performance.now() - started >= 19);
});

Deno.test("sleep: an abort ends the wait at once with false and leaves no timer", async () => {
  const stop = new AbortController();
  const slept = sleep(60_000, stop.signal);
  stop.abort();
  // The test sanitizer fails this test if the 60 s timer were still pending.
  assert.equal(await slept, false);
});

Deno.test("sleep: an already aborted signal resolves false without waiting", async () => {
  assert.equal(await sleep(60_000, AbortSignal.abort()), false);
});
