/**
 * Input that never pauses must not starve timers or signals (issue 11, item 13):
 * the router, the store sink and tap print their stats on time and act on
 * SIGTERM at once while a source floods them.
 */
import assert from "node:assert/strict";
import { cli, freePort, sleep, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A child whose stderr and stdout lines are kept with the time they arrived. */
function watch(args: string[]) {
  const child = cli(args);
  const lines: { at: number; text: string }[] = [];
  const read = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const text of parts) lines.push({ at: Date.now(), text });
    }
  };
  const done = Promise.all([read(child.stdout), read(child.stderr)]).then(() => child.status);
  return { child, lines, done };
}

/** The longest silence between stats lines (those matching `pattern`) within [from, to]. */
function longestGap(
  lines: { at: number; text: string }[],
  pattern: RegExp,
  from: number,
  to: number,
): number {
  const times = [from, ...lines.filter((l) => pattern.test(l.text)).map((l) => l.at), to]
    .filter((at) => at >= from && at <= to);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  return gap;
}

Deno.test(
  "router, store sink and tap keep their stats and signals on time under a never-pausing source",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const sourcesPort = freePort();
    const sinksPort = freePort();
    const router = watch([
      "router",
      "--sources",
      `@tcp://127.0.0.1:${sourcesPort}`,
      "--sinks",
      `@tcp://127.0.0.1:${sinksPort}`,
      "--stats-interval",
      "1s",
    ]);
    const from = `tcp://127.0.0.1:${sinksPort}`;
    const store = watch([
      "sink",
      "store",
      "--from",
      from,
      "--db",
      `${dir}/events.db`,
      "--stats-interval",
      "1s",
      "--shutdown-timeout",
      "1s",
    ]);
    const tap = watch(["tap", "--from", from, "--stats", "--interval", "1s"]);
    const source = watch([
      "source",
      "demo",
      "--rate",
      "10000000",
      "--to",
      `tcp://127.0.0.1:${sourcesPort}`,
    ]);
    try {
      await waitFor(
        () => source.lines.some((l) => /^source demo:/.test(l.text)),
        "the source to start",
        30_000,
      );
      // Long enough for every queue on the way to fill.
      await sleep(2000);
      const from = Date.now();
      await sleep(4000);
      const to = Date.now();
      const gaps = {
        router: longestGap(router.lines, /^router: in /, from, to),
        store: longestGap(store.lines, /^sink store: /, from, to),
        tap: longestGap(tap.lines, /^tap: /, from, to),
      };
      const stopped = Date.now();
      for (const { child } of [router, store, tap]) child.kill("SIGTERM");
      const exits = await Promise.all([router, store, tap].map(async ({ done }) => {
        await done;
        return Date.now() - stopped;
      }));
      const report = JSON.stringify({ gaps, exits }) + "\n" +
        [router, store, tap].map(({ lines }) =>
          lines.map((l) => `${l.at - stopped} ${l.text}`).join("\n")
        )
          .join("\n");
      // Stats every second: a line may come up to a second late on a loaded machine, never 37 s.
      for (const gap of Object.values(gaps)) assert.ok(gap < 2500, report);
      // The router and tap stop at once; the sink takes in what is on its way for at most
      // 5 s (Collector.finish), then stores its buffer for at most --shutdown-timeout (1 s).
      assert.ok(exits[0] < 1500, report);
      assert.ok(exits[1] < 8000, report);
      assert.ok(exits[2] < 1500, report);
    } finally {
      for (const { child } of [source, router, store, tap]) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }
      await Promise.all([source, router, store, tap].map(({ done }) => done));
      await Deno.remove(dir, { recursive: true });
    }
  },
);
