/**
 * Fair turns for the event loop. A loop that only awaits promises that are
 * already resolved (a socket with data waiting, a synchronous database write)
 * runs in the microtask queue, where timers and signal handlers never get a
 * turn: under input that never pauses, stats lines and SIGTERM would wait until
 * it does. Such loops ask a {@linkcode Turns} now and then and step out.
 *
 * @module
 */
import { setImmediate } from "node:timers";

/**
 * Says when a busy loop has kept the event loop for `intervalMs` and lets
 * timers and signals run once.
 *
 * @example
 * ```ts
 * import { Turns } from "./turns.ts";
 * const turns = new Turns();
 * for (let i = 0; i < 1_000_000; i++) {
 *   if (turns.due()) await turns.give();
 * }
 * ```
 */
export class Turns {
  readonly #intervalMs: number;
  readonly #mask: number;
  #calls = 0;
  #since = performance.now();

  /**
   * Creates a keeper that gives a turn after `intervalMs` of busy work. It reads
   * the clock every `clockEvery` calls of {@linkcode Turns.due} (a power of two):
   * 64 suits a loop of microsecond steps, 1 a loop of millisecond steps.
   */
  constructor(options: { intervalMs?: number; clockEvery?: number } = {}) {
    this.#intervalMs = options.intervalMs ?? 20;
    this.#mask = (options.clockEvery ?? 64) - 1;
  }

  /** Whether the loop has been busy long enough. */
  due(): boolean {
    return (++this.#calls & this.#mask) === 0 &&
      performance.now() - this.#since > this.#intervalMs;
  }

  /** Notes that the loop just waited for real (a poll, a timer): the busy stretch starts over. */
  waited(): void {
    this.#since = performance.now();
  }

  /** Lets every due timer and signal handler run, then resumes. */
  async give(): Promise<void> {
    await nextTurn();
    this.#since = performance.now();
  }
}

/**
 * Resolves after one turn of the event loop: due timers, signals and other
 * threads' answers (a Worker's message) run first. It costs microseconds; a zero
 * timer waits for the timer wheel's next tick (about 2 ms here). A message to a
 * MessageChannel port would not do: a stats timer behind it fired 0.6 s late on
 * a loaded machine (tests/busy_input_test.ts).
 *
 * @example
 * ```ts
 * import { nextTurn } from "./turns.ts";
 * await nextTurn();
 * ```
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
