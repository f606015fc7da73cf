/**
 * The demo source's stats.
 *
 * @module
 */
import { Emitter } from "@eventstorm/core";
import type { Counters } from "@eventstorm/core/cli";
import { type EventOutput, outputCounters } from "@eventstorm/core/source";

/**
 * The demo source's stats fields (docs/specs/stats.md), for the CLI and the agent.
 *
 * @example
 * ```ts ignore
 * import { demoCounters } from "@eventstorm/source-demo";
 * demoCounters(emitter).sent;
 * ```
 */
export function demoCounters(output?: EventOutput): Counters {
  const events = output instanceof Emitter ? output.stats().events : 0;
  return { events, ...outputCounters(output) };
}
