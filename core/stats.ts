/**
 * Stats every component reports the same way: a readable line on stderr at each
 * interval, and the same numbers as an `eventstorm.stats` event.
 *
 * @module
 */

import { parseDuration } from "./duration.ts";
import { type FlagValues, type StringFlagSpec, UsageError } from "./flags.ts";

/** Flat numeric counters, as carried in an `eventstorm.stats` event. */
export type Counters = Record<string, number>;

/**
 * Formats a count for people: `950`, `12.3k`, `4.56M`.
 *
 * @example
 * ```ts
 * import { formatCount } from "@eventstorm/core/cli";
 * formatCount(12_345); // "12.3k"
 * ```
 */
export function formatCount(value: number): string {
  if (Math.abs(value) < 999.5) return `${Math.round(value)}`;
  // Choose the unit after rounding, so 999_999 reads "1.00M", never "1000.0k".
  for (const [scale, unit] of [[1e3, "k"], [1e6, "M"]] as const) {
    const scaled = value / scale;
    // Also chosen after rounding: 9_996 reads "10.0k", as 12_345 reads "12.3k", never "10.00k".
    const digits = Math.abs(Number(scaled.toFixed(2))) < 10 ? 2 : 1;
    if (Math.abs(Number(scaled.toFixed(digits))) < 1000) return `${scaled.toFixed(digits)}${unit}`;
  }
  return `${(value / 1e9).toFixed(2)}G`;
}

/**
 * Formats bytes for people: `512B`, `1.5KiB`, `3.2MiB`.
 *
 * @example
 * ```ts
 * import { formatBytes } from "@eventstorm/core/cli";
 * formatBytes(1536); // "1.5KiB"
 * ```
 */
export function formatBytes(value: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)}B` : `${value.toFixed(1)}${units[unit]}`;
}

/**
 * Per-second rate of a counter between two snapshots.
 *
 * @example
 * ```ts
 * import { rate } from "@eventstorm/core/cli";
 * rate(1500, 500, 2000); // 500
 * ```
 */
export function rate(current: number, previous: number, elapsedMs: number): number {
  return elapsedMs > 0 ? ((current - previous) * 1000) / elapsedMs : 0;
}

/** Options of {@linkcode StatsReporter}. */
export interface StatsReporterOptions {
  /** Component name, the `component` field of stats events (`router`, `sink-store`). */
  component: string;
  /** Interval in ms; 0 disables reporting. */
  intervalMs: number;
  /** Reads the current counters. */
  snapshot: () => Counters;
  /** One readable line from the current and previous counters. */
  format: (current: Counters, previous: Counters, elapsedMs: number) => string;
  /** Where the line goes; stderr by default. */
  print?: (line: string) => void;
  /** Receives each snapshot as `eventstorm.stats` fields, to publish it. */
  publish?: (fields: Record<string, number | string>) => void;
}

/**
 * Calls `snapshot` every interval, prints the formatted line and publishes the
 * counters. The timer does not keep the process alive.
 *
 * @example
 * ```ts
 * import { StatsReporter } from "@eventstorm/core/cli";
 * let events = 0;
 * const reporter = new StatsReporter({
 *   component: "demo",
 *   intervalMs: 10_000,
 *   snapshot: () => ({ events }),
 *   format: (now) => `${now.events} events`,
 * });
 * reporter.start();
 * reporter.stop();
 * ```
 */
export class StatsReporter {
  readonly #options: StatsReporterOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #previous: Counters = {};
  #previousAt = performance.now();

  /** Creates a reporter; call `start()`. */
  constructor(options: StatsReporterOptions) {
    this.#options = options;
  }

  /** Starts the interval. */
  start(): void {
    if (this.#options.intervalMs <= 0 || this.#timer !== undefined) return;
    this.#previous = this.#options.snapshot();
    this.#previousAt = performance.now();
    this.#timer = setInterval(() => this.report(), this.#options.intervalMs);
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  /**
   * Reports every interval while `run` runs, then a final line once it has
   * finished (not when it failed: its error is the last word then).
   */
  async during<T>(run: () => Promise<T>): Promise<T> {
    this.start();
    let result: T;
    try {
      result = await run();
    } finally {
      this.stop();
    }
    this.report();
    return result;
  }

  /** Reports now (also called at shutdown for a final line). */
  report(): void {
    const now = performance.now();
    const current = this.#options.snapshot();
    const line = this.#options.format(current, this.#previous, now - this.#previousAt);
    (this.#options.print ?? ((text: string) => console.error(text)))(line);
    this.#options.publish?.({
      ...current,
      component: this.#options.component,
      interval_ms: Math.round(now - this.#previousAt),
    });
    this.#previous = current;
    this.#previousAt = now;
  }

  /** Stops the interval. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * `--stats-interval`, the same in every component: a stats line on stderr (and an
 * `eventstorm.stats` event where the component publishes them) this often; `0`
 * prints no periodic line, only the final one at shutdown. docs/specs/stats.md.
 *
 * @example
 * ```ts
 * import { STATS_INTERVAL_FLAG } from "@eventstorm/core/cli";
 * const flags = { "stats-interval": STATS_INTERVAL_FLAG };
 * ```
 */
export const STATS_INTERVAL_FLAG: StringFlagSpec & { default: string } = {
  type: "string",
  value: "DURATION",
  default: "10s",
  help: "print a stats line (and publish eventstorm.stats) this often; 0: only at the end",
};

/**
 * Below this a stats line would be noise, and its timer a load of its own: the
 * least interval of `--stats-interval` and of `tap --interval`.
 */
export const MIN_STATS_INTERVAL_MS = 100;

/**
 * Reads a stats interval in ms by the one rule of {@linkcode STATS_INTERVAL_FLAG}:
 * any zero (`0`, `0s`) is 0, a line at the end only; otherwise a duration of at
 * least 100ms and at most 24d, the longest a timer waits (see
 * {@linkcode parseDuration}). Errors name `--flag` when given (a config file
 * names its key itself).
 *
 * @example
 * ```ts
 * import { parseStatsInterval } from "@eventstorm/core/cli";
 * parseStatsInterval("10s"); // 10000
 * parseStatsInterval("0"); // 0
 * ```
 */
export function parseStatsInterval(text: string, flag?: string): number {
  if (/^0+(\.0+)?\s*(ms|s|m|h|d|w)?$/.test(text.trim())) return 0;
  const ms = parseDuration(text, flag);
  if (ms < MIN_STATS_INTERVAL_MS) {
    const where = flag ? `--${flag} ` : "";
    throw new UsageError(
      `${where}must be 0 (a line at the end only) or ${MIN_STATS_INTERVAL_MS}ms or more, got '${text}'`,
    );
  }
  return ms;
}

/**
 * `--stats-interval` from parsed flags, in ms (see {@linkcode parseStatsInterval}).
 *
 * @example
 * ```ts
 * import { statsIntervalFlag } from "@eventstorm/core/cli";
 * statsIntervalFlag({ "stats-interval": "10s" }); // 10000
 * ```
 */
export function statsIntervalFlag(
  values: FlagValues<{ "stats-interval": typeof STATS_INTERVAL_FLAG }>,
): number {
  return parseStatsInterval(values["stats-interval"], "stats-interval");
}

/** What one component's stats line shows (docs/specs/stats.md). */
export interface StatsLineSpec {
  /** The counter whose rate leads the line, and its unit: `lines` → `2.00k lines/s`. */
  rate: string;
  /** Counters always shown, as `[counter, label]`; a label may be a function of the counters. */
  always: readonly (readonly [string, string | ((current: Counters) => string)])[];
  /** Counters shown only when they are not 0, as `[counter, label]`. */
  ifAny?: readonly (readonly [string, string])[];
}

/**
 * One readable stats line: `PREFIX: RATE UNIT/s; label N, label N, …`, the
 * counters named as the spec says, the ones that only matter when they happen
 * shown only then.
 *
 * @example
 * ```ts
 * import { formatStatsLine } from "@eventstorm/core/cli";
 * formatStatsLine("source demo", { rate: "events", always: [["events", "events"]] },
 *   { events: 2000 }, { events: 0 }, 1000);
 * // "source demo: 2.00k events/s; events 2000"
 * ```
 */
export function formatStatsLine(
  prefix: string,
  spec: StatsLineSpec,
  current: Counters,
  previous: Counters,
  elapsedMs: number,
): string {
  const n = (key: string) => current[key] ?? 0;
  const always = spec.always.map(([key, label]) =>
    typeof label === "string" ? `${label} ${n(key)}` : label(current)
  );
  const ifAny = (spec.ifAny ?? []).filter(([key]) => n(key) > 0)
    .map(([key, label]) => `${label} ${n(key)}`);
  return `${prefix}: ${formatCount(rate(n(spec.rate), previous[spec.rate] ?? 0, elapsedMs))} ` +
    `${spec.rate}/s; ${[...always, ...ifAny].join(", ")}`;
}
