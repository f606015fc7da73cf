/**
 * The syslog source's counters and stats line.
 *
 * @module
 */
import { type EventOutput, outputCounters } from "@eventstorm/core/source";
import type { SyslogSourceStats } from "./source.ts";
import { formatStatsLine, type StatsLineSpec } from "@eventstorm/core/cli";

/**
 * The stats fields of a syslog source (snake case, like every component's).
 *
 * @example
 * ```ts ignore
 * import { syslogCounters } from "@eventstorm/source-syslog";
 * syslogCounters(source.stats(), router.stats.ignored, source.output);
 * ```
 */
export function syslogCounters(
  s: SyslogSourceStats,
  ignored: number,
  output?: EventOutput,
): Record<string, number> {
  return {
    messages: s.messages,
    bytes: s.bytes,
    events: s.events,
    unparsed: s.unparsed,
    ignored,
    bad_encoding: s.badEncoding,
    parser_errors: s.parserErrors,
    rejected: s.rejected,
    too_long: s.tooLong,
    bad_frames: s.badFrames,
    kernel_drops: s.kernelDrops,
    connections: s.connections,
    checkpoints: s.checkpoints,
    ...outputCounters(output),
  };
}

/**
 * One readable stats line of a syslog source.
 *
 * @example
 * ```ts
 * import { formatSyslogLine } from "@eventstorm/source-syslog";
 * formatSyslogLine("syslog", { messages: 10, events: 9, unparsed: 1 }, {}, 1000);
 * ```
 */
export function formatSyslogLine(
  name: string,
  current: Record<string, number>,
  previous: Record<string, number>,
  elapsedMs: number,
): string {
  return formatStatsLine(`source ${name}`, SYSLOG_LINE, current, previous, elapsedMs);
}

const SYSLOG_LINE: StatsLineSpec = {
  rate: "messages",
  always: [
    ["messages", "messages"],
    ["events", "events"],
    ["unparsed", "unparsed"],
    ["ignored", "ignored"],
    ["too_long", "too long"],
    ["bad_frames", "bad frames"],
    ["kernel_drops", "kernel drops"],
  ],
  ifAny: [
    ["dropped", "dropped"],
    ["unconfirmed", "unconfirmed at close"],
    ["parser_errors", "parser errors"],
    ["bad_encoding", "not UTF-8"],
  ],
};
