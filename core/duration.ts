/**
 * Durations as people write them in flags: `250ms`, `10s`, `5m`, `1h`, `30d`.
 *
 * @module
 */
import { UsageError } from "./flags.ts";

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * The longest duration a timer can wait: `setTimeout` and `setInterval` hold a
 * signed 32-bit count of ms (about 24.8 days) and fire after 1 ms instead when
 * given more, so an interval of 30d would run every millisecond. 24d, a whole
 * number of days under that limit, is the bound of every duration that times
 * something (intervals, polls, timeouts).
 */
export const MAX_TIMER_MS = 24 * UNITS.d;

/**
 * The longest span of time a duration may measure when it is compared with
 * event times rather than waited for (a retention, a TTL, `--since`): 100 years
 * (36500d), well within what a `Date` holds.
 */
export const MAX_SPAN_MS = 36_500 * UNITS.d;

/** Options of {@linkcode parseDuration}. */
export interface DurationOptions {
  /**
   * The duration is a span compared with event times, never waited for: up to
   * {@linkcode MAX_SPAN_MS} (100 years) instead of {@linkcode MAX_TIMER_MS} (24d).
   */
  span?: boolean;
}

/**
 * Parses a duration into milliseconds. Throws {@linkcode UsageError} naming the flag
 * (when given) for anything else, and for more than 24d, the most a timer can
 * wait ({@linkcode MAX_TIMER_MS}), or 36500d with `span`
 * ({@linkcode MAX_SPAN_MS}).
 *
 * @example
 * ```ts
 * import { parseDuration } from "@eventstorm/core/cli";
 * parseDuration("10s"); // 10000
 * parseDuration("1.5h"); // 5400000
 * parseDuration("90d", "retain", { span: true }); // 7776000000
 * ```
 */
export function parseDuration(text: string, flag?: string, options: DurationOptions = {}): number {
  const where = flag ? `--${flag} ` : "";
  const match = text.trim().match(/^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/);
  if (!match) {
    throw new UsageError(
      `${where}must be a duration like 500ms, 10s, 5m, 1h or 30d, got '${text}'`,
    );
  }
  const ms = Math.round(Number(match[1]) * UNITS[match[2]]);
  const max = options.span ? MAX_SPAN_MS : MAX_TIMER_MS;
  if (!(ms <= max)) {
    throw new UsageError(`${where}must be at most ${formatDuration(max)}, got '${text}'`);
  }
  return ms;
}

/**
 * Formats milliseconds the short way back (`1500` → `1.5s`).
 *
 * @example
 * ```ts
 * import { formatDuration } from "@eventstorm/core/cli";
 * formatDuration(90_000); // "1.5m"
 * ```
 */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"]) {
    if (ms >= UNITS[unit]) return `${Number((ms / UNITS[unit]).toFixed(2))}${unit}`;
  }
  return `${ms}ms`;
}
