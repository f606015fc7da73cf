/**
 * Timestamps as the logs write them: nginx's `$time_local`, syslog's
 * `Mmm dd hh:mm:ss`, in a chosen or the machine's time zone.
 *
 * @module
 */

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A log's clock: the time now and how the log prints it. */
export class LogTime {
  readonly now: () => Date;
  readonly #offset: number | undefined;

  /** `offsetMinutes` east of UTC; the machine's zone (at each date) when undefined. */
  constructor(now: () => Date, offsetMinutes: number | undefined) {
    this.now = now;
    this.#offset = offsetMinutes;
  }

  /** nginx's `$time_local`: `02/Mar/2024:10:00:06 +0100`. */
  nginx(date: Date): string {
    const offset = this.#offsetMinutes(date);
    const t = this.#local(date);
    const sign = offset >= 0 ? "+" : "-";
    const abs = Math.abs(offset);
    const zone = `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
    return `${pad(t.getUTCDate())}/${MONTHS[t.getUTCMonth()]}/${t.getUTCFullYear()}:${
      hms(t)
    } ${zone}`;
  }

  /**
   * Syslog lines from `[seconds after the first line, program, message]`, stamped
   * so that the last one is `nowMs`.
   */
  syslog(hostname: string, lines: [number, string, string][], nowMs: number): string[] {
    const last = lines[lines.length - 1][0];
    return lines.map(([seconds, program, message]) => {
      const time = this.#local(new Date(nowMs - (last - seconds) * 1000));
      const stamp = `${MONTHS[time.getUTCMonth()]} ${String(time.getUTCDate()).padStart(2, " ")} ${
        hms(time)
      }`;
      return program
        ? `${stamp} ${hostname} ${program}: ${message}`
        : `${stamp} ${hostname} ${message}`;
    });
  }

  // A Date whose UTC fields show local wall-clock time.
  #local(date: Date): Date {
    return new Date(date.getTime() + this.#offsetMinutes(date) * 60_000);
  }

  #offsetMinutes(date: Date): number {
    return this.#offset ?? -date.getTimezoneOffset();
  }
}

/** `YYYYMMDDhhmmss` in UTC, as in Postfix message ids. */
export function compactDate(nowMs: number): string {
  const t = new Date(nowMs);
  return `${t.getUTCFullYear()}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())}${
    hms(t).replaceAll(":", "")
  }`;
}

/** A running total of the seconds between a transaction's lines. */
export function elapsed(): (seconds: number) => number {
  let total = 0;
  return (seconds) => total += seconds;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

function hms(t: Date): string {
  return `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}`;
}
