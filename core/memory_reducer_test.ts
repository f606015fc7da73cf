import assert from "node:assert/strict";
import { startMemoryReducer } from "./memory_reducer.ts";

const SCRIPT = new URL("./testdata/reduced_heap.ts", import.meta.url).pathname;
const SHA256_OF_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

async function runScript(v8Flags: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ...v8Flags, SCRIPT],
    stderr: "inherit",
  }).output();
  assert.equal(output.code, 0);
  return JSON.parse(new TextDecoder().decode(output.stdout)) as {
    started: boolean;
    before: number;
    after: number;
    fileBefore: number;
    fileAfter: number;
    digest: string;
  };
}

Deno.test("memory reducer: under --expose-gc the heap shrinks to what is live, the executable's untouched pages go, and the timer does not hold the process", async () => {
  const result = await runScript(["--v8-flags=--expose-gc"]);
  const { started, before, after, fileBefore, fileAfter, digest } = result;
  assert.ok(started);
  // 40 × 10,000 objects are garbage: without a full collection the heap keeps them.
  assert.ok(before > 20 * 2 ** 20, `the script should have grown the heap, got ${before} bytes`);
  assert.ok(after < before / 2, `heap ${before} → ${after} bytes: the reducer did not run`);
  // Start-up touched MBs of the executable (9 MB here) that a few hundred ms of waiting do not.
  assert.ok(
    fileAfter < fileBefore - 4 * 1024,
    `file-backed RSS ${fileBefore} → ${fileAfter} kB: the executable's pages were not unmapped`,
  );
  assert.equal(digest, `${SHA256_OF_ABC} 90000`, "code ran again from unmapped pages");
});

Deno.test("memory reducer: without --expose-gc it starts nothing", async () => {
  assert.equal(startMemoryReducer(), undefined);
  const { started, before, after, fileBefore, fileAfter } = await runScript([]);
  assert.equal(started, false);
  assert.ok(after > before / 2, `heap ${before} → ${after} bytes shrank with nothing to shrink it`);
  assert.ok(fileAfter > fileBefore - 4 * 1024, `file-backed RSS ${fileBefore} → ${fileAfter} kB`);
});
