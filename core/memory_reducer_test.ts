import assert from "node:assert/strict";
import { startMemoryReducer } from "./memory_reducer.ts";

const SCRIPT = new URL("./testdata/reduced_heap.ts", import.meta.url).pathname;

async function runScript(v8Flags: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", ...v8Flags, SCRIPT],
    stderr: "inherit",
  }).output();
  assert.equal(output.code, 0);
  return JSON.parse(new TextDecoder().decode(output.stdout)) as {
    started: boolean;
    before: number;
    after: number;
  };
}

Deno.test("memory reducer: under --expose-gc the heap shrinks to what is live, and the timer does not hold the process", async () => {
  const { started, before, after } = await runScript(["--v8-flags=--expose-gc"]);
  assert.ok(started);
  // 40 × 10,000 objects are garbage: without a full collection the heap keeps them.
  assert.ok(before > 20 * 2 ** 20, `the script should have grown the heap, got ${before} bytes`);
  assert.ok(after < before / 2, `heap ${before} → ${after} bytes: the reducer did not run`);
});

Deno.test("memory reducer: without --expose-gc it starts nothing", async () => {
  assert.equal(startMemoryReducer(), undefined);
  const { started, before, after } = await runScript([]);
  assert.equal(started, false);
  assert.ok(after > before / 2, `heap ${before} → ${after} bytes shrank with nothing to shrink it`);
});
