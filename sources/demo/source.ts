/**
 * The demo source's run loop: a steady rate of generated events.
 *
 * @module
 */
import type { EventOutput } from "@eventstorm/core";
import { flushUnlessStopped } from "@eventstorm/core/source";
import { DemoEvents } from "./events.ts";

/** Options of {@linkcode runDemoSource}. */
export interface DemoSourceOptions {
  /** Events per second. */
  rate: number;
  /** Where events go. */
  output: EventOutput;
  /** Stops the loop. */
  signal?: AbortSignal;
  /** Stop after this many events. */
  limit?: number;
  /** Seed for reproducible events. */
  seed?: number;
}

/**
 * Emits generated events at `rate` per second until `signal` aborts or `limit`
 * is reached; returns how many it emitted. Paced in 50 ms ticks so that a high
 * rate costs few timers.
 *
 * @example
 * ```ts ignore
 * import { Emitter } from "@eventstorm/core";
 * import { runDemoSource } from "@eventstorm/source-demo";
 * const output = await Emitter.open({ endpoints: ">tcp://127.0.0.1:5555" });
 * await runDemoSource({ rate: 1000, output, limit: 5000 });
 * ```
 */
export async function runDemoSource(options: DemoSourceOptions): Promise<number> {
  const demo = new DemoEvents({ seed: options.seed });
  const limit = options.limit ?? Infinity;
  const started = performance.now();
  let emitted = 0;
  while (!options.signal?.aborted && emitted < limit) {
    const due = Math.min(limit, Math.floor(((performance.now() - started) / 1000) * options.rate));
    const now = new Date();
    while (emitted < due) {
      options.output.send(demo.next(now));
      emitted++;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // Once stopped, the caller's close() sends what is held, within its own timeout.
  if (!options.signal?.aborted) await flushUnlessStopped(options.output, options.signal);
  return emitted;
}
