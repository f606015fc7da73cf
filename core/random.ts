/**
 * A seeded PRNG for whatever must be reproducible from a seed: generated demo
 * logs and events, test data, fuzzing.
 *
 * @module
 */

/**
 * mulberry32: 32 bits of state, small and fast, good enough for fake logs and
 * tests (not for anything secret). Numbers in [0, 1).
 *
 * @example
 * ```ts
 * import { mulberry32 } from "@eventstorm/core/internal";
 * const random = mulberry32(42);
 * console.log(random() < 1); // true
 * ```
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
