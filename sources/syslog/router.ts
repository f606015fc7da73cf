/**
 * Routes syslog messages by program tag to the parsers of the file sources:
 * nginx access lines, Postfix's transaction tracker, sshd logins; anything else
 * optionally as a generic `syslog.message` event.
 *
 * @module
 */
import { type Event, makeEvent } from "@eventstorm/core";
import {
  type LineContext,
  type LineParser,
  type RouterStats,
  RoutingParser,
  SyslogParser,
} from "@eventstorm/core/source";

/** Event type of a message no parser takes, with `generic` on. */
export const MESSAGE_TYPE = "syslog.message";

/** Options of {@linkcode SyslogRouter}. */
export interface SyslogRouterOptions {
  /** Parser of nginx access lines (the message after the tag). */
  nginx?: LineParser;
  /** Program tags that carry nginx access lines (default `["nginx"]`). */
  nginxTags?: readonly string[];
  /** Parser of whole Postfix syslog lines (tags `postfix/...`). */
  postfix?: LineParser;
  /** Parser of whole sshd syslog lines (tags `sshd`, `sshd-session`). */
  sshd?: LineParser;
  /** Send messages of other programs as `syslog.message` events. */
  generic?: boolean;
  /** BSD timestamps are UTC. */
  utc?: boolean;
}

/** What a {@linkcode SyslogRouter} did with the messages it was given. */
export type SyslogRouterStats = RouterStats;

/**
 * A {@linkcode LineParser} over whole syslog messages (`<PRI>` and all, as they
 * arrive). A message without a readable header yields `undefined` (counted as
 * unparsed by the caller); one of a program no route takes yields `[]` and is
 * counted as ignored. Postfix state (open transactions) is what
 * `tick`/`end`/`snapshot`/`restore` carry.
 *
 * @example
 * ```ts
 * import { SyslogRouter } from "@eventstorm/source-syslog";
 * const router = new SyslogRouter({ generic: true, utc: true });
 * const [event] = router.parse("<13>Dec  3 06:00:00 web1 cron[12]: job done", {
 *   path: "udp://127.0.0.1:5514", host: "me", readAt: new Date("2026-12-03T07:00:00Z"),
 * })!;
 * console.log(event.type, event.program, event.host); // syslog.message cron web1
 * ```
 */
export class SyslogRouter extends RoutingParser implements LineParser {
  readonly #options: SyslogRouterOptions;
  readonly #header: SyslogParser;
  readonly #nginxTags: Set<string>;

  /** Creates a router; see {@linkcode SyslogRouterOptions}. */
  constructor(options: SyslogRouterOptions) {
    super(options.postfix);
    this.#options = options;
    this.#header = new SyslogParser({ utc: options.utc });
    this.#nginxTags = new Set(options.nginxTags ?? ["nginx"]);
  }

  /** Events of one message; see the class documentation. */
  parse(line: string, context: LineContext): Event[] | undefined {
    const header = this.#header.parse(line, context.readAt);
    if (header === undefined) return undefined;
    const program = header.program;
    const o = this.#options;
    if (o.nginx && this.#nginxTags.has(program)) {
      this.count("nginx");
      return o.nginx.parse(header.message, { ...context, host: header.host || context.host });
    }
    if (o.postfix && (program.startsWith("postfix/") || program.startsWith("postfix-"))) {
      this.count("postfix");
      return o.postfix.parse(line, context);
    }
    if (o.sshd && (program === "sshd" || program === "sshd-session")) {
      this.count("sshd");
      return o.sshd.parse(line, context);
    }
    if (!o.generic) {
      this.stats.ignored++;
      return [];
    }
    this.count("generic");
    const fields: Record<string, unknown> = { program, message: header.message };
    if (header.pid !== undefined) fields.pid = header.pid;
    const pri = priority(line);
    if (pri >= 0) {
      fields.facility = pri >> 3;
      fields.severity = pri & 7;
    }
    return [
      makeEvent(MESSAGE_TYPE, fields, { host: header.host || context.host, time: header.time }),
    ];
  }
}

/** The `<PRI>` value at the start of `line`, or -1. */
function priority(line: string): number {
  if (line.charCodeAt(0) !== 60) return -1;
  let n = 0;
  let i = 1;
  for (; i < 5; i++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return i > 1 && line.charCodeAt(i) === 62 && n <= 191 ? n : -1;
}
