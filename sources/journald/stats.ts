/**
 * The journald source's counters and stats line.
 *
 * @module
 */
import { type EventOutput, outputCounters } from "@eventstorm/core/source";
import { formatCount, rate } from "@eventstorm/core/cli";
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
  const n = (key: string) => current[key] ?? 0;
  return `source ${name}: ${formatCount(rate(n("entries"), previous.entries ?? 0, elapsedMs))} ` +
    `entries/s; entries ${n("entries")}, events ${n("events")}, unparsed ${n("unparsed")}, ` +
    `ignored ${n("ignored")}, journalctl restarts ${n("restarts")}` +
    (n("dropped") > 0 ? `, dropped ${n("dropped")}` : "") +
    (n("bad_fields") > 0 ? `, bad fields ${n("bad_fields")}` : "") +
    (n("parser_errors") > 0 ? `, parser errors ${n("parser_errors")}` : "");
}
