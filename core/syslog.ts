/**
 * Syslog line headers as files and the journal write them: classic BSD
 * (`Nov 23 18:24:33 host program[pid]: message`, also with fractional seconds as
 * `journalctl -o short-precise` writes), RFC 3339 / ISO (`rsyslog`'s high-precision
 * format and `journalctl -o short-iso[-precise]`), `journalctl -o short-full` and
 * `-o short-unix`, BSD after a year (`2013 Jun 10 06:27:30.123`, as some rsyslog
 * templates write), each optionally after a `<PRI>`, and RFC 5424.
 *
 * Parsing walks the line by character codes instead of running a regular
 * expression, because log sources call it for every line.
 *
 * @module
 */

/** The header fields of one syslog line. */
export interface SyslogLine {
  /** When the line was logged. */
  time: Date;
  /** The host that logged it (empty when the line has none, as RFC 5424's `-`). */
  host: string;
  /** The program tag without pid, like `sshd` or `postfix/smtpd` (empty when absent). */
  program: string;
  /** The process id from `program[pid]`, when present and numeric. */
  pid?: number;
  /** Everything after `program[pid]: `. */
  message: string;
}

/** Options of {@linkcode SyslogParser}. */
export interface SyslogParserOptions {
  /**
   * Whether timestamps without a zone (BSD, `short-full` with an abbreviation other
   * than UTC/GMT) are UTC rather than this machine's local time.
   */
  utc?: boolean;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/**
 * Parses syslog headers. An instance caches the start of each hour it has seen, so
 * BSD timestamps (local time, no year) cost a map look-up instead of a calendar
 * computation; keep one per source.
 *
 * BSD lines carry no year: the year is the one of the read time, except that a
 * timestamp more than a day in the future means last year (a December line read in
 * January), and one that would still not be more than a day in the future a year
 * later means next year (a January line read on New Year's Eve from a fast clock).
 *
 * @example
 * ```ts
 * import { SyslogParser } from "@eventstorm/core/source";
 * const syslog = new SyslogParser({ utc: true });
 * const line = syslog.parse(
 *   "Nov 23 18:24:33 mx postfix/smtpd[1234]: connect from unknown[192.0.2.1]",
 *   new Date("2026-11-24T00:00:00Z"),
 * );
 * console.log(line?.program, line?.pid, line?.time.toISOString());
 * // postfix/smtpd 1234 2026-11-23T18:24:33.000Z
 * ```
 */
export class SyslogParser {
  #utc: boolean;
  #hourStarts = new Map<number, number>();
  #yearFrom = 0;
  #yearTo = -1;
  #year = 0;
  #bsdEnd = 0;

  /** Creates a parser; see {@linkcode SyslogParserOptions}. */
  constructor(options: SyslogParserOptions = {}) {
    this.#utc = options.utc ?? false;
  }

  /**
   * The header of `line`, or `undefined` when it has no readable syslog header.
   * `readAt` (default now) supplies the year of BSD timestamps.
   */
  parse(line: string, readAt: Date = new Date()): SyslogLine | undefined {
    let end = line.length;
    if (end > 0 && line.charCodeAt(end - 1) === 13) end--; // CRLF files
    if (end < 16) return undefined;
    let i = 0;
    let c = line.charCodeAt(0);
    if (c === 60 /* < */) {
      i = 1;
      while (i < 5 && isDigit(line.charCodeAt(i))) i++;
      if (i === 1 || line.charCodeAt(i) !== 62 /* > */) return undefined;
      i++;
      // RFC 5424: `<PRI>1 ` then a structured header.
      if (line.charCodeAt(i) === 49 && line.charCodeAt(i + 1) === 32) {
        return this.#parse5424(line, i + 2, end, readAt);
      }
      c = line.charCodeAt(i);
    }
    if (isDigit(c) && line.charCodeAt(i + 4) === 32 && !isDigit(line.charCodeAt(i + 5))) {
      // `2013 Jun 10 06:27:30.123 host ...`: rsyslog templates that put the year first.
      const year = parseDigits(line, i, i + 4);
      if (year < 1970) return undefined;
      const time = this.#bsdStamp(line, i + 5, end, readAt.getTime(), year);
      return Number.isNaN(time) ? undefined : this.#rest(line, this.#bsdEnd, end, time);
    }
    if (isDigit(c)) {
      const stamp = this.#numericStamp(line, i, end);
      return stamp === undefined ? undefined : this.#rest(line, stamp.next, end, stamp.time);
    }
    if (line.charCodeAt(i + 3) !== 32) return undefined;
    if (isDigit(line.charCodeAt(i + 4)) && line.charCodeAt(i + 8) === 45 /* - */) {
      const stamp = this.#shortFull(line, i + 4, end);
      return stamp === undefined ? undefined : this.#rest(line, stamp.next, end, stamp.time);
    }
    const time = this.#bsdStamp(line, i, end, readAt.getTime());
    return Number.isNaN(time) ? undefined : this.#rest(line, this.#bsdEnd, end, time);
  }

  /** Parses the host, tag and message that follow a timestamp. */
  #rest(line: string, start: number, end: number, time: number): SyslogLine | undefined {
    let i = start;
    while (i < end && line.charCodeAt(i) === 32) i++;
    const hostEnd = line.indexOf(" ", i);
    if (hostEnd < 0 || hostEnd >= end || hostEnd === i) return undefined;
    const host = line.slice(i, hostEnd);
    const tagStart = hostEnd + 1;
    let j = tagStart;
    while (j < end) {
      const ch = line.charCodeAt(j);
      if (ch === 58 /* : */ || ch === 91 /* [ */ || ch === 32) break;
      j++;
    }
    const ch = j < end ? line.charCodeAt(j) : 32;
    if (ch === 58) {
      const program = line.slice(tagStart, j);
      return { time: new Date(time), host, program, message: messageAfter(line, j + 1, end) };
    }
    if (ch === 91) {
      const close = line.indexOf("]", j + 1);
      if (close > 0 && close < end) {
        const program = line.slice(tagStart, j);
        const pid = parseDigits(line, j + 1, close);
        const after = close + 1 < end && line.charCodeAt(close + 1) === 58 ? close + 2 : close + 1;
        const result: SyslogLine = {
          time: new Date(time),
          host,
          program,
          message: messageAfter(line, after, end),
        };
        if (pid >= 0) result.pid = pid;
        return result;
      }
    }
    // No `tag:` (`last message repeated 3 times`): the whole rest is the message.
    return { time: new Date(time), host, program: "", message: line.slice(tagStart, end) };
  }

  /**
   * Epoch ms of `Nov 23 18:24:33[.ffffff]` at `i`, or NaN; sets `#bsdEnd` to the
   * index after it. The most common format, so it allocates nothing.
   */
  #bsdStamp(line: string, i: number, end: number, readAtMs: number, year?: number): number {
    const month = monthIndex(line, i);
    if (month < 0) return NaN;
    let p = i + 4;
    if (line.charCodeAt(p) === 32) p++; // space-padded day
    let day = digit(line, p);
    if (day < 0) return NaN;
    p++;
    const d2 = digit(line, p);
    if (d2 >= 0) {
      day = day * 10 + d2;
      p++;
    }
    if (day < 1 || day > 31 || line.charCodeAt(p) !== 32) return NaN;
    const hour = twoDigits(line, p + 1);
    const minute = twoDigits(line, p + 4);
    const second = twoDigits(line, p + 7);
    if (
      hour < 0 || minute < 0 || second < 0 || hour > 23 || minute > 59 || second > 60 ||
      line.charCodeAt(p + 3) !== 58 || line.charCodeAt(p + 6) !== 58
    ) return NaN;
    let next = p + 9;
    let ms = 0;
    if (line.charCodeAt(next) === 46 /* . */) {
      const frac = parseFraction(line, next + 1, end);
      ms = frac.ms;
      next = frac.next;
    }
    if (next >= end || line.charCodeAt(next) !== 32) return NaN;
    this.#bsdEnd = next;
    const offset = minute * MINUTE + Math.min(second, 59) * 1000 + ms;
    return year === undefined
      ? this.#bsdTime(month, day, hour, offset, readAtMs)
      : this.#hourStart(year, month, day, hour) + offset;
  }

  /** `2026-11-23 18:24:33 CET` after the weekday of `journalctl -o short-full`. */
  #shortFull(line: string, i: number, end: number): { time: number; next: number } | undefined {
    const date = parseDate(line, i);
    if (date === undefined || line.charCodeAt(i + 10) !== 32) return undefined;
    const clock = parseClock(line, i + 11);
    if (clock === undefined) return undefined;
    let p = i + 19;
    let ms = 0;
    if (line.charCodeAt(p) === 46) {
      const frac = parseFraction(line, p + 1, end);
      ms = frac.ms;
      p = frac.next;
    }
    if (line.charCodeAt(p) !== 32) return undefined;
    const zoneEnd = line.indexOf(" ", p + 1);
    if (zoneEnd < 0 || zoneEnd >= end) return undefined;
    const zone = line.slice(p + 1, zoneEnd);
    const utc = zone === "UTC" || zone === "GMT" || this.#utc;
    const time = utc
      ? Date.UTC(date.year, date.month, date.day, clock.hour, clock.minute, clock.second, ms)
      : new Date(date.year, date.month, date.day, clock.hour, clock.minute, clock.second, ms)
        .getTime();
    return { time, next: zoneEnd };
  }

  /** RFC 3339 / ISO 8601 (`2026-11-23T18:24:33.123+01:00`) or `1700000000.123456`. */
  #numericStamp(line: string, i: number, end: number): { time: number; next: number } | undefined {
    if (line.charCodeAt(i + 4) !== 45) return unixStamp(line, i, end);
    const date = parseDate(line, i);
    const sep = line.charCodeAt(i + 10);
    if (date === undefined || (sep !== 84 /* T */ && sep !== 32)) return undefined;
    const clock = parseClock(line, i + 11);
    if (clock === undefined) return undefined;
    let p = i + 19;
    let ms = 0;
    if (line.charCodeAt(p) === 46 || line.charCodeAt(p) === 44 /* , */) {
      const frac = parseFraction(line, p + 1, end);
      ms = frac.ms;
      p = frac.next;
    }
    const z = line.charCodeAt(p);
    let offsetMinutes: number | undefined;
    if (z === 90 /* Z */ || z === 122 /* z */) {
      offsetMinutes = 0;
      p++;
    } else if (z === 43 /* + */ || z === 45 /* - */) {
      const hh = twoDigits(line, p + 1);
      const colon = line.charCodeAt(p + 3) === 58 ? 1 : 0;
      const mm = twoDigits(line, p + 3 + colon);
      if (hh < 0 || mm < 0) return undefined;
      offsetMinutes = (z === 45 ? -1 : 1) * (hh * 60 + mm);
      p += 5 + colon;
    }
    if (p >= end || line.charCodeAt(p) !== 32) return undefined;
    const time = offsetMinutes === undefined && !this.#utc
      ? new Date(date.year, date.month, date.day, clock.hour, clock.minute, clock.second, ms)
        .getTime()
      : Date.UTC(date.year, date.month, date.day, clock.hour, clock.minute, clock.second, ms) -
        (offsetMinutes ?? 0) * MINUTE;
    return { time, next: p };
  }

  /** `1 TIMESTAMP HOST APP PROCID MSGID SD MSG` after `<PRI>1 `. */
  #parse5424(line: string, i: number, end: number, readAt: Date): SyslogLine | undefined {
    let time: number;
    let p: number;
    if (line.charCodeAt(i) === 45 /* - */) {
      time = readAt.getTime();
      p = i + 1;
    } else {
      const stamp = this.#numericStamp(line, i, end);
      if (stamp === undefined) return undefined;
      time = stamp.time;
      p = stamp.next;
    }
    const fields: string[] = [];
    for (let n = 0; n < 4; n++) {
      if (line.charCodeAt(p) !== 32) return undefined;
      const next = line.indexOf(" ", p + 1);
      const stop = next < 0 || next > end ? end : next;
      fields.push(line.slice(p + 1, stop));
      p = stop;
    }
    const [host, app, procid] = fields;
    // Structured data: `-` or `[id k="v"]...`, where `]` may be escaped inside quotes.
    p++;
    if (line.charCodeAt(p) === 45) {
      p++;
    } else {
      while (line.charCodeAt(p) === 91) {
        let quoted = false;
        p++;
        while (p < end) {
          const ch = line.charCodeAt(p);
          if (ch === 92 /* \ */) p++;
          else if (ch === 34 /* " */) quoted = !quoted;
          else if (ch === 93 /* ] */ && !quoted) break;
          p++;
        }
        p++;
      }
    }
    let message = p < end ? line.slice(p + 1, end) : "";
    if (message.charCodeAt(0) === 0xfeff) message = message.slice(1);
    const result: SyslogLine = {
      time: new Date(time),
      host: host === "-" ? "" : host,
      program: app === "-" ? "" : app,
      message,
    };
    const pid = parseDigits(procid, 0, procid.length);
    if (pid >= 0) result.pid = pid;
    return result;
  }

  /** Epoch ms of a BSD timestamp; see the class documentation for the year. */
  #bsdTime(month: number, day: number, hour: number, offset: number, readAtMs: number): number {
    const year = this.#yearOf(readAtMs);
    let time = this.#hourStart(year, month, day, hour) + offset;
    if (time > readAtMs + DAY) {
      time = this.#hourStart(year - 1, month, day, hour) + offset;
    } else if (time < readAtMs - 300 * DAY) {
      const next = this.#hourStart(year + 1, month, day, hour) + offset;
      if (next <= readAtMs + DAY) time = next;
    }
    return time;
  }

  #hourStart(year: number, month: number, day: number, hour: number): number {
    const key = ((year * 12 + month) * 32 + day) * 24 + hour;
    let start = this.#hourStarts.get(key);
    if (start === undefined) {
      if (this.#hourStarts.size > 10_000) this.#hourStarts.clear();
      start = this.#utc
        ? Date.UTC(year, month, day, hour)
        : new Date(year, month, day, hour).getTime();
      this.#hourStarts.set(key, start);
    }
    return start;
  }

  #yearOf(ms: number): number {
    if (ms >= this.#yearFrom && ms < this.#yearTo) return this.#year;
    const date = new Date(ms);
    const year = this.#utc ? date.getUTCFullYear() : date.getFullYear();
    this.#year = year;
    this.#yearFrom = this.#utc ? Date.UTC(year, 0, 1) : new Date(year, 0, 1).getTime();
    this.#yearTo = this.#utc ? Date.UTC(year + 1, 0, 1) : new Date(year + 1, 0, 1).getTime();
    return year;
  }
}

const defaultParsers: Record<"local" | "utc", SyslogParser | undefined> = {
  local: undefined,
  utc: undefined,
};

/** Options of {@linkcode parseSyslogLine}. */
export interface ParseSyslogLineOptions extends SyslogParserOptions {
  /** When the line was read; supplies the year of BSD timestamps. Defaults to now. */
  readAt?: Date;
}

/**
 * Parses one syslog line's header with a shared {@linkcode SyslogParser}; returns
 * `undefined` when the line has no readable header.
 *
 * @example
 * ```ts
 * import { parseSyslogLine } from "@eventstorm/core/source";
 * const line = parseSyslogLine(
 *   "2026-11-23T18:24:33.123456+01:00 bastion sshd[812]: Accepted publickey for ann from 192.0.2.7 port 50122 ssh2",
 * );
 * console.log(line?.time.toISOString(), line?.host, line?.message);
 * // 2026-11-23T17:24:33.123Z bastion Accepted publickey for ann from 192.0.2.7 port 50122 ssh2
 * ```
 */
export function parseSyslogLine(
  line: string,
  options: ParseSyslogLineOptions = {},
): SyslogLine | undefined {
  const which = options.utc ? "utc" : "local";
  const parser = defaultParsers[which] ??= new SyslogParser({ utc: options.utc });
  return parser.parse(line, options.readAt);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function digit(line: string, i: number): number {
  const c = line.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

function twoDigits(line: string, i: number): number {
  const a = digit(line, i);
  const b = digit(line, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/** Digits in `[from, to)` as a number, or -1 when empty or not all digits. */
function parseDigits(text: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** `HH:MM:SS` at `i`. */
function parseClock(
  line: string,
  i: number,
): { hour: number; minute: number; second: number } | undefined {
  const hour = twoDigits(line, i);
  const minute = twoDigits(line, i + 3);
  const second = twoDigits(line, i + 6);
  if (
    hour < 0 || minute < 0 || second < 0 || hour > 23 || minute > 59 || second > 60 ||
    line.charCodeAt(i + 2) !== 58 || line.charCodeAt(i + 5) !== 58
  ) return undefined;
  return { hour, minute, second: second === 60 ? 59 : second };
}

/** `YYYY-MM-DD` at `i`, month zero-based. */
function parseDate(
  line: string,
  i: number,
): { year: number; month: number; day: number } | undefined {
  const y1 = twoDigits(line, i);
  const y2 = twoDigits(line, i + 2);
  const month = twoDigits(line, i + 5);
  const day = twoDigits(line, i + 8);
  if (
    y1 < 0 || y2 < 0 || month < 1 || month > 12 || day < 1 || day > 31 ||
    line.charCodeAt(i + 4) !== 45 || line.charCodeAt(i + 7) !== 45
  ) return undefined;
  return { year: y1 * 100 + y2, month: month - 1, day };
}

/** Milliseconds of a fraction of a second starting at `i` (after the dot). */
function parseFraction(line: string, i: number, end: number): { ms: number; next: number } {
  let ms = 0;
  let scale = 100;
  let p = i;
  while (p < end) {
    const d = line.charCodeAt(p) - 48;
    if (d < 0 || d > 9) break;
    ms += d * scale;
    scale /= 10;
    p++;
  }
  return { ms: Math.floor(ms), next: p };
}

/** `journalctl -o short-unix`: `1700000000.123456 host ...`. */
function unixStamp(
  line: string,
  i: number,
  end: number,
): { time: number; next: number } | undefined {
  let p = i;
  let seconds = 0;
  while (p < end && p - i < 12) {
    const d = line.charCodeAt(p) - 48;
    if (d < 0 || d > 9) break;
    seconds = seconds * 10 + d;
    p++;
  }
  if (p - i < 9) return undefined;
  let ms = 0;
  if (line.charCodeAt(p) === 46) {
    const frac = parseFraction(line, p + 1, end);
    ms = frac.ms;
    p = frac.next;
  }
  if (line.charCodeAt(p) !== 32) return undefined;
  return { time: seconds * 1000 + ms, next: p };
}

/** The message after a tag's colon: one separating space is not part of it. */
function messageAfter(line: string, i: number, end: number): string {
  return line.slice(line.charCodeAt(i) === 32 ? i + 1 : i, end);
}

/** Zero-based month of an English three-letter abbreviation at `i`, or -1. */
function monthIndex(line: string, i: number): number {
  const a = line.charCodeAt(i) | 0x20;
  const b = line.charCodeAt(i + 1) | 0x20;
  const c = line.charCodeAt(i + 2) | 0x20;
  switch (a) {
    case 106: // j
      if (b === 97 && c === 110) return 0; // jan
      if (b === 117) return c === 110 ? 5 : c === 108 ? 6 : -1; // jun, jul
      return -1;
    case 102: // f
      return b === 101 && c === 98 ? 1 : -1;
    case 109: // m
      if (b !== 97) return -1;
      return c === 114 ? 2 : c === 121 ? 4 : -1; // mar, may
    case 97: // a
      if (b === 112 && c === 114) return 3;
      return b === 117 && c === 103 ? 7 : -1;
    case 115: // s
      return b === 101 && c === 112 ? 8 : -1;
    case 111: // o
      return b === 99 && c === 116 ? 9 : -1;
    case 110: // n
      return b === 111 && c === 118 ? 10 : -1;
    case 100: // d
      return b === 101 && c === 99 ? 11 : -1;
    default:
      return -1;
  }
}
