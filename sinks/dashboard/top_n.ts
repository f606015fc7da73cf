/**
 * The most frequent keys over a sliding time window, in bounded memory.
 *
 * @module
 */

/**
 * Options of {@linkcode WindowedTopN}.
 *
 * @example
 * ```ts
 * import { WindowedTopN, type WindowedTopNOptions } from "@eventstorm/sink-dashboard";
 * const options: WindowedTopNOptions = { windowMs: 300_000, segments: 10, capacity: 1000 };
 * const agents = new WindowedTopN(options);
 * ```
 */
export interface WindowedTopNOptions {
  /** Length of the window in milliseconds. Default 60 s. */
  windowMs?: number;
  /** Segments the window is cut into; the window slides by one segment. Default 6. */
  segments?: number;
  /** Keys each segment keeps when it prunes; it prunes when it holds four times as many. Default 500. */
  capacity?: number;
  /** Longer keys are cut to this many characters (and end with `…`). Default 200. */
  maxKeyLength?: number;
}

/**
 * One row of a top list: the key and its (approximate) count in the window.
 *
 * @example
 * ```ts
 * import { type TopRow, WindowedTopN } from "@eventstorm/sink-dashboard";
 * const rows: TopRow[] = new WindowedTopN().top(10);
 * for (const [key, count] of rows) console.log(key, count);
 * ```
 */
export type TopRow = [key: string, count: number];

/**
 * Counts keys over the last `windowMs`, cut into `segments` segments. Each
 * segment is a map that, past `4 × capacity` keys, keeps only its `capacity`
 * largest counts, so memory is bounded by `segments × 4 × capacity` keys of at
 * most `maxKeyLength` characters however many distinct keys arrive. Keys that
 * matter (the frequent ones) survive pruning; a rare key may be undercounted.
 *
 * The window is advanced by {@linkcode WindowedTopN.rotate}, which the caller
 * calls with the time (once a second is plenty), so `add` costs one map update.
 *
 * @example
 * ```ts
 * import { WindowedTopN } from "@eventstorm/sink-dashboard";
 * const paths = new WindowedTopN({ windowMs: 60_000 });
 * paths.rotate(Date.now());
 * paths.add("/index.html");
 * paths.add("/index.html");
 * paths.add("/login");
 * paths.top(1); // [["/index.html", 2]]
 * ```
 */
export class WindowedTopN {
  readonly #segmentMs: number;
  readonly #capacity: number;
  readonly #pruneAt: number;
  readonly #maxKeyLength: number;
  /** Oldest first; the last one is being filled. */
  readonly #segments: Map<string, number>[];
  #current: Map<string, number>;
  #currentStart = -Infinity;

  /** Creates an empty counter. */
  constructor(options: WindowedTopNOptions = {}) {
    const windowMs = options.windowMs ?? 60_000;
    const segments = options.segments ?? 6;
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${windowMs}`);
    if (!Number.isInteger(segments) || segments < 1) {
      throw new RangeError(`segments must be a whole number from 1, got ${segments}`);
    }
    this.#segmentMs = windowMs / segments;
    this.#capacity = Math.max(1, options.capacity ?? 500);
    this.#pruneAt = this.#capacity * 4;
    this.#maxKeyLength = Math.max(1, options.maxKeyLength ?? 200);
    this.#segments = Array.from({ length: segments }, () => new Map());
    this.#current = this.#segments[segments - 1];
  }

  /** Counts `key` `weight` times in the current segment. */
  add(key: string, weight = 1): void {
    if (key.length > this.#maxKeyLength) key = key.slice(0, this.#maxKeyLength - 1) + "…";
    const current = this.#current;
    const count = current.get(key);
    if (count !== undefined) {
      current.set(key, count + weight);
      return;
    }
    current.set(key, weight);
    if (current.size > this.#pruneAt) prune(current, this.#capacity);
  }

  /** Moves the window to end at `now`: segments that fell out of it are dropped. */
  rotate(now: number): void {
    if (now < this.#currentStart + this.#segmentMs) return;
    const steps = this.#currentStart === -Infinity
      ? this.#segments.length
      : Math.min(this.#segments.length, Math.floor((now - this.#currentStart) / this.#segmentMs));
    for (let i = 0; i < steps; i++) {
      // Recycle the oldest map as the new current one.
      const oldest = this.#segments.shift()!;
      oldest.clear();
      this.#segments.push(oldest);
    }
    this.#current = this.#segments[this.#segments.length - 1];
    this.#currentStart = now - (now % this.#segmentMs);
  }

  /** The `n` most frequent keys in the window, most frequent first (ties by key). */
  top(n: number): TopRow[] {
    const merged = new Map<string, number>();
    for (const segment of this.#segments) {
      for (const [key, count] of segment) merged.set(key, (merged.get(key) ?? 0) + count);
    }
    return [...merged].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n);
  }

  /** Keys held now, over all segments (the memory bound is `segments × 4 × capacity`). */
  get size(): number {
    let size = 0;
    for (const segment of this.#segments) size += segment.size;
    return size;
  }
}

/** Keeps the `keep` largest counts of `map`. */
function prune(map: Map<string, number>, keep: number): void {
  const counts = Float64Array.from(map.values()).sort();
  // Counts equal to the threshold may all survive; pruning again later catches up.
  const threshold = counts[counts.length - keep];
  let kept = 0;
  for (const [key, count] of map) {
    if (count < threshold || (count === threshold && kept >= keep)) map.delete(key);
    else kept++;
  }
}
