/**
 * Shared harness of the redundant-router tests: router processes on fixed ports
 * (a restart takes the same addresses) and a stream with kill cycles beside it.
 *
 * @module
 */
import type { Emitter } from "@eventstorm/core";
import assert from "node:assert/strict";
import { finish, routerProcess, sleep } from "./helpers.ts";

/**
 * A router process that keeps its ports across restarts: the first start binds
 * ports the kernel picks and reads them back, later starts take the same ones.
 */
export class RouterProcess {
  child: Deno.ChildProcess | undefined;
  #ports: { sources: number; sinks: number } | undefined;

  /** Connect endpoint of the sources side; known once started. */
  get sources(): string {
    return `>tcp://127.0.0.1:${this.#started().sources}`;
  }
  /** Connect endpoint of the sinks side; known once started. */
  get sinks(): string {
    return `>tcp://127.0.0.1:${this.#started().sinks}`;
  }

  #started(): { sources: number; sinks: number } {
    if (!this.#ports) {
      throw new Error("RouterProcess: start() it first: its ports come from the router");
    }
    return this.#ports;
  }

  async start(): Promise<void> {
    const router = await routerProcess(
      ["--stats-interval", "0s"],
      this.#ports ?? { sources: "*", sinks: "*" },
    );
    this.#ports = router.ports;
    this.child = router.child;
  }

  async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    child.kill(signal);
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}

/**
 * Emits `app.redundant` events `{ i }` from `source` (connected to both routers)
 * until at least `minEvents` are sent and `cycles` kill cycles are done: one
 * router at a time dies (SIGKILL) at a random moment and restarts, while the
 * other lags (SIGSTOP until the restarted one is back, then SIGCONT), so that
 * the restarted path runs ahead of the one holding the events it lost. Closes
 * `source`; returns how many events were sent and how many kills happened.
 * `fields` adds to each event's fields (a fixed time, say).
 */
export async function streamWithKills(
  routers: RouterProcess[],
  source: Emitter,
  minEvents: number,
  cycles: number,
  fields: (i: number) => Record<string, unknown> = () => ({}),
): Promise<{ sent: number; kills: number }> {
  // Kill cycles run beside the stream: one router down at a time, at random moments.
  let streaming = true;
  let kills = 0;
  const killer = (async () => {
    while (streaming) {
      await sleep(200 + Math.random() * 600);
      if (!streaming) break;
      const router = routers[kills % 2], other = routers[(kills + 1) % 2];
      // The other router lags behind (stopped, its queues filling) while this
      // one dies and comes back: the restarted path runs ahead of the one that
      // has the events it lost.
      other.child?.kill("SIGSTOP");
      await router.kill();
      kills++;
      await sleep(100 + Math.random() * 500);
      await router.start();
      await sleep(500 + Math.random() * 500);
      other.child?.kill("SIGCONT");
      // The restarted router needs its sinks and its source back before the
      // other may die (only then is there a path carrying everything).
      await sleep(1500);
    }
  })();
  // Several kill cycles, whatever the machine's speed: stream until they are done.
  let sent = 0;
  for (let i = 0; i < minEvents || kills < cycles; i++, sent++) {
    source.emit("app.redundant", { i, ...fields(i) });
    if (i % 100 === 99) {
      await source.ready();
      await sleep(10);
    }
  }
  streaming = false;
  await killer;
  await source.close();
  return { sent, kills };
}

/**
 * Stops a sink child gracefully (SIGTERM, so it flushes) and returns its last
 * stats line, which must say it lost nothing and dropped the other path's copies.
 */
export async function stopSinkCleanly(sink: Deno.ChildProcess): Promise<string> {
  sink.kill("SIGTERM");
  const result = await finish(sink);
  assert.equal(result.code, 0, result.stderr);
  const line = result.stderr.trim().split("\n").filter((l) => /lost on wire/.test(l)).pop() ?? "";
  assert.match(line, /lost on wire 0\b/);
  assert.match(line, /duplicates on wire [1-9]/);
  return line;
}

/** Cleanup after a failed or finished run: kills what is still running. */
export async function stopAll(
  source: Emitter | undefined,
  sink: Deno.ChildProcess | undefined,
  routers: RouterProcess[],
): Promise<void> {
  await source?.close();
  if (sink) {
    try {
      sink.kill("SIGKILL");
    } catch { /* already gone */ }
    await finish(sink).catch(() => {});
  }
  await Promise.all(routers.map((router) => router.kill()));
}
