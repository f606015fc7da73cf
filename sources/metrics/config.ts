/**
 * The metrics source's flags.
 *
 * @module
 */
import {
  CURVE_CLIENT_FLAGS,
  type FlagSpec,
  type FlagValues,
  parseDuration,
  PRINT_FLAG,
  SOURCE_STATS_FLAGS,
  TO_FLAG,
  UsageError,
} from "@eventstorm/core/cli";

/** Below this, sampling /proc would be a load of its own. */
const MIN_INTERVAL_MS = 100;

/**
 * The flags of `eventstorm source metrics` (and of an agent's metrics input).
 *
 * @example
 * ```ts
 * import { METRICS_FLAGS } from "@eventstorm/source-metrics";
 * Object.keys(METRICS_FLAGS).includes("interval"); // true
 * ```
 */
export const METRICS_FLAGS = {
  interval: { type: "string", value: "DURATION", default: "10s", help: "time between samples" },
  to: TO_FLAG,
  ...CURVE_CLIENT_FLAGS,
  print: PRINT_FLAG,
  host: { type: "string", value: "NAME", help: "host field of the events [default: hostname]" },
  once: { type: "boolean", help: "take one sample (rates over one second) and exit" },
  ...SOURCE_STATS_FLAGS,
} as const satisfies Record<string, FlagSpec>;

/**
 * `--interval` in ms: a duration of 100 ms or more.
 *
 * @example
 * ```ts
 * import { metricsIntervalFlag } from "@eventstorm/source-metrics";
 * metricsIntervalFlag({ interval: "5s" }); // 5000
 * ```
 */
export function metricsIntervalFlag(
  values: FlagValues<Pick<typeof METRICS_FLAGS, "interval">>,
): number {
  const interval = parseDuration(values.interval, "interval");
  if (interval < MIN_INTERVAL_MS) {
    throw new UsageError(`--interval must be at least ${MIN_INTERVAL_MS}ms`);
  }
  return interval;
}
