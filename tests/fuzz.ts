/**
 * Mutated and random log lines for the parsers' fuzz tests, and the check every
 * event a parser returns must pass. Seeded: FUZZ_SEED replays a run, FUZZ_ITERATIONS
 * makes it longer; a failure names both.
 *
 * @module
 */
import assert from "node:assert/strict";
import { envelopeProblem, type Event } from "@eventstorm/core";
import { encodeBatch } from "@eventstorm/core/protocol";
import { mulberry32 } from "@eventstorm/core/internal";

/** The run's seed: FUZZ_SEED, else one from the clock (printed on failure). */
export const FUZZ_SEED = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 2 ** 31);
/** Lines per test: FUZZ_ITERATIONS, else 20,000. */
export const FUZZ_ITERATIONS = Number(Deno.env.get("FUZZ_ITERATIONS") ?? 20_000);

// What log lines are made of and what parsers split on, plus characters they should
// never meet: controls, a lone surrogate, a line separator, non-ASCII.
const PIECES = [
  ..."<>[](){}\"'\\/:;=,.-+_ 0123456789TZaz\t",
  "\u0000",
  "\u001b",
  "\u00e9",
  "\u2028",
  "\ud800",
  "\ufffd",
  "-",
  '"-"',
  "999999999999999999999",
  "-1",
  "1e309",
  "NaN",
  "[",
  "]: ",
  "=<",
  ">, ",
  "Dec 31 23:59:60 ",
  "2026-02-30T25:61:61.999999+14:00 ",
];

/** Random mutations of real lines, and lines of random pieces. */
export class LineFuzzer {
  readonly #random: () => number;

  /** A fuzzer drawing from `seed`. */
  constructor(seed: number) {
    this.#random = mulberry32(seed);
  }

  /** A whole number in `[0, below)`. */
  int(below: number): number {
    return Math.floor(this.#random() * below);
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `line` with one to four cuts, insertions, replacements or repeats. */
  mutate(line: string): string {
    let out = line;
    for (let n = 1 + this.int(4); n > 0; n--) {
      const at = this.int(out.length + 1);
      const to = Math.min(out.length, at + 1 + this.int(12));
      switch (this.int(5)) {
        case 0:
          out = out.slice(0, at) + out.slice(to);
          break;
        case 1:
          out = out.slice(0, at) + this.pick(PIECES) + out.slice(at);
          break;
        case 2:
          out = out.slice(0, at) + this.pick(PIECES) + out.slice(to);
          break;
        case 3:
          out = out.slice(0, at) + out.slice(at, to).repeat(2 + this.int(200)) + out.slice(to);
          break;
        default:
          out = out.slice(0, at) + out.slice(this.int(out.length + 1));
      }
    }
    return out;
  }

  /** A line of random pieces, up to `maxPieces` of them. */
  randomLine(maxPieces = 60): string {
    return Array.from({ length: this.int(maxPieces) }, () => this.pick(PIECES)).join("");
  }

  /** Mostly mutations of `samples`, sometimes random lines, sometimes a sample as it is. */
  line(samples: readonly string[]): string {
    const roll = this.int(10);
    if (roll === 0) return this.randomLine();
    if (roll === 1) return this.pick(samples);
    return this.mutate(this.pick(samples));
  }
}

/**
 * Fails unless every event has a valid envelope and encodes as BSON: what a parser
 * makes of any line must be something the emitter can send, never a throw later.
 */
export function assertSendable(events: readonly Event[], line: string): void {
  for (const event of events) {
    const problem = envelopeProblem(event as unknown as Record<string, unknown>);
    assert.equal(problem, undefined, `${problem} (seed ${FUZZ_SEED}) from ${JSON.stringify(line)}`);
    assert.doesNotThrow(() => encodeBatch([event]), `seed ${FUZZ_SEED}: ${JSON.stringify(line)}`);
  }
}

/** Runs `body`, adding the seed to whatever it throws, so the run can be replayed. */
export function withSeed(body: () => void): void;
/** The same for an async `body`. */
export function withSeed(body: () => Promise<void>): Promise<void>;
export function withSeed(body: () => void | Promise<void>): void | Promise<void> {
  const named = (error: unknown): never => {
    if (error instanceof Error) error.message += ` (FUZZ_SEED=${FUZZ_SEED} replays the run)`;
    throw error;
  };
  try {
    const result = body();
    return result instanceof Promise ? result.catch(named) : undefined;
  } catch (error) {
    named(error);
  }
}

/**
 * Feeds `parse` FUZZ_ITERATIONS lines made from `samples` (see {@linkcode LineFuzzer.line})
 * and checks that what it returns is sendable.
 */
export function fuzzParser(
  samples: readonly string[],
  parse: (line: string) => Event[] | undefined,
): void {
  const fuzzer = new LineFuzzer(FUZZ_SEED);
  withSeed(() => {
    for (let i = 0; i < FUZZ_ITERATIONS; i++) {
      const line = fuzzer.line(samples);
      assertSendable(parse(line) ?? [], line);
    }
  });
}
