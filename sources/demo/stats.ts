/**
 * The demo source's stats.
 *
 * @module
 */
import type { Emitter } from "@eventstorm/core";
import type { Counters } from "@eventstorm/core/cli";
import { outputCounters } from "@eventstorm/core/source";

/**
 * The demo source's stats fields (docs/specs/stats.md), for the CLI and the agent.
 *
 * @example
 * ```ts ignore
 * import { demoCounters } from "@eventstorm/source-demo";
 * demoCounters(emitter).sent;
 * ```
 */
export function demoCounters(output?: Emitter): Counters {
  return { events: output?.stats().events ?? 0, ...outputCounters(output) };
}
