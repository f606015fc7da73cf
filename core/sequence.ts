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

/**
 * Where a durable receiver stands in one stream: every event below `next` is
 * stored (or was counted as dropped or lost), none at or above it is known
 * there. Sinks save it with what they store and resume from it (see
 * {@linkcode SequenceTracker.resume}).
 *
 * @example
 * ```ts
 * import type { StreamPosition } from "@eventstorm/core/sink";
 * const position: StreamPosition = { source: 0xfeedn, topic: "http.hit", next: 42, at: Date.now() };
 * ```
 */
export interface StreamPosition {
  /** The stream's source id. */
  source: bigint;
  /** The stream's topic. */
  topic: string;
  /** Index of the next event not yet stored. */
  next: number;
  /** When the position was saved, ms since the epoch. */
  at: number;
  /**
   * Indexes at or above `next` whose events are stored all the same: a crash
   * between storing a batch and saving its position leaves them, and the backend
   * found them when it looked. A later jump over them does not count them lost.
   */
  present?: readonly number[];
  /**
   * Ranges below `next` whose events are neither stored nor counted (lost or
   * dropped), as flat `[from, to)` pairs in index order: gaps a receiver of
   * several paths still held open for a late copy (protocol.md 5.2), and late
   * copies it took in but had not stored yet. {@linkcode SequenceTracker.resume}
   * opens them again. Absent or empty: none.
   */
  gaps?: readonly number[];
}

/** What to do with one message. */
export interface SequenceVerdict {
  /** How many events of the message are replays to skip (at its front unless `keep` is set). */
  skip: number;
  /**
   * Set only when the events to deliver are not simply those after `skip`: the
   * `[from, to)` offsets within the message to deliver, as flat pairs, in order.
   * This happens when a message fills gaps left by another path (see
   * `gapHoldMs`).
   */
  keep?: number[];
  /**
   * How many of the events delivered (the first ones, in delivery order) fill
   * open gaps, below the index expected before this message; absent for none.
   * A delivered piece (see `keep`) is either all of them or none.
   */
  filled?: number;
  /**
   * How many events went missing just before this message (always 0 when gaps
   * are held: their loss is counted when they expire, in `lost`).
   */
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
/**
 * How long a receiver of redundant paths (one source through two routers) waits
 * for a gap in a stream to be filled by the other path before counting it lost.
 *
 * @example
 * ```ts
 * import { GAP_HOLD_MS } from "@eventstorm/core/protocol";
 * GAP_HOLD_MS; // 10000
 * ```
 */
export const GAP_HOLD_MS = 10_000;
/**
 * Gaps a stream keeps waiting to be filled at most; past it the oldest is
 * counted lost at once, so that memory stays bounded whatever the peers send.
 *
 * @example
 * ```ts
 * import { MAX_GAPS } from "@eventstorm/core/protocol";
 * MAX_GAPS; // 256
 * ```
 */
export const MAX_GAPS = 256;

/** Options of {@linkcode SequenceTracker}. */
export interface SequenceTrackerOptions {
  /** Streams remembered at most; the least recently seen is forgotten first. */
  maxStreams?: number;
  /** Milliseconds now; `Date.now` by default (tests move time by hand). */
  clock?: () => number;
  /**
   * Milliseconds a gap waits to be filled by a later message before it counts as
   * lost: set it (e.g. to {@linkcode GAP_HOLD_MS}) when the same streams arrive
   * by several paths, so that events one path is late with are delivered rather
   * than skipped as replays. 0 (the default) counts a gap lost at once and skips
   * anything below the expected index as a replay.
   */
  gapHoldMs?: number;
  /**
   * Milliseconds by which gaps wait out their hold; `clock` by default. A receiver
   * that stops reading for a while (a sink blocked on a full buffer) stops it: the
   * late copies queued meanwhile are not late, its reading is.
   */
  gapClock?: () => number;
  /**
   * Told of each gap range `[from, to)` as it is counted lost (its hold ran out,
   * too many gaps, the stream forgotten, or {@linkcode SequenceTracker.closeGaps};
   * with no hold, an index jump at once), before the count moves: a durable
   * receiver holds the count back until it has saved a position that neither
   * holds the range open nor stands below it (see `SinkRunner`).
   */
  onGapLost?: (source: bigint, topic: string, from: number, to: number) => void;
}

interface Stream extends StreamCounters {
  seen: number;
  /** Clock time of the stream's last accepted message. */
  at: number;
  /**
   * Gaps below `expected` still waiting to be filled, as flat `[from, to, at]`
   * triples (`at`: when it opened), in index order; undefined when none.
   */
  gaps: number[] | undefined;
  /** Indexes at or above `expected` already stored (a resumed stream's), ascending. */
  present: number[] | undefined;
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
 * With `gapHoldMs`, a gap waits that long (and among at most {@linkcode MAX_GAPS}
 * per stream) for a message that fills it, whose events in the gap are then
 * delivered, late and out of index order; a gap still open then counts as lost,
 * once. Reading {@linkcode SequenceTracker.lost} or {@linkcode SequenceTracker.streams}
 * counts the gaps that expired.
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
  readonly #gapNow: () => number;
  readonly #gapHoldMs: number;
  readonly #onGapLost: SequenceTrackerOptions["onGapLost"];
  /** Streams with open gaps. */
  readonly #gapped = new Set<Stream>();
  #lost = 0;
  /** Total replayed events skipped over all streams. */
  duplicates = 0;

  /** Creates a tracker. */
  constructor(options: SequenceTrackerOptions = {}) {
    this.#maxStreams = options.maxStreams ?? 65_536;
    this.#now = options.clock ?? Date.now;
    this.#gapNow = options.gapClock ?? this.#now;
    this.#gapHoldMs = options.gapHoldMs ?? 0;
    this.#onGapLost = options.onGapLost;
  }

  /** Total events lost over all streams, including forgotten ones and expired gaps. */
  get lost(): number {
    if (this.#gapped.size > 0) this.#expireAll(this.#gapNow());
    return this.#lost;
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
        gaps: undefined,
        present: undefined,
      };
      entry.topics.set(topic, stream);
      this.#size++;
    }
    // Gaps past the hold are lost before this message is looked at: a copy later than the
    // hold is a duplicate whether or not anyone read `lost` in between.
    if (stream.gaps !== undefined) this.#expire(stream, this.#gapNow());
    const verdict: SequenceVerdict = { skip: 0, lost: 0 };
    if (first > stream.expected) {
      const jump = first - stream.expected;
      if (
        jump > MAX_INDEX_JUMP && jump > MAX_INDEX_JUMP + MAX_INDEX_RATE * (now - stream.at) / 1000
      ) {
        return { skip: 0, lost: 0, refused: "index" };
      }
      for (const [from, to] of this.#missing(stream, first)) {
        if (this.#gapHoldMs > 0) this.#openGap(stream, from, to, this.#gapNow());
        else {
          this.#onGapLost?.(source, topic, from, to);
          verdict.lost += to - from;
        }
      }
    } else if (first < stream.expected) {
      if (stream.gaps === undefined) verdict.skip = Math.min(count, stream.expected - first);
      else this.#fill(stream, first, count, verdict);
    }
    stream.seen = ++this.#clock;
    stream.at = now;
    stream.lost += verdict.lost;
    stream.duplicates += verdict.skip;
    stream.received += count - verdict.skip;
    stream.expected = Math.max(stream.expected, first + count);
    if (stream.present !== undefined) this.#forgetPresent(stream);
    this.#lost += verdict.lost;
    this.duplicates += verdict.skip;
    return verdict;
  }

  /**
   * Resumes a stream at `expected`, the position a durable receiver saved before
   * it stopped (docs/protocol.md, 5.3): later messages are accounted as if it had
   * never stopped (below it duplicates, a jump above it lost). `at` is when the
   * position was saved: the bound on index jumps counts from then. A stream
   * already remembered only moves forward.
   *
   * `gaps` (flat `[from, to)` pairs below `expected`, see
   * {@linkcode StreamPosition.gaps}) are opened again, their hold restarting
   * now: the late copies they wait for come from a path that is still behind,
   * and what it held while the receiver was down reaches it only after the
   * restart. Without a hold (`gapHoldMs` 0) they are lost at the next count.
   */
  resume(
    source: bigint,
    topic: string,
    expected: number,
    at: number = this.#now(),
    present: readonly number[] = [],
    gaps: readonly number[] = [],
  ): void {
    if (!(expected >= 0 && expected < 2 ** 53)) return;
    const above = [...new Set(present.filter((n) => Number.isSafeInteger(n) && n >= expected))]
      .sort((a, b) => a - b);
    let entry = this.#streams.get(source);
    const stream = entry?.topics.get(topic);
    if (stream !== undefined) {
      stream.expected = Math.max(stream.expected, expected);
      return;
    }
    if (this.#size >= this.#maxStreams) return;
    if (entry === undefined) {
      entry = { topics: new Map(), owner: undefined, ownerAt: at };
      this.#streams.set(source, entry);
    }
    entry.topics.set(topic, {
      source: source.toString(),
      topic,
      expected,
      joinedAt: expected,
      received: 0,
      lost: 0,
      duplicates: 0,
      seen: ++this.#clock,
      at: Math.min(at, this.#now()),
      gaps: undefined,
      present: above.length > 0 ? above : undefined,
    });
    this.#size++;
    const open = normalRanges(gaps, expected);
    if (open.length === 0) return;
    const resumed = entry.topics.get(topic)!;
    const now = this.#gapNow();
    const triples: number[] = [];
    for (let i = 0; i < open.length; i += 2) triples.push(open[i], open[i + 1], now);
    resumed.gaps = triples;
    this.#gapped.add(resumed);
    // Saved by this code, never more than the bound; a hand-edited row could be.
    if (triples.length > MAX_GAPS * 3) {
      this.#countLost(resumed, triples.splice(0, triples.length - MAX_GAPS * 3));
    }
  }

  /**
   * The gaps of a stream still open (those past the hold are counted lost
   * first), as flat `[from, to)` pairs in index order; empty for none.
   */
  gapsOf(source: bigint, topic: string): number[] {
    const stream = this.#streams.get(source)?.topics.get(topic);
    if (stream?.gaps === undefined) return [];
    this.#expire(stream, this.#gapNow());
    const gaps = stream.gaps;
    if (gaps === undefined) return [];
    const pairs: number[] = [];
    for (let i = 0; i < gaps.length; i += 3) pairs.push(gaps[i], gaps[i + 1]);
    return pairs;
  }

  /**
   * The ranges of `[expected, first)` a jump to `first` leaves missing: all of it
   * but the indexes known present, which it then forgets.
   */
  #missing(stream: Stream, first: number): [number, number][] {
    const present = stream.present;
    if (present === undefined) return [[stream.expected, first]];
    const ranges: [number, number][] = [];
    let from = stream.expected;
    let i = 0;
    for (; i < present.length && present[i] < first; i++) {
      if (present[i] > from) ranges.push([from, present[i]]);
      from = Math.max(from, present[i] + 1);
    }
    if (from < first) ranges.push([from, first]);
    stream.present = i < present.length ? present.slice(i) : undefined;
    return ranges;
  }

  /** Drops the present indexes the stream has moved past. */
  #forgetPresent(stream: Stream): void {
    const present = stream.present!;
    let i = 0;
    while (i < present.length && present[i] < stream.expected) i++;
    if (i > 0) stream.present = i < present.length ? present.slice(i) : undefined;
  }

  #openGap(stream: Stream, from: number, to: number, now: number): void {
    const gaps = stream.gaps ??= [];
    gaps.push(from, to, now);
    this.#gapped.add(stream);
    if (gaps.length > MAX_GAPS * 3) this.#countLost(stream, gaps.splice(0, 3));
  }

  /**
   * Accounts a message starting below `expected` on a stream with open gaps: its
   * events inside a gap (or from `expected` on) are delivered and close that part
   * of the gap, the others are replays.
   */
  #fill(stream: Stream, first: number, count: number, verdict: SequenceVerdict): void {
    const end = first + count;
    const gaps = stream.gaps!;
    const keep: number[] = [];
    const left: number[] = [];
    for (let i = 0; i < gaps.length; i += 3) {
      const from = gaps[i], to = gaps[i + 1];
      const a = Math.max(from, first), b = Math.min(to, end);
      if (a >= b) {
        left.push(from, to, gaps[i + 2]);
        continue;
      }
      keep.push(a - first, b - first);
      if (from < a) left.push(from, a, gaps[i + 2]);
      if (b < to) left.push(b, to, gaps[i + 2]);
    }
    let filled = 0;
    for (let i = 0; i < keep.length; i += 2) filled += keep[i + 1] - keep[i];
    if (filled > 0) {
      verdict.filled = filled;
    }
    if (end > stream.expected) keep.push(stream.expected - first, count);
    let kept = 0;
    for (let i = 0; i < keep.length; i += 2) kept += keep[i + 1] - keep[i];
    verdict.skip = count - kept;
    if (kept > 0 && !(keep.length === 2 && keep[1] === count)) verdict.keep = keep;
    // A message inside a gap splits it in two: one event at a time, a peer would otherwise
    // grow the list without end. Past the bound the oldest is lost, as when one opens.
    if (left.length > MAX_GAPS * 3) {
      this.#countLost(stream, left.splice(0, left.length - MAX_GAPS * 3));
    }
    this.#setGaps(stream, left);
  }

  #setGaps(stream: Stream, gaps: number[]): void {
    if (gaps.length > 0) {
      stream.gaps = gaps;
    } else {
      stream.gaps = undefined;
      this.#gapped.delete(stream);
    }
  }

  /** Counts as lost the gaps of `stream` older than the hold. */
  #expire(stream: Stream, now: number): void {
    const gaps = stream.gaps!;
    let i = 0;
    while (i < gaps.length && now - gaps[i + 2] >= this.#gapHoldMs) i += 3;
    if (i === 0) return;
    this.#countLost(stream, gaps.slice(0, i));
    this.#setGaps(stream, gaps.slice(i));
  }

  #expireAll(now: number): void {
    for (const stream of this.#gapped) this.#expire(stream, now);
  }

  #countLost(stream: Stream, gaps: number[]): void {
    let lost = 0;
    for (let i = 0; i < gaps.length; i += 3) lost += gaps[i + 1] - gaps[i];
    if (this.#onGapLost !== undefined) {
      const source = BigInt(stream.source);
      for (let i = 0; i < gaps.length; i += 3) {
        this.#onGapLost(source, stream.topic, gaps[i], gaps[i + 1]);
      }
    }
    stream.lost += lost;
    this.#lost += lost;
  }

  /**
   * Counts every open gap lost now, whatever its age: for a receiver that stops,
   * since nothing can fill them any more. A durable one saves positions past
   * them (the events above a gap are stored), so the run after a restart takes
   * their late copies as replays: without this they would be counted nowhere.
   */
  closeGaps(): void {
    for (const stream of this.#gapped) this.#countLost(stream, stream.gaps!);
    for (const stream of this.#gapped) stream.gaps = undefined;
    this.#gapped.clear();
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
      const stream = topics.get(topic)!;
      if (stream.gaps !== undefined) {
        // Forgotten, a gap can no longer be filled: it is lost now, once.
        this.#countLost(stream, stream.gaps);
        this.#setGaps(stream, []);
      }
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
    if (this.#gapped.size > 0) this.#expireAll(this.#gapNow());
    const result: StreamCounters[] = [];
    for (const { topics } of this.#streams.values()) {
      for (const { seen: _, at: _at, gaps: _gaps, ...stream } of topics.values()) {
        result.push(stream);
      }
    }
    return result;
  }

  /** Number of streams remembered now. */
  get size(): number {
    return this.#size;
  }
}

/**
 * Flat `[from, to)` pairs made safe to hold: whole, non-empty, clipped below
 * `below`, sorted and merged. Anything else in a saved row is ignored.
 */
function normalRanges(ranges: readonly unknown[], below: number): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i + 1 < ranges.length; i += 2) {
    const from = ranges[i], to = ranges[i + 1];
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) continue;
    const a = Math.max(0, from as number), b = Math.min(below, to as number);
    if (a < b) pairs.push([a, b]);
  }
  pairs.sort((x, y) => x[0] - y[0]);
  const merged: number[] = [];
  for (const [from, to] of pairs) {
    const last = merged.length - 1;
    if (merged.length > 0 && from <= merged[last]) merged[last] = Math.max(merged[last], to);
    else merged.push(from, to);
  }
  return merged;
}
