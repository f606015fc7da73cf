import assert from "node:assert/strict";
import { expandGlobs, globToRegExp } from "./glob.ts";
import { UsageError } from "../flags.ts";

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

Deno.test("expandGlobs: a path without wildcards that is a directory is refused at start", async () => {
  // It said 'no file matches DIR yet; waiting' for ever (audit finding 17).
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/logs`);
    Deno.writeTextFileSync(`${dir}/logs/a.log`, "x\n");
    for (const [pattern, glob] of [[`${dir}/logs`, `${dir}/logs`], ["logs/", "logs"]]) {
      await assert.rejects(
        () => expandGlobs([pattern], { cwd: dir }),
        new UsageError(
          `${pattern} is a directory, not a file; to follow files in it, give a quoted glob like '${glob}/*.log'`,
        ),
      );
      // While running, a path that became a directory is passed over, not an error.
      assert.deepEqual(await expandGlobs([pattern], { cwd: dir, directories: "skip" }), []);
    }
    // A glob may match directories: they are passed over.
    assert.deepEqual(await expandGlobs([`${dir}/*`, `${dir}/{logs,x}`]), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
