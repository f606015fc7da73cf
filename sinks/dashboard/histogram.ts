/**
 * Percentiles of a stream of durations in fixed memory.
 *
 * @module
 */

/**
 * Options of {@linkcode LogHistogram}.
 *
 * @example
 * ```ts
 * import { LogHistogram, type LogHistogramOptions } from "@eventstorm/sink-dashboard";
 * const options: LogHistogramOptions = { min: 1e-3, max: 60, precision: 0.02 };
 * const histogram = new LogHistogram(options);
 * ```
 */
export interface LogHistogramOptions {
  /** Smallest value told apart from zero. Default 1e-6 (a microsecond, in seconds). */
  min?: number;
  /** Largest value told apart; larger ones land in the last bucket. Default 1e5. */
  max?: number;
  /** Relative width of a bucket. Default 0.01: percentiles within 0.5% of a value seen. */
  precision?: number;
}

/**
 * A histogram with logarithmic buckets: adding costs one logarithm, memory is a
 * few thousand counters whatever the rate, and a percentile is the midpoint of
 * the bucket holding the nearest-rank value, so within `precision / 2` of it.
 * Values of zero or less (a request served within the log's resolution) are
 * counted as 0 exactly.
 *
 * @example
 * ```ts
 * import { LogHistogram } from "@eventstorm/sink-dashboard";
 * const latency = new LogHistogram();
 * for (const seconds of [0.010, 0.020, 0.030, 0.040, 1.5]) latency.add(seconds);
 * latency.percentile(50); // ≈ 0.030
 * latency.percentile(99); // ≈ 1.5
 * ```
 */
export class LogHistogram {
  readonly #min: number;
  readonly #max: number;
  readonly #logBase: number;
  readonly #base: number;
  // Float64: a coarse frame's histogram sums many seconds, past what 32 bits hold.
  readonly #counts: Float64Array;
  #zeros = 0;
  #count = 0;
  /** Lowest and highest bucket used: merging and resetting touch only those. */
  #lo = Infinity;
  #hi = -1;

  /** Creates an empty histogram. */
  constructor(options: LogHistogramOptions = {}) {
    this.#min = options.min ?? 1e-6;
    const max = options.max ?? 1e5;
    this.#max = max;
    const precision = options.precision ?? 0.01;
    if (!(this.#min > 0 && max > this.#min && precision > 0)) {
      throw new RangeError("LogHistogram needs 0 < min < max and a positive precision");
    }
    this.#base = 1 + precision;
    this.#logBase = Math.log(this.#base);
    this.#counts = new Float64Array(Math.ceil(Math.log(max / this.#min) / this.#logBase) + 1);
  }

  /** Counts one value; not-a-number is ignored. */
  add(value: number): void {
    if (!(value > 0)) {
      if (value <= 0) {
        this.#zeros++;
        this.#count++;
      }
      return;
    }
    const counts = this.#counts;
    let index = value <= this.#min ? 0 : Math.floor(Math.log(value / this.#min) / this.#logBase);
    if (index >= counts.length) index = counts.length - 1;
    counts[index]++;
    this.#count++;
    if (index < this.#lo) this.#lo = index;
    if (index > this.#hi) this.#hi = index;
  }

  /**
   * Adds every value counted by `other`, which must have the same `min`, `max`
   * and `precision`: the percentiles are then those of both streams together,
   * as exact as either's (a frame's histogram merged into its minute's).
   */
  merge(other: LogHistogram): void {
    if (
      other.#counts.length !== this.#counts.length || other.#min !== this.#min ||
      other.#base !== this.#base
    ) {
      throw new RangeError(
        "LogHistogram.merge needs histograms of the same min, max and precision",
      );
    }
    if (other.#count === 0) return;
    const counts = this.#counts;
    const from = other.#counts;
    for (let i = other.#lo; i <= other.#hi; i++) counts[i] += from[i];
    this.#zeros += other.#zeros;
    this.#count += other.#count;
    if (other.#lo < this.#lo) this.#lo = other.#lo;
    if (other.#hi > this.#hi) this.#hi = other.#hi;
  }

  /** Values counted. */
  get count(): number {
    return this.#count;
  }

  /**
   * The nearest-rank `p`th percentile (0 to 100) of the values counted, or null
   * when there are none.
   */
  percentile(p: number): number | null {
    if (this.#count === 0) return null;
    const rank = Math.max(1, Math.ceil((p * this.#count) / 100 - 1e-9));
    if (rank <= this.#zeros) return 0;
    let seen = this.#zeros;
    const counts = this.#counts;
    for (let i = this.#lo; i <= this.#hi; i++) {
      seen += counts[i];
      if (seen >= rank) return Math.min(this.#max, this.#min * this.#base ** (i + 0.5));
    }
    return this.#max;
  }

  /** Forgets every value. */
  reset(): void {
    if (this.#count === 0) return;
    if (this.#hi >= 0) this.#counts.fill(0, this.#lo, this.#hi + 1);
    this.#zeros = 0;
    this.#count = 0;
    this.#lo = Infinity;
    this.#hi = -1;
  }
}
