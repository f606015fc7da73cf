/**
 * Input that never pauses must not starve timers or signals (issue 11, item 13):
 * the router, the store sink and tap print their stats on time and act on
 * SIGTERM at once while a source floods them.
 */
import assert from "node:assert/strict";
import { cli, sleep, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A child whose stderr and stdout lines are kept with the time they arrived. */
function watch(args: string[]) {
  const child = cli(args);
  const lines: { at: number; text: string }[] = [];
  const read = async (stream: ReadableStream<BufferSource>) => {
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

/** How many stats lines (those matching `pattern`) arrived within [from, to]. */
function linesWithin(
  lines: { at: number; text: string }[],
  pattern: RegExp,
  from: number,
  to: number,
): number {
  return lines.filter((l) => pattern.test(l.text) && l.at >= from && l.at <= to).length;
}

Deno.test(
  "router, store sink and tap keep their stats and signals on time under a never-pausing source",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const router = watch([
      "router",
      "--sources",
      "@tcp://127.0.0.1:*",
      "--sinks",
      "@tcp://127.0.0.1:*",
      "--stats-interval",
      "1s",
    ]);
    // Bound by the kernel: the router's first line says where.
    let bound: RegExpMatchArray | null | undefined;
    await waitFor(
      () =>
        !!(bound = router.lines.map((l) => l.text.match(/^router: sources (\S+), sinks (\S+)$/))
          .find((m) => m)),
      "the router's endpoints",
    );
    const [sources, sinks] = [bound![1], bound![2]];
    const from = sinks;
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
      // More than tap or the sink can take, so that their input never pauses, yet
      // not so much that the source starves everything else of CPU.
      "--rate",
      "300000",
      "--to",
      sources,
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
      await sleep(6000);
      const to = Date.now();
      // Counted, not timed line by line: on a machine shared with other work the test
      // itself may read a line late. Starved, a component printed none at all.
      const printed = {
        router: linesWithin(router.lines, /^router: in /, from, to),
        store: linesWithin(store.lines, /^sink store: /, from, to),
        tap: linesWithin(tap.lines, /^tap: /, from, to),
      };
      const stopped = Date.now();
      for (const { child } of [router, store, tap]) child.kill("SIGTERM");
      const exits = await Promise.all([router, store, tap].map(async ({ done }) => {
        await done;
        return Date.now() - stopped;
      }));
      const report = JSON.stringify({ printed, exits }) + "\n" +
        [router, store, tap].map(({ lines }) =>
          lines.map((l) => `${l.at - stopped} ${l.text}`).join("\n")
        )
          .join("\n");
      // A line every second: six due, four at least even on a loaded machine.
      for (const count of Object.values(printed)) assert.ok(count >= 4, report);
      // The router and tap stop at once (tap's closing line tells when it acted; the
      // process exit may come later on a loaded machine); the sink takes in what is on
      // its way, then stores its buffer, each for at most --shutdown-timeout (1 s).
      const tapActed = tap.lines.find((l) => /^tap: total/.test(l.text))!.at - stopped;
      assert.ok(exits[0] < 3000, report);
      assert.ok(exits[1] < 8000, report);
      assert.ok(tapActed < 3000, `tap acted after ${tapActed} ms: ${report}`);
      assert.ok(exits[2] < 6000, report);
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
