/**
 * Issue 11 item 12: a source SIGKILLed while the router is stalled (SIGSTOP) must
 * lose no line. The source's checkpoint may only pass lines whose events have left
 * its process; what libzmq still queued dies with it. A writer appends numbered
 * lines throughout; each cycle starts the source, stops the router, kills the
 * source inside the stall and resumes the router. At the end every line written
 * must have reached the receiver (replays dropped by stream index).
 */
import assert from "node:assert/strict";
import { Collector } from "@eventstorm/core";
import { routerProcess, sleep, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SOURCE = new URL("../core/testdata/app_source.ts", import.meta.url).pathname;
const CYCLES = 4;

function startSource(log: string, checkpoint: string, to: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-check",
      SOURCE,
      "--file",
      log,
      "--from-start",
      "--checkpoint",
      checkpoint,
      "--to",
      to,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

Deno.test("kill -9 of a source while the router is stalled loses no line", opts, async () => {
  const dir = await Deno.makeTempDir();
  const log = `${dir}/app.log`;
  const checkpoint = `${dir}/cp.json`;
  const { child: router, sources: to, sinks } = await routerProcess(["--stats-interval", "0s"]);
  const collector = await Collector.open({ endpoints: sinks });
  // The collector drops replays by stream index itself (counted as duplicates).
  const received = new Set<number>();
  const receiving = (async () => {
    for await (const batch of collector.batches()) {
      for (const event of batch.events) received.add(parseInt(String(event.line).slice(1), 10));
    }
  })();
  let written = 0;
  const file = await Deno.open(log, { append: true, create: true });
  const encoder = new TextEncoder();
  /** A backlog the source reads at full speed, so the stall finds its queues full. */
  const append = async (lines: number) => {
    let text = "";
    for (let i = 0; i < lines; i++) text += `L${written++} ${"x".repeat(40)}\n`;
    await file.write(encoder.encode(text));
  };
  try {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      await append(150_000);
      const before = received.size;
      const source = startSource(log, checkpoint, to);
      await waitFor(() => received.size > before + 5000, "the source flowing", 30_000);
      router.kill("SIGSTOP");
      await sleep(1200);
      source.kill("SIGKILL");
      await source.status;
      await sleep(800);
      router.kill("SIGCONT");
    }
    await append(1000);
    const last = startSource(log, checkpoint, to);
    try {
      await waitFor(() => received.size >= written, `all ${written} lines at the receiver`, 60_000);
    } catch (error) {
      const missing = [...Array(written).keys()].filter((n) => !received.has(n));
      throw new Error(
        `${missing.length} of ${written} lines never arrived (first ${missing.slice(0, 5)}); ` +
          `${(error as Error).message}`,
      );
    } finally {
      last.kill("SIGTERM");
      await last.status;
    }
    assert.equal(received.size, written);
    assert.equal(collector.stats().lost, 0, "no gap counted either");
    console.log(`${written} lines, ${collector.stats().duplicates} replays dropped by index`);
  } finally {
    file.close();
    await collector.close();
    await receiving;
    router.kill("SIGCONT");
    router.kill("SIGTERM");
    await router.status;
    await Deno.remove(dir, { recursive: true });
  }
});
