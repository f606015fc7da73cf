/**
 * `--stats-to`: where a component publishes its `eventstorm.stats` events, the
 * same flag in every source, sink and the dashboard (docs/specs/stats.md).
 *
 * @module
 */
import type { CurveOptions } from "./curve/options.ts";
import { Emitter } from "./emitter.ts";
import { parseEndpoints } from "./endpoint.ts";
import type { FlagValues, StringFlagSpec } from "./flags.ts";
import { STATS_INTERVAL_FLAG, StatsReporter, type StatsReporterOptions } from "./stats.ts";

/** The `--stats-to` flag with the default of a kind of component. */
function statsToFlagSpec(defaultEndpoint: string): StringFlagSpec & { default: string } {
  return {
    type: "string",
    value: "ENDPOINT",
    default: defaultEndpoint,
    help: "where to publish eventstorm.stats events (a router's sources endpoint); none: nowhere",
  };
}

/** `--stats-interval` and `--stats-to`, in that order: the stats flags of a component. */
export interface StatsFlags {
  /** How often a stats line is printed and a stats event published. */
  "stats-interval": StringFlagSpec & { default: string };
  /** Where stats events go; `none`: nowhere. */
  "stats-to": StringFlagSpec & { default: string };
}

/**
 * The stats flags of a source: its `--stats-to` publishes nowhere unless asked
 * (its `--to` may be another host's router).
 *
 * @example
 * ```ts
 * import { SOURCE_STATS_FLAGS } from "@eventstorm/core/cli";
 * const flags = { ...SOURCE_STATS_FLAGS };
 * flags["stats-to"].default; // "none"
 * ```
 */
export const SOURCE_STATS_FLAGS: StatsFlags = {
  "stats-interval": STATS_INTERVAL_FLAG,
  "stats-to": statsToFlagSpec("none"),
};

/**
 * The stats flags of a sink (and the dashboard): its `--stats-to` publishes to the
 * local router's sources endpoint, its only way to a router.
 *
 * @example
 * ```ts
 * import { SINK_STATS_FLAGS } from "@eventstorm/core/cli";
 * SINK_STATS_FLAGS["stats-to"].default; // ">tcp://127.0.0.1:5555"
 * ```
 */
export const SINK_STATS_FLAGS: StatsFlags = {
  "stats-interval": STATS_INTERVAL_FLAG,
  "stats-to": statsToFlagSpec(">tcp://127.0.0.1:5555"),
};

/**
 * Reads `--stats-to`: the endpoint, checked, or `undefined` for `none`. Call it
 * before opening anything, so a typo leaves nothing behind.
 *
 * @example
 * ```ts
 * import { statsToFlag } from "@eventstorm/core/cli";
 * statsToFlag({ "stats-to": "none" }); // undefined
 * statsToFlag({ "stats-to": ">tcp://127.0.0.1:5555" }); // ">tcp://127.0.0.1:5555"
 * ```
 */
export function statsToFlag(
  values: FlagValues<Pick<StatsFlags, "stats-to">>,
): string | undefined {
  const statsTo = values["stats-to"];
  if (statsTo === "none") return undefined;
  parseEndpoints(statsTo);
  return statsTo;
}

/** Publishes `eventstorm.stats` events for a {@linkcode StatsReporter}'s `publish`. */
export interface StatsPublisher {
  /** Sends one stats event with these fields. */
  publish(fields: Record<string, number | string>): void;
  /** Sends what it holds (for a second at most) and closes. */
  close(): Promise<void>;
}

/**
 * Opens the stats link of a component: an emitter of its own, so stats never
 * wait behind (or count among) the component's events. A CURVE client of the
 * router publishes its stats the same way.
 *
 * @example
 * ```ts ignore
 * import { openStatsPublisher } from "@eventstorm/core/cli";
 * const stats = await openStatsPublisher(">tcp://127.0.0.1:5555");
 * stats?.publish({ component: "source-app", lines: 10 });
 * await stats?.close();
 * ```
 */
export async function openStatsPublisher(
  endpoint: string | undefined,
  curve?: CurveOptions,
): Promise<StatsPublisher | undefined> {
  if (endpoint === undefined) return undefined;
  const emitter = await Emitter.open({
    endpoints: endpoint,
    maxPendingBytes: 1 << 20,
    closeTimeoutMs: 1000,
    curve: curve?.serverKey === undefined ? undefined : curve,
  });
  return {
    publish: (fields) => emitter.emit("eventstorm.stats", fields),
    close: () => emitter.close(),
  };
}

/** Options of {@linkcode reportStatsDuring}: a reporter's, and where its events go. */
export interface StatsDuringOptions extends Omit<StatsReporterOptions, "publish"> {
  /** `--stats-to` as read by {@linkcode statsToFlag}; undefined publishes nothing. */
  statsTo?: string;
  /** The component's CURVE keys, for its stats link too. */
  curve?: CurveOptions;
}

/**
 * Runs `run` the way every component reports: a stats line every interval, the
 * same counters as `eventstorm.stats` to `statsTo`, a final line and event once
 * `run` has finished (not when it failed), and the stats link closed after.
 *
 * @example
 * ```ts ignore
 * import { reportStatsDuring } from "@eventstorm/core/cli";
 * let lines = 0;
 * await reportStatsDuring({
 *   component: "source-app",
 *   intervalMs: 10_000,
 *   snapshot: () => ({ lines }),
 *   format: (now) => `source app: ${now.lines} lines`,
 * }, async () => { lines++; });
 * ```
 */
export async function reportStatsDuring<T>(
  options: StatsDuringOptions,
  run: () => Promise<T>,
): Promise<T> {
  const { statsTo, curve, ...reporterOptions } = options;
  const stats = await openStatsPublisher(statsTo, curve);
  const reporter = new StatsReporter({ ...reporterOptions, publish: stats?.publish });
  try {
    return await reporter.during(run);
  } finally {
    await stats?.close();
  }
}
