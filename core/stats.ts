/**
 * Stats every component reports the same way: a readable line on stderr at each
 * interval, and the same numbers as an `eventstorm.stats` event.
 *
 * @module
 */

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
    const digits = Math.abs(scaled) < 10 ? 2 : 1;
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
