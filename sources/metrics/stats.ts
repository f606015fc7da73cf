/**
 * The metrics source's stats.
 *
 * @module
 */
import type { EventOutput } from "@eventstorm/core";
import type { Counters } from "@eventstorm/core/cli";
import { outputCounters } from "@eventstorm/core/source";

/**
 * What the run loop (`sampleMetrics`) has done so far.
 *
 * @example
 * ```ts
 * import type { SampleCounts } from "@eventstorm/source-metrics";
 * const counts: SampleCounts = { samples: 0, events: 0 };
 * ```
 */
export interface SampleCounts {
  /** Samples taken. */
  samples: number;
  /** Events they made. */
  events: number;
}

/**
 * The metrics source's stats fields (docs/specs/stats.md), for the CLI and the agent.
 *
 * @example
 * ```ts
 * import { metricsCounters } from "@eventstorm/source-metrics";
 * metricsCounters({ samples: 1, events: 8 }).events; // 8
 * ```
 */
export function metricsCounters(counts: SampleCounts, output?: EventOutput): Counters {
  return { events: counts.events, ...outputCounters(output), samples: counts.samples };
}
