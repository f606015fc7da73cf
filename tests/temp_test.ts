import assert from "node:assert/strict";
import { tempDir } from "./temp.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("tempDir: removed with its contents when the scope ends", async () => {
  let path = "";
  {
    await using temp = await tempDir({ prefix: "temp_test_" });
    path = temp.path;
    await Deno.mkdir(`${path}/a/b`, { recursive: true });
    await Deno.writeTextFile(`${path}/a/b/c.txt`, "x");
    assert.ok(await exists(path));
  }
  assert.equal(await exists(path), false);
});

Deno.test("tempDir: removed also when the scope throws, and when it is gone already", async () => {
  let path = "";
  await assert.rejects(async () => {
    await using temp = await tempDir();
    path = temp.path;
    throw new Error("the test failed");
  }, /the test failed/);
  assert.equal(await exists(path), false);
  {
    await using temp = await tempDir();
    await Deno.remove(temp.path);
  }
});
