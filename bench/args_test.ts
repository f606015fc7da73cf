import assert from "node:assert/strict";

const bench = (file: string, ...args: string[]) =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(file, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("bench flags: --help prints the usage, a mistake is one line and exit code 2", async () => {
  const help = await bench("./e2e_bench.ts", "--help");
  assert.equal(help.code, 0);
  assert.equal(text(help.stdout), "usage: deno run -A bench/e2e_bench.ts [--lines N] [--keep]\n");
  for (const args of [["--bogus"], ["--lines"]]) {
    const wrong = await bench("./e2e_bench.ts", ...args);
    assert.equal(wrong.code, 2, args.join(" "));
    assert.equal(text(wrong.stdout), "");
    assert.match(text(wrong.stderr), /^error: .+\(usage: deno run -A bench\/e2e_bench\.ts .*\)\n$/);
  }
  // A benchmark without flags of its own answers --help rather than running.
  const transport = await bench("./transport_bench.ts", "--help");
  assert.equal(transport.code, 0);
  assert.equal(text(transport.stdout), "usage: deno run -A bench/transport_bench.ts\n");
});

Deno.test("deno task bench --help lists every benchmark and runs none", async () => {
  const help = await bench("./main.ts", "--help");
  assert.equal(help.code, 0);
  const out = text(help.stdout);
  assert.match(out, /^usage: deno task bench/);
  for (const name of ["transport", "e2e", "steady", "ruby"]) {
    assert.match(out, new RegExp(`^  ${name} +\\S+_bench\\.ts$`, "m"));
  }
  assert.doesNotMatch(out, /==/);
  const unknown = await bench("./main.ts", "bogus");
  assert.equal(unknown.code, 2);
  assert.match(text(unknown.stderr), /^error: unknown benchmark 'bogus'/);
});
