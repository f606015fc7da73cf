/**
 * Process ids of one generated host: one counter that every program's new
 * processes take from, and the long-lived workers Postfix reuses.
 *
 * @module
 */
import type { Dice } from "./dice.ts";

/** The pids of one host. */
export class Pids {
  readonly #dice: Dice;
  readonly #pools = new Map<string, number[]>();
  #next: number;

  /** Starts at `first`. */
  constructor(dice: Dice, first: number) {
    this.#dice = dice;
    this.#next = first;
  }

  /** A new process's pid, wrapping like Linux's. */
  next(): number {
    this.#next += this.#dice.int(1, 40);
    if (this.#next > 4_194_000) this.#next = 300;
    return this.#next;
  }

  /** A worker of a Postfix service: a few per service, reused (one `pickup`). */
  of(service: string): number {
    let pool = this.#pools.get(service);
    if (!pool) {
      pool = Array.from({ length: service === "pickup" ? 1 : 3 }, () => this.next());
      this.#pools.set(service, pool);
    }
    return this.#dice.pick(pool);
  }
}
