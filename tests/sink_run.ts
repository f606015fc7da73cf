/**
 * A sink backend run in the test's own process behind a {@linkcode SinkRunner},
 * and the emitter and events the sink tests feed it.
 *
 * @module
 */
import { type CollectorOptions, Emitter } from "@eventstorm/core";
import {
  type SinkBackend,
  SinkRunner,
  type SinkRunnerOptions,
  type SinkStats,
} from "@eventstorm/core/sink";
import { waitFor } from "./wait.ts";

/** A sink running until `stop`. */
export interface RunningSink {
  /** Its runner, for stats while it runs. */
  runner: SinkRunner;
  /** What ended the run early, if anything did. */
  failed(): unknown;
  /** Stops it; resolves with its final stats (rejects when the run failed). */
  stop(): Promise<SinkStats>;
}

/** A runner's options, the collector's given without the endpoints `runSink` takes. */
export type RunSinkOptions = Partial<Omit<SinkRunnerOptions, "collector">> & {
  collector?: Omit<CollectorOptions, "endpoints">;
};

/**
 * Opens `backend` behind a runner subscribed at `endpoints` and runs it.
 *
 * @example
 * ```ts ignore
 * const sink = await runSink(backend, router.sinks);
 * const stats = await sink.stop();
 * ```
 */
export async function runSink(
  backend: SinkBackend,
  endpoints: string,
  options: RunSinkOptions = {},
): Promise<RunningSink> {
  const runner = new SinkRunner(backend, {
    ...options,
    collector: { endpoints, ...options.collector },
  });
  await runner.open();
  const controller = new AbortController();
  let failed: unknown;
  const running = runner.run(controller.signal).catch((error) => {
    failed = error;
    throw error;
  });
  return {
    runner,
    failed: () => failed,
    stop: () => {
      controller.abort();
      return running;
    },
  };
}

/**
 * An emitter on `endpoints` (host `test`) once a subscriber is there, so nothing
 * it emits is counted unsubscribed.
 *
 * @example
 * ```ts ignore
 * const emitter = await openEmitter(router.sources);
 * ```
 */
export async function openEmitter(
  endpoints: string,
  options: { sourceId?: bigint } = {},
): Promise<Emitter> {
  const emitter = await Emitter.open({ endpoints, host: "test", ...options });
  await waitFor(() => emitter.stats().subscriptions > 0, "the sink's subscription at the emitter");
  return emitter;
}

/** The time of {@linkcode hitFields}`(0)`. */
export const BASE: number = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

/**
 * Fields of test event `i`: every BSON type a sink must keep (dates, int32 and
 * int64-sized numbers, doubles, UTF-8, booleans, null) and names with `$` and `.`.
 *
 * @example
 * ```ts ignore
 * emitter.emit("http.hit", hitFields(7));
 * ```
 */
export function hitFields(i: number): Record<string, unknown> {
  return {
    time: new Date(BASE + i * 1000),
    host: `web${i % 3}`,
    status: 200 + (i % 5),
    bytes: 1000 * i,
    big: 2 ** 40 + i,
    latency: i + 0.25,
    path: `/p/${i}?q=é`,
    ok: i % 2 === 0,
    referer: null,
    at: new Date(BASE - i),
    "$cost": i,
    "cpu.user": i + 0.5,
  };
}
