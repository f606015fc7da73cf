import assert from "node:assert/strict";
import { expandGlobs, globToRegExp } from "./glob.ts";

Deno.test("globToRegExp", () => {
  assert.ok(globToRegExp("*.log").test("access.log"));
  assert.ok(!globToRegExp("*.log").test("access.log.1"));
  assert.ok(!globToRegExp("*.log").test(".hidden.log"));
  assert.ok(globToRegExp(".*.log").test(".hidden.log"));
  assert.ok(globToRegExp("app-?.log").test("app-1.log"));
  assert.ok(!globToRegExp("app-?.log").test("app-12.log"));
  assert.ok(globToRegExp("app-[0-9].log").test("app-7.log"));
  assert.ok(!globToRegExp("app-[!0-9].log").test("app-7.log"));
  assert.ok(globToRegExp("a+b(c).log").test("a+b(c).log"));
  assert.ok(globToRegExp("x\\*y").test("x*y"));
  assert.ok(!globToRegExp("x\\*y").test("xzy"));
});

Deno.test("expandGlobs: **, braces, relative paths, files only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/a/b/c`, { recursive: true });
    await Deno.mkdir(`${dir}/x.log`);
    for (const f of ["top.log", "a/one.log", "a/b/c/deep.log", "a/b/skip.txt", "a/b/two.err"]) {
      Deno.writeTextFileSync(`${dir}/${f}`, "x\n");
    }
    assert.deepEqual(await expandGlobs([`${dir}/**/*.log`]), [
      `${dir}/a/b/c/deep.log`,
      `${dir}/a/one.log`,
      `${dir}/top.log`,
    ]);
    assert.deepEqual(await expandGlobs(["a/b/*.{txt,err}"], { cwd: dir }), [
      `${dir}/a/b/skip.txt`,
      `${dir}/a/b/two.err`,
    ]);
    assert.deepEqual(
      await expandGlobs([`${dir}/top.log`, `${dir}/missing.log`, `${dir}/top.log`]),
      [
        `${dir}/top.log`,
      ],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
