import assert from "node:assert/strict";
import { parseLoadavg, readLoad } from "./load.ts";

Deno.test("parseLoadavg reads the averages and task counts", () => {
  assert.deepEqual(parseLoadavg("12.31 3.02 0.05 7/1091 4946\n"), {
    load1: 12.31,
    load5: 3.02,
    load15: 0.05,
    running: 7,
    procs: 1091,
  });
});

Deno.test("parseLoadavg rejects anything else", () => {
  assert.throws(() => parseLoadavg(""), SyntaxError);
  assert.throws(() => parseLoadavg("0.1 0.2 0.3\n"), SyntaxError);
  assert.throws(() => parseLoadavg("a b c 1/2 3\n"), SyntaxError);
});

Deno.test("readLoad reads this machine's load", async () => {
  const load = await readLoad();
  // This test's own thread is running while it reads the file.
  assert.ok(load.running >= 1);
  assert.ok(load.procs >= load.running);
  for (const value of [load.load1, load.load5, load.load15]) {
    assert.ok(Number.isFinite(value) && value >= 0);
  }
});
