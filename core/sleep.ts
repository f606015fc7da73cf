/**
 * Waiting that a stop request cuts short, for run loops that must shut down at once.
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds, or as soon as `signal` aborts (at once when it
 * already has). Never rejects: a stop is an ordinary way for a wait to end, so the
 * caller checks the result (or the signal) instead of catching.
 *
 * @returns `true` when the time passed, `false` when `signal` aborted first.
 *
 * @example
 * ```ts
 * import { sleep } from "./sleep.ts";
 * const stop = new AbortController();
 * setTimeout(() => stop.abort(), 10);
 * const slept = await sleep(60_000, stop.signal); // false, after about 10 ms
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const done = (elapsed: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(elapsed);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
