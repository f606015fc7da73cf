/**
 * The one random sequence of a log generator, and the draws its lines are made
 * of. Every part of the generator draws from the same dice, so equal seeds give
 * equal logs across all three files.
 *
 * @module
 */
import { mulberry32 } from "@eventstorm/core/internal";

/** Seeded draws: numbers, picks, weighted choices, addresses, ids. */
export class Dice {
  readonly random: () => number;

  /** Dice for `seed`. */
  constructor(seed: number) {
    this.random = mulberry32(seed);
  }

  /** A whole number in `[min, max]`. */
  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  /** One of `items`, each as likely. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  /** One of `choices`, as likely as its weight. */
  weighted<T>(choices: [T, number][]): T {
    const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
    let r = this.random() * total;
    for (const [value, weight] of choices) {
      r -= weight;
      if (r < 0) return value;
    }
    return choices[choices.length - 1][0];
  }

  /** A standard normal draw (Box-Muller): latencies are roughly log-normal. */
  gaussian(): number {
    const u = 1 - this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }

  /** `length` upper-case hex digits. */
  hex(length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += "0123456789ABCDEF"[Math.floor(this.random() * 16)];
    return out;
  }

  /** `length` base64 characters. */
  base64(length: number): string {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let out = "";
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.random() * 64)];
    return out;
  }

  /** A public-looking IPv4 address. */
  ipv4(): string {
    for (;;) {
      const a = this.int(1, 223);
      // Skip private, loopback, link-local, CGNAT and documentation ranges.
      if ([10, 100, 127, 169, 172, 192, 198, 203].includes(a)) continue;
      return `${a}.${this.int(0, 255)}.${this.int(0, 255)}.${this.int(1, 254)}`;
    }
  }

  /** A provider-looking IPv6 address. */
  ipv6(): string {
    const prefix = this.pick(["2a01", "2a02", "2001:41d0", "2600:1f18", "2607:f8b0", "2a03:2880"]);
    const groups = Array.from({ length: 3 }, () => this.int(0, 0xffff).toString(16));
    return `${prefix}:${groups.join(":")}::${this.int(1, 0xffff).toString(16)}`;
  }
}
