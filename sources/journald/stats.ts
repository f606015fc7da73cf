/**
 * The journald source's counters and stats line.
 *
 * @module
 */
import { type EventOutput, outputCounters } from "@eventstorm/core/source";
import { formatStatsLine, type StatsLineSpec } from "@eventstorm/core/cli";
import type { JournaldSourceStats } from "./source.ts";

/**
 * The stats fields of a journald source.
 *
 * @example
 * ```ts ignore
 * journaldCounters(source.stats(), router.stats.ignored, source.output);
 * ```
 */
export function journaldCounters(
  s: JournaldSourceStats,
  ignored: number,
  output?: EventOutput,
): Record<string, number> {
  return {
    entries: s.entries,
    events: s.events,
    unparsed: s.unparsed,
    ignored,
    parser_errors: s.parserErrors,
    rejected: s.rejected,
    bad_fields: s.badFields,
    restarts: s.restarts,
    checkpoints: s.checkpoints,
    lost: s.lost,
    ...outputCounters(output),
  };
}

/**
 * One readable stats line of a journald source.
 *
 * @example
 * ```ts
 * import { formatJournaldLine } from "@eventstorm/source-journald";
 * formatJournaldLine("journald", { entries: 10, events: 4 }, {}, 1000);
 * ```
 */
export function formatJournaldLine(
  name: string,
  current: Record<string, number>,
  previous: Record<string, number>,
  elapsedMs: number,
): string {
  return formatStatsLine(`source ${name}`, JOURNALD_LINE, current, previous, elapsedMs);
}

const JOURNALD_LINE: StatsLineSpec = {
  rate: "entries",
  always: [
    ["entries", "entries"],
    ["events", "events"],
    ["unparsed", "unparsed"],
    ["ignored", "ignored"],
    ["restarts", "journalctl restarts"],
  ],
  ifAny: [["lost", "lost"], ["dropped", "dropped"], ["unconfirmed", "unconfirmed at close"], [
    "bad_fields",
    "bad fields",
  ], ["parser_errors", "parser errors"]],
};
