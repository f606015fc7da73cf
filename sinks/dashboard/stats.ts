/**
 * The dashboard's counters and stats line (docs/specs/stats.md).
 *
 * @module
 */
import { type Counters, formatCount, rate } from "@eventstorm/core/cli";
import type { DashboardStats } from "./dashboard.ts";

/**
 * The dashboard's stats fields.
 *
 * @example
 * ```ts
 * import { dashboardCounters } from "@eventstorm/sink-dashboard";
 * dashboardCounters({ events: 5, lost: 0, malformed: 0, rejected: 0, clients: 1 }).received; // 5
 * ```
 */
export function dashboardCounters(
  stats: Pick<DashboardStats, "events" | "lost" | "malformed" | "rejected" | "clients">,
): Counters {
  return {
    received: stats.events,
    lost: stats.lost,
    malformed: stats.malformed,
    rejected: stats.rejected,
    clients: stats.clients,
  };
}

/**
 * One readable stats line for the dashboard.
 *
 * @example
 * ```ts
 * import { formatDashboardLine } from "@eventstorm/sink-dashboard";
 * formatDashboardLine({ received: 10, lost: 0, malformed: 0, rejected: 0, clients: 1 }, {}, 1000);
 * // "sink dashboard: 10 ev/s; received 10, lost on wire 0, malformed 0, rejected 0, pages 1"
 * ```
 */
export function formatDashboardLine(
  current: Counters,
  previous: Counters,
  elapsedMs: number,
): string {
  return `sink dashboard: ${
    formatCount(rate(current.received, previous.received ?? 0, elapsedMs))
  } ev/s; received ${current.received}, lost on wire ${current.lost}, ` +
    `malformed ${current.malformed}, rejected ${current.rejected}, pages ${current.clients}`;
}
