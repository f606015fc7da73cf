import assert from "node:assert/strict";
import { Collector, type Event } from "@eventstorm/core";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

function metrics(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  });
}

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

// Checks what every sample must hold, whichever way the events travelled.
function assertSaneSample(events: Record<string, unknown>[], host: string): void {
  const byType = Map.groupBy(events, (e) => e.type as string);
  assert.deepEqual(
    [...byType.keys()].sort(),
    ["host.cpu", "host.disk", "host.load", "host.memory", "host.net"],
  );
  for (const event of events) assert.equal(event.host, host);
  const [cpu] = byType.get("host.cpu")!;
  assert.ok((cpu.busy_percent as number) >= 0 && (cpu.busy_percent as number) <= 100);
  assert.ok((cpu.idle_percent as number) >= 0 && (cpu.idle_percent as number) <= 100);
  assert.ok((cpu.cpus as number) >= 1);
  const [memory] = byType.get("host.memory")!;
  assert.equal(memory.total_bytes, Deno.systemMemoryInfo().total);
  assert.ok((memory.used_percent as number) > 0 && (memory.used_percent as number) < 100);
  const [load] = byType.get("host.load")!;
  assert.ok((load.procs as number) >= 1 && (load.load1 as number) >= 0);
  const root = byType.get("host.disk")!.find((d) => d.mount === "/");
  assert.ok(root, "no host.disk for /");
  assert.ok((root.total_bytes as number) > 0);
  assert.ok((root.used_percent as number) > 0 && (root.used_percent as number) <= 100);
  const lo = byType.get("host.net")!.find((n) => n.interface === "lo");
  assert.ok(lo, "no host.net for lo");
  assert.ok((lo.rx_bytes_per_s as number) >= 0);
  // --once measures rates over about a second.
  assert.ok((lo.interval_s as number) >= 0.9, `interval ${lo.interval_s}`);
}

Deno.test("--once --print prints one sample of all five families as JSON lines", async () => {
  const out = await metrics(["--once", "--print", "--host", "probe-1"]).output();
  assert.equal(out.code, 0, decode(out.stderr));
  const events = decode(out.stdout).trim().split("\n").map((line) => JSON.parse(line));
  assertSaneSample(events, "probe-1");
  // The line saying what it does and the final stats line: no warnings from any family.
  const [start, stats, ...rest] = decode(out.stderr).split("\n");
  assert.equal(start, "source metrics: one sample → stdout");
  assert.match(
    stats,
    new RegExp(
      `^source metrics: .* ev/s; events ${events.length}, sent 0, dropped 0, samples 1$`,
    ),
  );
  assert.deepEqual(rest, [""]);
});

Deno.test("--once publishes the sample to --to", async () => {
  const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*" });
  try {
    const endpoint = ">" + collector.boundEndpoint();
    const run = metrics(["--once", "--to", endpoint, "--host", "probe-2"]).output();
    const events: Event[] = [];
    const types = new Set<string>();
    const reading = (async () => {
      // One flush sends each topic's events as one message.
      for await (const batch of collector.batches()) {
        events.push(...batch.events);
        types.add(batch.topic);
        if (types.size === 5) break;
      }
    })();
    const out = await run;
    assert.equal(out.code, 0, decode(out.stderr));
    // The process exits after flushing; everything is on its way or already here.
    const deadline = setTimeout(() => collector.close(), 10_000);
    await reading;
    clearTimeout(deadline);
    assertSaneSample(events, "probe-2");
    assert.ok(events.every((e) => e.time instanceof Date));
  } finally {
    await collector.close();
  }
});

Deno.test("SIGTERM stops a running source with exit code 0", async () => {
  const child = metrics(["--print", "--interval", "200ms"]).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  // Wait for two samples so the loop is known to be running on its schedule.
  while ((text.match(/"host\.cpu"/g) ?? []).length < 2) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  child.kill("SIGTERM");
  const status = await child.status;
  await reader.cancel();
  const stderr = await new Response(child.stderr).text();
  assert.equal(status.code, 0, stderr);
  assert.ok((text.match(/"host\.cpu"/g) ?? []).length >= 2, text);
});

Deno.test("bad flags exit 2 with one line", async () => {
  for (
    const [args, pattern] of [
      [["--bogus"], /unknown flag '--bogus'/],
      [["--interval", "5"], /--interval must be a duration/],
      [["--interval", "10ms"], /--interval must be at least 100ms/],
      [["--once", "extra"], /unexpected argument 'extra'/],
    ] as const
  ) {
    const out = await metrics([...args]).output();
    const stderr = decode(out.stderr);
    assert.equal(out.code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, pattern);
    assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
    assert.equal(out.stdout.length, 0);
  }
});

Deno.test("--help describes the flags", async () => {
  const out = await metrics(["--help"]).output();
  assert.equal(out.code, 0);
  const help = decode(out.stdout);
  for (const flag of ["--interval", "--to", "--print", "--host", "--once"]) {
    assert.ok(help.includes(flag), `${flag} missing from help`);
  }
});
