/**
 * Exact loss and duplicate accounting from the header's stream index.
 *
 * @module
 */

/** Counters of one `(source, topic)` stream. */
export interface StreamCounters {
  /** Source id as a decimal string (JSON has no 64-bit integers). */
  source: string;
  /** Topic of the stream. */
  topic: string;
  /** Index this receiver expects next. */
  expected: number;
  /** Index of the first event this receiver saw (it joined the stream there). */
  joinedAt: number;
  /** Events delivered. */
  received: number;
  /** Events the index says never arrived. */
  lost: number;
  /** Events that arrived again (replays after a source restart) and were skipped. */
  duplicates: number;
}

/** What to do with one message. */
export interface SequenceVerdict {
  /** How many events at the front of the message are replays to skip. */
  skip: number;
  /** How many events went missing just before this message. */
  lost: number;
}

/** Options of {@linkcode SequenceTracker}. */
export interface SequenceTrackerOptions {
  /** Streams remembered at most; the least recently seen is forgotten first. */
  maxStreams?: number;
}

/**
 * Tracks `(source, topic)` → next expected index. A first index above the
 * expected one means exactly the difference was lost; below it, a replay. A
 * receiver counts from the first message it sees of each stream, so joining late
 * is not loss. Memory is bounded by `maxStreams`.
 *
 * @example
 * ```ts
 * import { SequenceTracker } from "@eventstorm/core";
 * const tracker = new SequenceTracker();
 * tracker.observe(1n, "a", 0, 10); // { skip: 0, lost: 0 }
 * tracker.observe(1n, "a", 15, 5); // { skip: 0, lost: 5 }
 * tracker.observe(1n, "a", 18, 4); // { skip: 2, lost: 0 }
 * ```
 */
export class SequenceTracker {
  readonly #streams = new Map<bigint, Map<string, StreamCounters & { seen: number }>>();
  #size = 0;
  #clock = 0;
  readonly #maxStreams: number;
  /** Total events lost over all streams, including forgotten ones. */
  lost = 0;
  /** Total replayed events skipped over all streams. */
  duplicates = 0;

  /** Creates a tracker. */
  constructor(options: SequenceTrackerOptions = {}) {
    this.#maxStreams = options.maxStreams ?? 65_536;
  }

  /** Accounts one message of `count` events starting at index `first`. */
  observe(source: bigint, topic: string, first: number, count: number): SequenceVerdict {
    let topics = this.#streams.get(source);
    if (topics === undefined) {
      topics = new Map();
      this.#streams.set(source, topics);
    }
    let stream = topics.get(topic);
    if (stream === undefined) {
      if (this.#size >= this.#maxStreams) this.#evict();
      stream = {
        source: source.toString(),
        topic,
        expected: first,
        joinedAt: first,
        received: 0,
        lost: 0,
        duplicates: 0,
        seen: 0,
      };
      topics.set(topic, stream);
      this.#size++;
    }
    stream.seen = ++this.#clock;
    const verdict: SequenceVerdict = { skip: 0, lost: 0 };
    if (first > stream.expected) {
      verdict.lost = first - stream.expected;
    } else if (first < stream.expected) {
      verdict.skip = Math.min(count, stream.expected - first);
    }
    stream.lost += verdict.lost;
    stream.duplicates += verdict.skip;
    stream.received += count - verdict.skip;
    stream.expected = Math.max(stream.expected, first + count);
    this.lost += verdict.lost;
    this.duplicates += verdict.skip;
    return verdict;
  }

  /**
   * Takes back `count` events that {@linkcode observe} counted as received but
   * the receiver could not deliver (undecodable bodies, rejected envelopes):
   * `received` counts delivered events only.
   */
  undelivered(source: bigint, topic: string, count: number): void {
    const stream = this.#streams.get(source)?.get(topic);
    if (stream !== undefined) stream.received = Math.max(0, stream.received - count);
  }

  /** Forgets the least recently seen eighth of the streams (amortised O(1) per stream). */
  #evict(): void {
    const all: { source: bigint; topic: string; seen: number }[] = [];
    for (const [source, topics] of this.#streams) {
      for (const [topic, stream] of topics) all.push({ source, topic, seen: stream.seen });
    }
    all.sort((a, b) => a.seen - b.seen);
    for (const { source, topic } of all.slice(0, Math.max(1, all.length >> 3))) {
      const topics = this.#streams.get(source)!;
      topics.delete(topic);
      if (topics.size === 0) this.#streams.delete(source);
      this.#size--;
    }
  }

  /** A snapshot of every remembered stream. */
  streams(): StreamCounters[] {
    const result: StreamCounters[] = [];
    for (const topics of this.#streams.values()) {
      for (const { seen: _, ...stream } of topics.values()) result.push(stream);
    }
    return result;
  }

  /** Number of streams remembered now. */
  get size(): number {
    return this.#size;
  }
}
