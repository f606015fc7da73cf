/**
 * The bookkeeping of a sink backend that saves stream positions beside a
 * database that overwrites or accepts rows silently (docs/stored.md, "Stream
 * positions"): `next` saved after a batch's rows, `upto` claimed before them, and
 * the range a crash left in doubt.
 *
 * @module
 */
import type { StreamPosition } from "./sequence.ts";
import { parseEventId } from "./event_ids.ts";
import { sameRanges } from "./ranges.ts";

/**
 * The gaps of a saved position (see `StreamPosition.gaps`) from what a backend
 * stored: flat `[from, to)` pairs as an array or its JSON text. Anything that is
 * not such pairs (a row saved before gaps were, a damaged one) is no gaps, and
 * a bad pair is left out.
 *
 * @example
 * ```ts
 * import { gapsOf } from "@eventstorm/core/sink";
 * gapsOf("[10,20,30,35]"); // [10, 20, 30, 35]
 * gapsOf(null); // []
 * ```
 */
export function gapsOf(stored: unknown): number[] {
  let value = stored;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return [];
    }
  }
  if (!Array.isArray(value)) return [];
  const gaps: number[] = [];
  for (let i = 0; i + 1 < value.length; i += 2) {
    // Database integers may come as driver objects (Cassandra's Long): read their text.
    const from = Number(String(value[i])), to = Number(String(value[i + 1]));
    if (Number.isSafeInteger(from) && Number.isSafeInteger(to) && 0 <= from && from < to) {
      gaps.push(from, to);
    }
  }
  return gaps;
}

/** A saved stream position, as a backend writes it: `source` in lower-case hex. */
export interface SavedStream {
  /** `<source hex>-<topic>`. */
  key: string;
  /** The source id, lower-case hexadecimal. */
  source: string;
  /** The topic. */
  topic: string;
  /** Index after the last event stored (or, for a claim, the new `upto`). */
  value: number;
  /** When the position was taken, ms since the epoch. */
  at: number;
  /**
   * With a `next`: the stream's gaps to save with it (see `StreamPosition.gaps`),
   * replacing those saved before; absent or empty for none.
   */
  gaps?: number[];
}

/**
 * Per stream: `next` (every event below it is stored) and `upto` (none at or
 * above it is), as saved. Between them, after a crash, an event may or may not
 * be stored: {@linkcode SavedPositions.inDoubt} says which replayed events to look
 * up before storing them.
 *
 * @example
 * ```ts
 * import { SavedPositions } from "@eventstorm/core/sink";
 * const saved = new SavedPositions(100);
 * saved.load({ source: "ff", topic: "a", next: 5, upto: 105, at: 0 });
 * saved.inDoubt("ff-a-7"); // true
 * saved.claims([{ source: 255n, topic: "a", next: 200, at: 0 }])[0].value; // 300
 * ```
 */
export class SavedPositions {
  readonly #slack: number;
  readonly #saved = new Map<string, { next: number; upto: number; gaps?: number[] }>();
  readonly #unsure = new Map<string, { next: number; upto: number }>();

  /** `slack`: how far past a batch `upto` is claimed, so that it is saved only now and then. */
  constructor(slack: number) {
    this.#slack = slack;
  }

  /**
   * Takes one saved row (`upto` absent: none claimed); returns its position, or
   * undefined for a row that is not one.
   */
  load(
    row: {
      source?: unknown;
      topic?: unknown;
      next?: unknown;
      upto?: unknown;
      at?: unknown;
      gaps?: unknown;
    },
  ): StreamPosition | undefined {
    // Database integers may come as driver objects (Cassandra's Long): read their text.
    const next = Number(String(row.next ?? 0));
    const upto = row.upto === undefined || row.upto === null ? next : Number(String(row.upto));
    const { source, topic } = row;
    if (typeof source !== "string" || !/^[0-9a-f]{1,16}$/.test(source)) return undefined;
    if (typeof topic !== "string" || !Number.isSafeInteger(next) || next < 0) return undefined;
    if (!Number.isSafeInteger(upto)) return undefined;
    const key = `${source}-${topic}`;
    // A row saved before gaps were (no field) has none.
    const gaps = gapsOf(row.gaps);
    this.#saved.set(key, gaps.length > 0 ? { next, upto, gaps } : { next, upto });
    if (upto > next) this.#unsure.set(key, { next, upto });
    const at = row.at instanceof Date ? row.at.getTime() : Date.now();
    const position: StreamPosition = { source: BigInt(`0x${source}`), topic, next, at };
    if (gaps.length > 0) position.gaps = gaps;
    return position;
  }

  /** The `upto` values to save before a batch's rows: streams it takes past their claim. */
  claims(positions: readonly StreamPosition[]): SavedStream[] {
    const result: SavedStream[] = [];
    for (const { source, topic, next, at } of positions) {
      const hex = source.toString(16);
      const key = `${hex}-${topic}`;
      if (next <= (this.#saved.get(key)?.upto ?? 0)) continue;
      result.push({ key, source: hex, topic, value: next + this.#slack, at });
    }
    return result;
  }

  /** Notes a claim saved. */
  claimed({ key, value }: SavedStream): void {
    const saved = this.#saved.get(key);
    if (saved === undefined) this.#saved.set(key, { next: 0, upto: value });
    else saved.upto = Math.max(saved.upto, value);
  }

  /**
   * The `next` values to save after a batch's rows, with the gaps: streams it
   * moves forward or whose gaps it changes (a batch that fills an older gap never
   * moves `next` back: `value` is never below the saved one).
   */
  advances(positions: readonly StreamPosition[]): SavedStream[] {
    const result: SavedStream[] = [];
    for (const { source, topic, next, at, gaps } of positions) {
      const hex = source.toString(16);
      const key = `${hex}-${topic}`;
      const saved = this.#saved.get(key);
      const savedNext = saved?.next ?? 0;
      if (next <= savedNext && sameRanges(saved?.gaps ?? [], gaps ?? [])) continue;
      const stream: SavedStream = { key, source: hex, topic, value: Math.max(next, savedNext), at };
      if (gaps !== undefined && gaps.length > 0) stream.gaps = [...gaps];
      result.push(stream);
    }
    return result;
  }

  /** Notes a position saved. */
  advanced({ key, value, gaps }: SavedStream): void {
    const saved = this.#saved.get(key);
    const open = gaps !== undefined && gaps.length > 0 ? gaps : undefined;
    if (saved === undefined) this.#saved.set(key, { next: value, upto: value, gaps: open });
    else {
      saved.next = Math.max(saved.next, value);
      saved.gaps = open;
    }
  }

  /** Whether the stream `<source hex>-<topic>` has gaps saved now. */
  hasGaps(key: string): boolean {
    return (this.#saved.get(key)?.gaps?.length ?? 0) > 0;
  }

  /** Whether the event with this `_id` falls where a crash left doubt (read at start). */
  inDoubt(id: unknown): boolean {
    if (this.#unsure.size === 0) return false;
    const parsed = parseEventId(id);
    if (parsed === undefined) return false;
    const window = this.#unsure.get(`${parsed.source.toString(16)}-${parsed.topic}`);
    return window !== undefined && parsed.index >= window.next && parsed.index < window.upto;
  }

  /**
   * The ranges a crash left in doubt, read at start: per stream, `[next, upto)`,
   * where a backend looks up which events are stored after all (their indexes go
   * into the position's `present`, so that a later jump does not count them lost).
   */
  doubts(): { key: string; source: string; topic: string; next: number; upto: number }[] {
    return [...this.#unsure].map(([key, { next, upto }]) => {
      const dash = key.indexOf("-");
      return { key, source: key.slice(0, dash), topic: key.slice(dash + 1), next, upto };
    });
  }

  /** Streams whose claim is ahead of their position: a clean stop sets `upto` back to `next`. */
  ahead(): SavedStream[] {
    const result: SavedStream[] = [];
    for (const [key, { next, upto }] of this.#saved) {
      if (upto <= next) continue;
      const dash = key.indexOf("-");
      result.push({
        key,
        source: key.slice(0, dash),
        topic: key.slice(dash + 1),
        value: next,
        at: Date.now(),
      });
    }
    return result;
  }
}
