/**
 * How every benchmark ends the line of a target: `met` or `short`, and nothing
 * else, so a reader (or a grep over a run) finds each verdict the same way.
 *
 * @module
 */

/**
 * `"met"` when `met`, else `"short"`.
 *
 * @example
 * ```ts
 * import { verdict } from "./verdict.ts";
 * console.log(`target ≥ 250,000 ev/s: ${verdict(183_044 >= 250_000)}`); // "... short"
 * ```
 */
export function verdict(met: boolean): "met" | "short" {
  return met ? "met" : "short";
}
