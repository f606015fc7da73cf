import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../../tests/temp.ts";
import { Reader } from "./reader.ts";
import { FollowerState } from "./state.ts";

Deno.test("a leftover that views the read buffer is copied out before the buffer is read into again", async () => {
  await using temp = await tempDir({ prefix: "tail_state_" });
  const path = join(temp.path, "a.log");
  await Deno.writeTextFile(path, "one\ntwo\n");
  const st = new FollowerState({ paths: [path] });
  using file = await Deno.open(path);
  const r = new Reader(path, path, path, false, true, file, await file.stat(), 100);
  const scratch = st.takeScratch();
  const n = file.readSync(scratch) ?? 0;
  st.keepLeftover(r, scratch.subarray(0, n), 4, 1000);
  assert.equal(r.leftover?.buffer, scratch.buffer, "no copy while nobody else reads");
  st.takeScratch().fill(0x78);
  assert.notEqual(r.leftover?.buffer, scratch.buffer);
  assert.equal(new TextDecoder().decode(r.leftover), "two\n");
  assert.equal(r.leftoverStart, 1004);
});
