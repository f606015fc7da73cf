/**
 * Building blocks for a sink: the {@linkcode SinkBackend} contract a store
 * implements, the {@linkcode SinkRunner} that batches, retries and accounts for
 * every event between a {@linkcode Collector} and the backend, and
 * {@linkcode runSinkMain}, the command-line helper every sink's `main.ts` is built on.
 *
 * @example A sink that prints the size of each batch
 * ```ts
 * import { type SinkBackend, SinkRunner } from "@eventstorm/core/sink";
 *
 * const backend: SinkBackend = {
 *   name: "count",
 *   write(events) {
 *     console.log(events.length);
 *     return Promise.resolve();
 *   },
 *   close: () => Promise.resolve(),
 * };
 * const runner = new SinkRunner(backend, { collector: { endpoints: ">tcp://127.0.0.1:5556" } });
 * console.log(runner.stats().received);
 * ```
 *
 * @module
 */
export { SinkRunner, type SinkRunnerOptions, type SinkStats, type WhenFull } from "../sink.ts";
export type { SinkBackend, WriteResult } from "../sink_backend.ts";
export { eventId, parseEventId, positionsOf } from "../event_ids.ts";
export { redactCredentials } from "../failure_log.ts";
export type { StreamPosition } from "../sequence.ts";
export { gapsOf, SavedPositions, type SavedStream } from "../positions.ts";
export {
  collectorFromFlags,
  formatSinkLine,
  RECEIVER_FLAGS,
  runSinkMain,
  SINK_FLAGS,
  sinkCommand,
  type SinkSpec,
} from "../sink_cli.ts";
