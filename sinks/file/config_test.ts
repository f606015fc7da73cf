import assert from "node:assert/strict";
import { UsageError } from "@eventstorm/core/cli";
import { fileBackendOptions } from "./config.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("fileBackendOptions: reads the flags, refuses bad values with one line", () => {
  assert.deepEqual(
    fileBackendOptions({
      dir: "/srv/archive/",
      format: "jsonl",
      gzip: true,
      "max-bytes": "1MiB",
      "max-age": "10m",
    }),
    { dir: "/srv/archive", format: "jsonl", gzip: true, maxBytes: 1 << 20, maxAgeMs: 600_000 },
  );
  const defaults = {
    dir: undefined,
    format: "bson",
    gzip: false,
    "max-bytes": "64MiB",
    "max-age": "1h",
  };
  for (
    const [values, message] of [
      [{ ...defaults }, /--dir is required/],
      [{ ...defaults, dir: "d", format: "csv" }, /--format must be bson or jsonl, got 'csv'/],
      [{ ...defaults, dir: "d", "max-bytes": "lots" }, /--max-bytes must be a size/],
      [{ ...defaults, dir: "d", "max-bytes": "0" }, /--max-bytes must be at least 1 byte/],
      [{ ...defaults, dir: "d", "max-age": "soon" }, /--max-age must be a duration/],
      [{ ...defaults, dir: "d", "max-age": "10ms" }, /--max-age must be at least 1s/],
    ] as const
  ) {
    assert.throws(
      () => fileBackendOptions(values),
      (error) => error instanceof UsageError && message.test(error.message),
    );
  }
});

Deno.test("file sink command: bad flags and an unusable --dir exit 2 with one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sink_file_main_" });
  try {
    await Deno.writeTextFile(`${dir}/a-file`, "");
    for (
      const [args, message] of [
        [["--stats-to", "none"], /^error: --dir is required\n$/],
        [["--dir", `${dir}/a-file`, "--stats-to", "none"], /^error: --dir .*a-file.*\n$/],
        [["--dir", "/proc/eventstorm-archive", "--stats-to", "none"], /^error: --dir .*\n$/],
        [["--dir", dir, "--format", "xml"], /^error: --format must be bson or jsonl/],
        [["--dir", dir, "--compress"], /^error: .*unknown flag '--compress'/],
      ] as const
    ) {
      const result = await run([...args]);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    }
    const help = await run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--max-bytes SIZE/);
    assert.match(help.stdout, /DIR\/TYPE\/2026-11-23T18-00-00Z-000001\.bson/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
