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
  /**
   * Set when the message must be dropped whole, as malformed, without touching
   * the stream: `index` for a jump no real sender can make, `owner` for a
   * message claiming a stream another peer owns.
   */
  refused?: "index" | "owner";
}

/**
 * Largest forward jump of a stream's index accepted at once, whatever the time
 * since its previous message: every queue between a sender and a receiver
 * (sender, router in and out, receiver: 1,000 messages each by default) full of
 * the largest batches an emitter sends, with room to spare.
 *
 * @example
 * ```ts
 * import { MAX_INDEX_JUMP } from "@eventstorm/core/protocol";
 * MAX_INDEX_JUMP; // 16777216
 * ```
 */
export const MAX_INDEX_JUMP = 2 ** 24;
/**
 * Events per second one stream can lose at most while its receiver hears nothing
 * of it: far beyond any sender (a whole router moves about 3 million a second),
 * yet it keeps a forged index from inflating the loss counters to 2^53.
 *
 * @example
 * ```ts
 * import { MAX_INDEX_RATE } from "@eventstorm/core/protocol";
 * MAX_INDEX_RATE; // 16777216
 * ```
 */
export const MAX_INDEX_RATE = 2 ** 24;
/**
 * How long a source's owner keeps it while it sends nothing: after that another
 * peer may take the stream over (a source moved to another host).
 *
 * @example
 * ```ts
 * import { OWNER_IDLE_MS } from "@eventstorm/core/protocol";
 * OWNER_IDLE_MS; // 600000
 * ```
 */
export const OWNER_IDLE_MS = 10 * 60_000;

/** Options of {@linkcode SequenceTracker}. */
export interface SequenceTrackerOptions {
  /** Streams remembered at most; the least recently seen is forgotten first. */
  maxStreams?: number;
  /** Milliseconds now; `Date.now` by default (tests move time by hand). */
  clock?: () => number;
}

interface Stream extends StreamCounters {
  seen: number;
  /** Clock time of the stream's last accepted message. */
  at: number;
}

interface SourceEntry {
  topics: Map<string, Stream>;
  /** The peer that owns this source id (its CURVE key or address), if known. */
  owner: string | undefined;
  /** Clock time of the owner's last message. */
  ownerAt: number;
}

/**
 * Tracks `(source, topic)` → next expected index. A first index above the
 * expected one means exactly the difference was lost; below it, a replay. A
 * receiver counts from the first message it sees of each stream, so joining late
 * is not loss. Memory is bounded by `maxStreams`.
 *
 * Two checks keep a hostile peer from silencing or poisoning another's stream
 * (docs/security-notes.md): a jump beyond {@linkcode MAX_INDEX_JUMP} plus
 * {@linkcode MAX_INDEX_RATE} per second since the stream's previous message is
 * refused as `index`; and when the caller names the peer a message came from
 * (`owner`), a source id belongs to the first peer that used it, and messages
 * from any other peer are refused as `owner` (the owner itself, restarted, keeps
 * its claim; an owner silent for {@linkcode OWNER_IDLE_MS} loses it).
 *
 * @example
 * ```ts
 * import { SequenceTracker } from "@eventstorm/core/protocol";
 * const tracker = new SequenceTracker();
 * tracker.observe(1n, "a", 0, 10); // { skip: 0, lost: 0 }
 * tracker.observe(1n, "a", 15, 5); // { skip: 0, lost: 5 }
 * tracker.observe(1n, "a", 18, 4); // { skip: 2, lost: 0 }
 * ```
 */
export class SequenceTracker {
  readonly #streams = new Map<bigint, SourceEntry>();
  #size = 0;
  #clock = 0;
  readonly #maxStreams: number;
  readonly #now: () => number;
  /** Total events lost over all streams, including forgotten ones. */
  lost = 0;
  /** Total replayed events skipped over all streams. */
  duplicates = 0;

  /** Creates a tracker. */
  constructor(options: SequenceTrackerOptions = {}) {
    this.#maxStreams = options.maxStreams ?? 65_536;
    this.#now = options.clock ?? Date.now;
  }

  /**
   * Accounts one message of `count` events starting at index `first`, sent by
   * the peer `owner` when the receiver knows it.
   */
  observe(
    source: bigint,
    topic: string,
    first: number,
    count: number,
    owner?: string,
  ): SequenceVerdict {
    const now = this.#now();
    let entry = this.#streams.get(source);
    if (entry === undefined) {
      entry = { topics: new Map(), owner, ownerAt: now };
      this.#streams.set(source, entry);
    } else if (owner !== entry.owner && owner !== undefined) {
      if (entry.owner !== undefined && now - entry.ownerAt < OWNER_IDLE_MS) {
        return { skip: 0, lost: 0, refused: "owner" };
      }
      entry.owner = owner;
    }
    entry.ownerAt = now;
    let stream = entry.topics.get(topic);
    if (stream === undefined) {
      // An announcement of a stream never seen tells nothing to account, and
      // joining there would make this receiver skip, as replays, events it never
      // had (a source replaying from its checkpoint to a sink that just started).
      if (count === 0) return { skip: 0, lost: 0 };
      if (this.#size >= this.#maxStreams) {
        this.#evict();
        // Eviction may have forgotten this very source.
        if (!this.#streams.has(source)) this.#streams.set(source, entry);
      }
      stream = {
        source: source.toString(),
        topic,
        expected: first,
        joinedAt: first,
        received: 0,
        lost: 0,
        duplicates: 0,
        seen: 0,
        at: now,
      };
      entry.topics.set(topic, stream);
      this.#size++;
    }
    const verdict: SequenceVerdict = { skip: 0, lost: 0 };
    if (first > stream.expected) {
      const jump = first - stream.expected;
      if (
        jump > MAX_INDEX_JUMP && jump > MAX_INDEX_JUMP + MAX_INDEX_RATE * (now - stream.at) / 1000
      ) {
        return { skip: 0, lost: 0, refused: "index" };
      }
      verdict.lost = jump;
    } else if (first < stream.expected) {
      verdict.skip = Math.min(count, stream.expected - first);
    }
    stream.seen = ++this.#clock;
    stream.at = now;
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
    const stream = this.#streams.get(source)?.topics.get(topic);
    if (stream !== undefined) stream.received = Math.max(0, stream.received - count);
  }

  /** Forgets the least recently seen eighth of the streams (amortised O(1) per stream). */
  #evict(): void {
    const all: { source: bigint; topic: string; seen: number }[] = [];
    for (const [source, { topics }] of this.#streams) {
      for (const [topic, stream] of topics) all.push({ source, topic, seen: stream.seen });
    }
    all.sort((a, b) => a.seen - b.seen);
    for (const { source, topic } of all.slice(0, Math.max(1, all.length >> 3))) {
      const { topics } = this.#streams.get(source)!;
      topics.delete(topic);
      if (topics.size === 0) this.#streams.delete(source);
      this.#size--;
    }
  }

  /**
   * Calls `fn` for each stream whose last accepted message is at least `idleMs`
   * and at most `withinMs` old, with the index it expects next.
   */
  forEachIdle(
    idleMs: number,
    withinMs: number,
    fn: (source: bigint, topic: string, expected: number) => void,
  ): void {
    const now = this.#now();
    for (const [source, { topics }] of this.#streams) {
      for (const [topic, stream] of topics) {
        const age = now - stream.at;
        if (age >= idleMs && age <= withinMs) fn(source, topic, stream.expected);
      }
    }
  }

  /** A snapshot of every remembered stream. */
  streams(): StreamCounters[] {
    const result: StreamCounters[] = [];
    for (const { topics } of this.#streams.values()) {
      for (const { seen: _, at: _at, ...stream } of topics.values()) result.push(stream);
    }
    return result;
  }

  /** Number of streams remembered now. */
  get size(): number {
    return this.#size;
  }
}
