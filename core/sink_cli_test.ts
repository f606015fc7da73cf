import assert from "node:assert/strict";
import { formatSinkLine, sinkCommand } from "./sink_cli.ts";

Deno.test("sink line: the write latency has one decimal, as docs/specs/stats.md shows (audit #7)", () => {
  const counters = {
    received: 1,
    stored: 1,
    buffered: 0,
    dropped: 0,
    lost: 0,
    malformed: 0,
    rejected: 0,
  };
  const line = formatSinkLine("store", { ...counters, latency_ms_avg: 21.28 }, { stored: 0 }, 1000);
  assert.ok(line.endsWith(", write 21.3ms avg"), line);
  const fast = formatSinkLine("store", { ...counters, latency_ms_avg: 0.04 }, { stored: 0 }, 1000);
  assert.ok(fast.endsWith(", write 0ms avg"), fast);
});

Deno.test("sink line: a loss not saved yet shows beside lost on wire, and only then", () => {
  const counters = { received: 15, stored: 10, buffered: 5, dropped: 0, lost: 0 };
  const waiting = formatSinkLine("store", { ...counters, lost_unsaved: 5 }, { stored: 0 }, 1000);
  assert.match(waiting, /, lost on wire 0 \(\+5 not saved yet\), /);
  const saved = formatSinkLine("store", { ...counters, lost: 5, lost_unsaved: 0 }, {}, 1000);
  assert.match(saved, /, lost on wire 5, /);
  assert.doesNotMatch(saved, /not saved/);
});

/** Runs a sink's main with `args` the way a sink command does; its exit code and stderr. */
async function sinkMain(args: string[]): Promise<{ code: number; stderr: string }> {
  const flags = new URL("./flags.ts", import.meta.url).href;
  const cli = new URL("./sink_cli.ts", import.meta.url).href;
  const code = `
    import { runCommand } from ${JSON.stringify(flags)};
    import { runSinkMain } from ${JSON.stringify(cli)};
    await runCommand(() => runSinkMain(${JSON.stringify(args)}, {
      name: "null", summary: "discard events", flags: {},
      makeBackend: () => { throw new Error("the backend opened"); },
    }));`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("sink flags: a bad --buffer-bytes is a one-line usage error, exit 2", async () => {
  for (const bad of ["0", "garbage", "-5", "12 parsecs", "0.1"]) {
    const { code, stderr } = await sinkMain([`--buffer-bytes=${bad}`]);
    assert.equal(code, 2, `${bad}: ${stderr}`);
    assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
    assert.match(stderr, /--buffer-bytes must be a size of at least 1 byte like .*, got '/);
  }
  // A good one passes the check: the backend is what fails then.
  const good = await sinkMain(["--buffer-bytes", "512k"]);
  assert.equal(good.code, 1);
  assert.match(good.stderr, /the backend opened/);
});

Deno.test("sink flags: --when-full is block unless a sink keeps dropping, --batch-size 1000 unless it says; block passes the check", async () => {
  const spec = {
    name: "null",
    summary: "discard events",
    flags: {},
    makeBackend: () => Promise.reject(new Error("unused")),
  };
  const flag = (command: ReturnType<typeof sinkCommand>) =>
    (command.flags["when-full"] as { default?: string }).default;
  assert.equal(flag(sinkCommand(spec)), "block");
  assert.equal(flag(sinkCommand({ ...spec, whenFull: "drop-newest" })), "drop-newest");
  const batch = (command: ReturnType<typeof sinkCommand>) =>
    (command.flags["batch-size"] as { default?: string }).default;
  assert.equal(batch(sinkCommand(spec)), "1000");
  assert.equal(batch(sinkCommand({ ...spec, batchSize: 4000 })), "4000");
  const block = await sinkMain(["--when-full=block"]);
  assert.equal(block.code, 1, block.stderr);
  assert.match(block.stderr, /the backend opened/);
  const bad = await sinkMain(["--when-full=sideways"]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /--when-full must be drop-newest or drop-oldest or block, got 'sideways'/,
  );
});
