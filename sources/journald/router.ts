/**
 * Journal entries to events: sshd and Postfix entries go to their parsers as
 * syslog lines carrying the journal's own timestamp and hostname.
 *
 * @module
 */
import { type Event, makeEvent } from "@eventstorm/core";
import { type LineParser, type RouterStats, RoutingParser } from "@eventstorm/core/source";
import type { JournalEntry } from "./export_format.ts";

/** Event type of an entry no parser takes, with `generic` on. */
export const JOURNAL_MESSAGE_TYPE = "journald.message";

/** Options of {@linkcode JournalRouter}. */
export interface JournalRouterOptions {
  /** Postfix's transaction tracker. */
  postfix?: LineParser;
  /** The sshd parser. */
  sshd?: LineParser;
  /** Send entries of other programs as `journald.message` events. */
  generic?: boolean;
}

/**
 * The entry's `__REALTIME_TIMESTAMP` in milliseconds, or undefined when it is missing,
 * not a number, or later than a `Date` can hold (a corrupt journal, or a forged entry).
 */
function realtimeMillis(entry: JournalEntry): number | undefined {
  const us = entry.__REALTIME_TIMESTAMP;
  if (us === undefined || !/^\d{1,19}$/.test(us)) return undefined;
  const millis = Number(BigInt(us) / 1000n);
  return Number.isNaN(new Date(millis).getTime()) ? undefined : millis;
}

/**
 * The syslog line the file sources would have read for `entry`:
 * `2026-12-03T06:00:00.123456Z host ident[pid]: message` (RFC 3339 in UTC, so
 * the parsers keep the journal's time to the microsecond's millisecond).
 *
 * @example
 * ```ts
 * import { syslogLineOf } from "@eventstorm/source-journald";
 * syslogLineOf({ __REALTIME_TIMESTAMP: "1764741600123456", _HOSTNAME: "mx",
 *   SYSLOG_IDENTIFIER: "sshd", _PID: "7", MESSAGE: "hi" });
 * // "2025-12-03T06:00:00.123456Z mx sshd[7]: hi"
 * ```
 */
export function syslogLineOf(entry: JournalEntry): string | undefined {
  const millis = realtimeMillis(entry);
  if (millis === undefined || entry.MESSAGE === undefined) return undefined;
  const micros = BigInt(entry.__REALTIME_TIMESTAMP!);
  const iso = new Date(millis).toISOString().slice(0, 19);
  const fraction = String(micros % 1_000_000n).padStart(6, "0");
  const ident = entry.SYSLOG_IDENTIFIER ?? entry._COMM ?? "";
  const pid = entry.SYSLOG_PID ?? entry._PID;
  const host = entry._HOSTNAME || "-";
  return `${iso}.${fraction}Z ${host} ${ident}${pid ? `[${pid}]` : ""}: ${entry.MESSAGE}`;
}

/** What a {@linkcode JournalRouter} did with the messages it was given. */
export type JournalRouterStats = RouterStats;

/**
 * Routes journal entries by `SYSLOG_IDENTIFIER` (or `_COMM`). Returns `undefined`
 * for an entry its parser does not understand (or one without time or message),
 * `[]` for an ignored one.
 *
 * @example
 * ```ts
 * import { JournalRouter } from "@eventstorm/source-journald";
 * const router = new JournalRouter({ generic: true });
 * const [event] = router.route({ __REALTIME_TIMESTAMP: "1764741600000000", _HOSTNAME: "h",
 *   SYSLOG_IDENTIFIER: "cron", MESSAGE: "tick", PRIORITY: "6" }, "me")!;
 * console.log(event.type, event.identifier); // journald.message cron
 * ```
 */
export class JournalRouter extends RoutingParser {
  readonly #options: JournalRouterOptions;

  /** Creates a router; see {@linkcode JournalRouterOptions}. */
  constructor(options: JournalRouterOptions) {
    super(options.postfix);
    this.#options = options;
  }

  /** Events of one entry; `host` is for entries without `_HOSTNAME`. */
  route(entry: JournalEntry, host: string): Event[] | undefined {
    const ident = entry.SYSLOG_IDENTIFIER ?? entry._COMM ?? "";
    const o = this.#options;
    const parser = o.sshd && (ident === "sshd" || ident === "sshd-session")
      ? ["sshd", o.sshd] as const
      : o.postfix && (ident.startsWith("postfix/") || ident.startsWith("postfix-"))
      ? ["postfix", o.postfix] as const
      : undefined;
    if (parser) {
      const line = syslogLineOf(entry);
      if (line === undefined) return undefined;
      this.count(parser[0]);
      return parser[1].parse(line, { path: "journal", host, readAt: new Date() });
    }
    if (!o.generic) {
      this.stats.ignored++;
      return [];
    }
    const millis = realtimeMillis(entry);
    if (millis === undefined) return undefined;
    this.count("generic");
    const fields: Record<string, unknown> = { identifier: ident, message: entry.MESSAGE ?? "" };
    if (entry._SYSTEMD_UNIT) fields.unit = entry._SYSTEMD_UNIT;
    if (entry._PID && /^\d+$/.test(entry._PID)) fields.pid = Number(entry._PID);
    if (entry.PRIORITY && /^[0-7]$/.test(entry.PRIORITY)) fields.priority = Number(entry.PRIORITY);
    return [
      makeEvent(JOURNAL_MESSAGE_TYPE, fields, {
        host: entry._HOSTNAME || host,
        time: new Date(millis),
      }),
    ];
  }
}
