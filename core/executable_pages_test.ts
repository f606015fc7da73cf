import assert from "node:assert/strict";
import { cleanExecutableRanges, dropExecutablePages } from "./executable_pages.ts";
import { openLibc } from "./native.ts";

const EXE = "/usr/bin/deno";

function mapping(head: string, privateDirty: number, anonymous: number): string {
  return `${head}\nSize: 8 kB\nRss: 8 kB\nPrivate_Dirty: ${privateDirty} kB\n` +
    `Anonymous: ${anonymous} kB\nVmFlags: rd mr mw me\n`;
}

Deno.test("executable pages: only the executable's unwritable mappings without a private page are clean", () => {
  const smaps = [
    mapping(`1000-3000 r--p 00000000 08:01 42 ${EXE}`, 0, 0),
    mapping(`3000-5000 r-xp 00002000 08:01 42 ${EXE}`, 0, 0),
    // Relocated by the loader: private copies that MADV_DONTNEED would lose.
    mapping(`5000-6000 r--p 00004000 08:01 42 ${EXE}`, 4, 4),
    mapping(`6000-7000 rw-p 00005000 08:01 42 ${EXE}`, 0, 0),
    mapping(`7000-8000 r-xp 00000000 08:01 43 /usr/lib/libc.so.6`, 0, 0),
    mapping(`8000-9000 r-xp 00000000 08:01 44 ${EXE} (deleted)`, 0, 0),
    mapping("9000-a000 rw-p 00000000 00:00 0 ", 0, 4),
    // A mapping whose fields are missing is not known to be clean.
    `a000-b000 r-xp 00000000 08:01 42 ${EXE}\nRss: 4 kB\n`,
  ].join("");
  assert.deepEqual(cleanExecutableRanges(smaps, EXE), [
    { start: 0x1000n, length: 0x2000n },
    { start: 0x3000n, length: 0x2000n },
  ]);
});

Deno.test("executable pages: text that is not smaps gives nothing", () => {
  for (const text of ["", "garbage\n\n", `zz-yy r-xp 0 0 0 ${EXE}\nPrivate_Dirty: 0 kB\n`]) {
    assert.deepEqual(cleanExecutableRanges(text, EXE), []);
  }
});

Deno.test({
  name: "executable pages: this process's clean executable mappings are unmapped, and it runs on",
  ignore: Deno.build.os !== "linux",
  fn: () => {
    const libc = openLibc({ madvise: { parameters: ["usize", "usize", "i32"], result: "i32" } });
    assert.ok(libc, "libc opens");
    try {
      const rssFile = () =>
        Number(Deno.readTextFileSync("/proc/self/status").match(/^RssFile:\s+(\d+) kB$/m)![1]);
      const before = rssFile();
      assert.ok(dropExecutablePages(libc.symbols.madvise) >= 2, "r--p and r-xp are unmapped");
      const after = rssFile();
      assert.ok(after < before - 4 * 1024, `file-backed RSS ${before} → ${after} kB`);
      assert.equal(JSON.stringify({ a: [1, 2] }), '{"a":[1,2]}');
    } finally {
      libc.close();
    }
  },
});
