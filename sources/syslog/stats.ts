/**
 * The syslog source's counters and stats line.
 *
 * @module
 */
import { type EventOutput, outputCounters } from "@eventstorm/core/source";
import type { SyslogSourceStats } from "./source.ts";
import { formatCount, rate } from "@eventstorm/core/cli";

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
  const n = (key: string) => current[key] ?? 0;
  return `source ${name}: ${
    formatCount(rate(n("messages"), previous.messages ?? 0, elapsedMs))
  } messages/s; messages ${n("messages")}, events ${n("events")}, unparsed ${n("unparsed")}, ` +
    `ignored ${n("ignored")}, too long ${n("too_long")}, bad frames ${n("bad_frames")}, ` +
    `kernel drops ${n("kernel_drops")}` +
    (n("dropped") > 0 ? `, dropped ${n("dropped")}` : "") +
    (n("parser_errors") > 0 ? `, parser errors ${n("parser_errors")}` : "");
}
