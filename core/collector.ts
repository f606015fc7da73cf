/**
 * The receiving side of the wire: subscribes, checks and decodes messages, and
 * accounts every loss, replay and malformed message.
 *
 * @module
 */
import { type CodecError, decodeEvents } from "./codec.ts";
import type { Event } from "./event.ts";
import { parseEndpoints } from "./endpoint.ts";
import type { Member } from "./member.ts";
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  type DropReason,
  type Header,
  HEADER_MAGIC,
  HEADER_SIZE,
  parseMessage,
  sliceMessage,
  type WireMessage,
} from "./protocol.ts";
import {
  GAP_HOLD_MS,
  SequenceTracker,
  type StreamCounters,
  type StreamPosition,
} from "./sequence.ts";
import { addRange } from "./ranges.ts";
import { Turns } from "./turns.ts";
import { Poller, SocketType, ZmqContext, type ZmqSocket } from "./zmq/socket.ts";
import { attachSecurely, type CurveOptions } from "./curve/options.ts";
import type { HandshakeWatch } from "./curve/monitor.ts";

/** Options of {@linkcode Collector}. */
export interface CollectorOptions {
  /** Where to subscribe: `>tcp://host:5556` connects (default form), `@tcp://*:5556` binds. */
  endpoints: string | string[];
  /** Topic prefixes to subscribe to; everything by default. */
  topics?: string[];
  /** Messages queued in libzmq before the sender side starts dropping (and we count the gap). */
  receiveHwm?: number;
  /** Largest message accepted from a peer; a peer sending more is disconnected by libzmq. */
  maxMessageSize?: number;
  /** A context to share (tests run many sockets in one process). */
  context?: ZmqContext;
  /**
   * Be member `index` of a group of `count` receivers that share the messages:
   * keep only streams whose source id falls in this member's share
   * ({@linkcode memberOf}), decided from the header before anything is decoded.
   */
  member?: Member;
  /**
   * CURVE encryption: `{ serverKey, secretKey, publicKey }` to connect to a CURVE
   * server, `{ secretKey }` alone to bind as one. Plaintext when absent.
   */
  curve?: CurveOptions;
  /**
   * Told, within a second, when a peer refuses or fails this side's handshake
   * (an unknown key, a wrong server key, CURVE on one side only). Stderr by default.
   */
  onHandshakeFailure?: (line: string) => void;
  /**
   * Milliseconds a gap in a stream waits to be filled by another path before it
   * counts as lost ({@linkcode GAP_HOLD_MS} when subscribed to several endpoints,
   * else 0: lost at once). See docs/protocol.md, section 5.
   */
  gapHoldMs?: number;
  /**
   * Told of each range `[from, to)` of a stream as it counts as lost (a held gap
   * past its hold, or, with no hold, an index jump), before
   * {@linkcode CollectorStats.lost} moves (see `SequenceTrackerOptions.onGapLost`).
   */
  onGapLost?: (source: bigint, topic: string, from: number, to: number) => void;
  /**
   * Milliseconds now, read by the stream checks that depend on time (how far an
   * index may jump, how long a gap waits); `Date.now` by default. Tests that must
   * judge messages as the collector does give both the same clock.
   */
  clock?: () => number;
  /**
   * Milliseconds by which gaps wait out their hold; `clock` by default. A reader
   * that stops taking messages for a while (a sink blocked on a full buffer)
   * stops it, so that the late copies queued meanwhile still fill their gaps.
   */
  gapClock?: () => number;
  /**
   * Read every int64 as a `bigint` (see `DecodeOptions.useBigInt64`): sinks do,
   * so that what they store keeps its type. Numbers within ±2^53 by default.
   */
  useBigInt64?: boolean;
}

/** Events of one message. */
export interface EventBatch {
  /** The topic they came on. */
  topic: string;
  /** The emitting stream, absent for minimal two-frame messages. */
  source?: bigint;
  /** Stream index of `events[0]`, absent for minimal two-frame messages. */
  first?: number;
  /** The decoded events, replays already removed. */
  events: Event[];
  /**
   * Set when these events fill a gap another path left (protocol.md 5.2):
   * they sit below events delivered before them.
   */
  fill?: boolean;
  /**
   * Body bytes these events came from (their share of the message's), so a
   * sink can bound what it holds by bytes without encoding them again.
   */
  bytes?: number;
}

/** Counters of a {@linkcode Collector}. */
export interface CollectorStats {
  /** Messages received, valid or not. */
  messages: number;
  /** Events delivered. */
  events: number;
  /** Body bytes of valid messages. */
  bytes: number;
  /** Events the stream indexes say never arrived. */
  lost: number;
  /** Replayed events skipped. */
  duplicates: number;
  /** Events delivered from minimal two-frame messages (not accounted). */
  unaccounted: number;
  /** Malformed messages dropped, by reason. */
  malformed: Partial<Record<DropReason, number>>;
  /** Messages left to the other members of a group (see `member`). */
  otherMembers: number;
  /** Events in those messages. */
  otherMembersEvents: number;
  /** Events dropped from otherwise valid messages because their envelope was bad. */
  rejectedEvents: number;
  /** Per-stream counters. */
  streams: (StreamCounters & { malformed: number })[];
}

/**
 * Subscribes to one or more endpoints and yields events or whole batches. The
 * receive loop waits in `zmq_poll` off the JS thread and pulls from libzmq only as
 * fast as the consumer iterates, so a slow consumer makes the sender side drop at
 * its high-water mark, and the gap is counted here exactly.
 *
 * @example
 * ```ts ignore
 * import { Collector } from "@eventstorm/core";
 * const collector = await Collector.open({ endpoints: ">tcp://127.0.0.1:5556", topics: ["http."] });
 * for await (const event of collector.events()) console.log(event.type);
 * ```
 */
export class Collector {
  readonly #context: ZmqContext;
  readonly #ownsContext: boolean;
  readonly #socket: ZmqSocket;
  readonly #poller: Poller;
  readonly #tracker: SequenceTracker;
  readonly #buffers: Uint8Array[];
  readonly #sizes = new Int32Array(3);
  readonly #frames: Uint8Array[] = [];
  readonly #malformedByStream = new Map<string, number>();
  #closed = false;
  #reading = false;
  /** Late copies handed to the reader that it has not taken in yet (see `#handOut`). */
  readonly #handedFills = new Set<EventBatch | WireMessage>();
  #prefixes: Uint8Array[] = [];
  #finishing: { idleMs: number; until: number } | undefined;
  #unsubscribed = false;
  // A message can hold a thousand events to decode: read the clock after each one.
  readonly #turns = new Turns({ clockEvery: 1 });
  /**
   * Whether sources connect here (the collector only binds): only then is a peer
   * a stream's owner. Connected to routers, the peers are routers, which may carry
   * the same stream twice (a replay, not a forgery); with both kinds, one socket
   * cannot tell which way a message came, so no peer is judged.
   */
  readonly #judgeOwners: boolean;
  readonly #useBigInt64: boolean;
  #polling: Promise<unknown> | undefined;
  #watch: HandshakeWatch | undefined;
  readonly #stats = {
    messages: 0,
    events: 0,
    bytes: 0,
    unaccounted: 0,
    rejectedEvents: 0,
    malformed: {} as Partial<Record<DropReason, number>>,
    otherMembers: 0,
    otherMembersEvents: 0,
  };
  readonly #member: { index: bigint; count: bigint } | undefined;

  /** Opens a collector; endpoint problems throw a one-line `UsageError`. */
  // deno-lint-ignore require-await -- async so that a bad option rejects, never throws
  static async open(options: CollectorOptions): Promise<Collector> {
    return new Collector(options);
  }

  /** Creates a collector (prefer {@linkcode Collector.open}). */
  constructor(options: CollectorOptions) {
    const endpoints = (Array.isArray(options.endpoints) ? options.endpoints : [options.endpoints])
      .flatMap((text) => parseEndpoints(text));
    const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    if (options.member) {
      this.#member = {
        index: BigInt(options.member.index - 1),
        count: BigInt(options.member.count),
      };
    }
    this.#judgeOwners = endpoints.every((endpoint) => endpoint.bind);
    this.#useBigInt64 = options.useBigInt64 ?? false;
    // Several routers carry the same streams (redundant paths): a gap one path
    // leaves may be filled by the other, late, so it waits before it is lost.
    this.#tracker = new SequenceTracker({
      gapHoldMs: options.gapHoldMs ?? (endpoints.length > 1 ? GAP_HOLD_MS : 0),
      clock: options.clock,
      gapClock: options.gapClock,
      onGapLost: options.onGapLost,
    });
    this.#ownsContext = options.context === undefined;
    this.#context = options.context ?? new ZmqContext();
    // XSUB rather than SUB: a SUB socket filters its own queue by its current
    // subscriptions, so after unsubscribing (finish) it would silently discard
    // what is already on its way. Publishers filter for us either way.
    this.#socket = this.#context.socket(SocketType.XSUB);
    try {
      // It sends only subscriptions, which libzmq drops silently at a full pipe.
      this.#socket.configure({
        receiveHwm: options.receiveHwm ?? 1000,
        sendHwm: 0,
        maxMessageSize,
        lingerMs: 0,
      });
      const encoder = new TextEncoder();
      const topics = options.topics?.length ? options.topics : [""];
      this.#prefixes = topics.map((topic) => encoder.encode(topic));
      // Kept by the socket and sent to every peer it connects to, now or later.
      for (const prefix of this.#prefixes) this.#socket.sendSubscription(true, prefix);
      this.#watch = attachSecurely(
        this.#context,
        this.#socket,
        endpoints,
        options.curve,
        options.onHandshakeFailure,
      );
    } catch (error) {
      this.#watch?.close();
      this.#socket.close();
      if (this.#ownsContext) void this.#context.terminate();
      throw error;
    }
    // Pages of these buffers are only touched as large messages arrive.
    this.#buffers = [
      new Uint8Array(1024),
      new Uint8Array(maxMessageSize + 1),
      new Uint8Array(maxMessageSize + 1),
    ];
    this.#poller = new Poller(this.#context, [this.#socket]);
  }

  /** The address last bound (with the real port when bound to `*`). */
  boundEndpoint(): string {
    return this.#socket.lastEndpoint();
  }

  /** Yields the events of every valid message, one batch per message. */
  async *batches(): AsyncGenerator<EventBatch> {
    for await (const batch of this.#loop(true)) yield batch as EventBatch;
  }

  async *#loop(decode: boolean): AsyncGenerator<EventBatch | WireMessage> {
    if (this.#reading) throw new Error("a collector has one reader at a time");
    this.#reading = true;
    try {
      while (!this.#closed) {
        const frameCount = this.#judgeOwners
          ? this.#socket.receiveFrom(this.#buffers, this.#sizes)
          : this.#socket.receive(this.#buffers, this.#sizes);
        if (frameCount === 0) {
          const finishing = this.#finishing;
          if (finishing && Date.now() >= finishing.until) break;
          const polling = this.#poller.wait(finishing ? finishing.idleMs : -1);
          this.#polling = polling;
          const ready = await polling;
          this.#turns.waited();
          this.#polling = undefined;
          if (this.#finishing && !this.#closed) this.#unsubscribe();
          // Finishing, and quiet for idleMs: what was on its way has arrived.
          if (finishing && !ready[0]) break;
          continue;
        }
        const delivered = this.#accept(frameCount, decode);
        if (delivered !== undefined) yield* this.#handOut(delivered);
        // Without a wait in zmq_poll nothing here leaves the microtask queue, so
        // timers (stats lines) and signal handlers would starve while input never
        // pauses: hand the event loop a turn every few ms of busy reading.
        if (this.#turns.due()) await this.#turns.give();
        // Finishing under input that never pauses: maxMs holds all the same.
        if (this.#finishing && Date.now() >= this.#finishing.until) break;
      }
    } finally {
      this.#reading = false;
    }
  }

  /**
   * Yields what one message delivered. The tracker closed the gaps its late
   * copies (`fill`) fill as it judged the message, but a durable reader holds
   * them only once it took them in, so they stay in {@linkcode gapsOf} until
   * the reader asks for what follows each: a position saved meanwhile (while
   * the reader waits for room) would otherwise pass events neither stored nor
   * counted, and a crash then would lose them silently.
   */
  *#handOut(
    delivered: EventBatch | WireMessage | (EventBatch | WireMessage)[],
  ): Generator<EventBatch | WireMessage> {
    const units = Array.isArray(delivered) ? delivered : [delivered];
    for (const unit of units) if (unit.fill) this.#handedFills.add(unit);
    try {
      for (const unit of units) {
        yield unit;
        this.#handedFills.delete(unit);
      }
    } finally {
      this.#handedFills.clear();
    }
  }

  /**
   * Yields checked but undecoded messages (bodies copied out of the receive
   * buffer), with replays trimmed, for consumers that keep BSON as bytes: archive
   * files, relays, benchmarks.
   */
  async *messages(): AsyncGenerator<WireMessage> {
    for await (const message of this.#loop(false)) yield message as WireMessage;
  }

  /**
   * Resumes the streams a durable receiver saved (newest first when there are
   * more than it remembers), keeping only this member's share of a group: later
   * messages below a position are duplicates and a jump above it is lost, as if
   * the receiver had never stopped. Call it before reading.
   */
  resume(positions: Iterable<StreamPosition>): number {
    const mine = [...positions].filter(({ source }) =>
      this.#member === undefined || source % this.#member.count === this.#member.index
    );
    mine.sort((a, b) => b.at - a.at);
    for (const { source, topic, next, at, present, gaps } of mine) {
      this.#tracker.resume(source, topic, next, at, present, gaps);
    }
    return mine.length;
  }

  /** Yields events one by one. */
  async *events(): AsyncGenerator<Event> {
    for await (const batch of this.batches()) yield* batch.events;
  }

  #accept(
    frameCount: number,
    decode: boolean,
  ): EventBatch | WireMessage | (EventBatch | WireMessage)[] | undefined {
    this.#stats.messages++;
    if (this.#member !== undefined && !this.#mine(frameCount)) return undefined;
    this.#frames.length = 0;
    for (let i = 0; i < Math.min(frameCount, 3); i++) {
      if (this.#sizes[i] > this.#buffers[i].length) {
        // A topic longer than its buffer is longer than any valid type.
        return this.#malformed(i === 0 ? "topic" : "oversized");
      }
      this.#frames.push(this.#buffers[i].subarray(0, this.#sizes[i]));
    }
    if (frameCount > 3) return this.#malformed("frames");
    const parsed = parseMessage(this.#frames);
    if (!parsed.ok) return this.#malformed(parsed.reason);
    const { topic, header, body, count } = parsed.message;
    let skip = 0;
    if (header) {
      const verdict = this.#tracker.observe(
        header.source,
        topic,
        header.first,
        count,
        this.#judgeOwners ? this.#socket.peer : undefined,
      );
      if (verdict.refused) return this.#malformed(verdict.refused, header.source, topic);
      skip = verdict.skip;
      // A position announcement (count 0) or a whole replay: accounted, nothing to deliver.
      if (skip >= count) return undefined;
      if (verdict.keep) {
        return this.#pieces(topic, header, body, verdict.keep, decode, verdict.filled ?? 0);
      }
      if (verdict.filled) {
        const unit = this.#deliver(topic, header, body, count, skip, decode);
        for (const part of [unit ?? []].flat()) part.fill = true;
        return unit;
      }
    }
    return this.#deliver(topic, header, body, count, skip, decode);
  }

  /**
   * A stream's gaps still open, as flat `[from, to)` pairs (protocol.md 5.2),
   * for a durable receiver to save with its position: with them, the late copies
   * handed to the reader that it has not taken in yet (it takes one in by asking
   * for what follows).
   */
  gapsOf(source: bigint, topic: string): number[] {
    let gaps = this.#tracker.gapsOf(source, topic);
    for (const unit of this.#handedFills) {
      const range = indexesOf(unit);
      if (range?.source === source && unit.topic === topic) {
        gaps = addRange(gaps, range.first, range.first + range.count);
      }
    }
    return gaps;
  }

  #deliver(
    topic: string,
    header: Header | undefined,
    body: Uint8Array,
    count: number,
    skip: number,
    decode: boolean,
  ): EventBatch | WireMessage | EventBatch[] | undefined {
    if (!decode) return this.#raw(topic, header, body, count, skip);
    let decoded;
    try {
      decoded = decodeEvents(body, { topic, skip, useBigInt64: this.#useBigInt64 });
    } catch (error) {
      if (header) this.#tracker.undelivered(header.source, topic, count - skip);
      return this.#malformed(
        (error as CodecError).reason as DropReason ?? "bson",
        header?.source,
        topic,
      );
    }
    this.#stats.bytes += body.length;
    this.#stats.rejectedEvents += decoded.rejected;
    const events = decoded.events;
    this.#stats.events += events.length;
    if (header && decoded.rejected > 0) {
      this.#tracker.undelivered(header.source, topic, decoded.rejected);
    }
    // Each event's share of the body: exact enough to bound a buffer, and free.
    const perEvent = count > 0 ? body.length / count : 0;
    if (!header) {
      this.#stats.unaccounted += events.length;
      return { topic, events, bytes: Math.round(perEvent * events.length) };
    }
    if (decoded.rejectedAt === undefined) {
      const bytes = Math.round(perEvent * events.length);
      return { topic, source: header.source, first: header.first + skip, events, bytes };
    }
    return this.#runs(topic, header, skip, events, decoded.rejectedAt, perEvent);
  }

  /**
   * Splits a message's events around the rejected ones, so that each batch's
   * `events[i]` is stream index `first + i` (sinks derive ids from it).
   */
  #runs(
    topic: string,
    header: Header,
    skip: number,
    events: Event[],
    rejectedAt: number[],
    perEvent: number,
  ): EventBatch[] | undefined {
    const batches: EventBatch[] = [];
    let taken = 0;
    let runStart = skip;
    for (const position of [...rejectedAt, skip + events.length + rejectedAt.length]) {
      const length = position - runStart;
      if (length > 0) {
        batches.push({
          topic,
          source: header.source,
          first: header.first + runStart,
          events: events.slice(taken, taken + length),
          bytes: Math.round(perEvent * length),
        });
        taken += length;
      }
      runStart = position + 1;
    }
    return batches.length > 0 ? batches : undefined;
  }

  /**
   * Delivers the `[from, to)` pieces of a message that fill gaps another path
   * left, one batch each (rare: only redundant paths produce them).
   */
  #pieces(
    topic: string,
    header: Header,
    body: Uint8Array,
    keep: number[],
    decode: boolean,
    filled: number,
  ): (EventBatch | WireMessage)[] {
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const offsets = [0];
    for (let i = 0, offset = 0; i < keep[keep.length - 1]; i++) {
      offset += view.getInt32(offset, true);
      offsets.push(offset);
    }
    const result: (EventBatch | WireMessage)[] = [];
    let delivered = 0;
    for (let i = 0; i < keep.length; i += 2) {
      const from = keep[i], to = keep[i + 1];
      const piece = { ...header, first: header.first + from, count: to - from };
      const batch = this.#deliver(
        topic,
        piece,
        body.subarray(offsets[from], offsets[to]),
        to - from,
        0,
        decode,
      );
      // The gap parts come first (see SequenceVerdict.filled).
      for (const part of [batch ?? []].flat()) {
        if (delivered < filled) part.fill = true;
        result.push(part);
      }
      delivered += to - from;
    }
    return result;
  }

  /**
   * Whether this member of a group owns the message: read from the header's source
   * id alone, so a message for another member costs no parsing. Anything that is
   * not a well-formed header goes on to validation in every member, which counts
   * it once each, as every member received it.
   */
  #mine(frameCount: number): boolean {
    const { index, count } = this.#member!;
    if (frameCount === 2) {
      if (index === 0n) return true;
      this.#stats.otherMembers++;
      return false;
    }
    const header = this.#buffers[1];
    if (frameCount !== 3 || this.#sizes[1] !== HEADER_SIZE || header[0] !== HEADER_MAGIC) {
      return true;
    }
    const view = new DataView(header.buffer, header.byteOffset, HEADER_SIZE);
    if (view.getBigUint64(8, true) % count === index) return true;
    this.#stats.otherMembers++;
    this.#stats.otherMembersEvents += view.getUint32(4, true);
    return false;
  }

  #raw(
    topic: string,
    header: Header | undefined,
    body: Uint8Array,
    count: number,
    skip: number,
  ): WireMessage {
    this.#stats.bytes += body.length;
    // Without a header nothing is skipped: replays are told by their stream index.
    if (!header) this.#stats.unaccounted += count;
    this.#stats.events += count - skip;
    const message: WireMessage = header ? { topic, header, body, count } : { topic, body, count };
    const kept = sliceMessage(message, skip, count);
    // Out of the receive buffer, which the next message overwrites.
    return { ...kept, body: kept.body.slice() };
  }

  #malformed(reason: DropReason, source?: bigint, topic?: string): undefined {
    this.#stats.malformed[reason] = (this.#stats.malformed[reason] ?? 0) + 1;
    if (source !== undefined) {
      const key = `${source}/${topic}`;
      this.#malformedByStream.set(key, (this.#malformedByStream.get(key) ?? 0) + 1);
    }
    return undefined;
  }

  /** The counters. */
  stats(): CollectorStats {
    return {
      ...this.#stats,
      malformed: { ...this.#stats.malformed },
      lost: this.#tracker.lost,
      duplicates: this.#tracker.duplicates,
      streams: this.#tracker.streams().map((stream) => ({
        ...stream,
        malformed: this.#malformedByStream.get(`${stream.source}/${stream.topic}`) ?? 0,
      })),
    };
  }

  /**
   * Ends reading gracefully: unsubscribes, so that publishers and routers stop
   * sending here, lets the reader take what is already queued on the way, and
   * ends its loop once nothing has arrived for `idleMs` (default 200), or after
   * `maxMs` (default 5000) at most. A sink stopping this way stores those events
   * instead of discarding them, uncounted, with the socket.
   *
   * @example
   * ```ts ignore
   * const collector = await Collector.open({ endpoints: ">tcp://127.0.0.1:5556" });
   * Deno.addSignalListener("SIGTERM", () => collector.finish());
   * for await (const batch of collector.batches()) store(batch);
   * await collector.close();
   * ```
   */
  finish(options: { idleMs?: number; maxMs?: number } = {}): void {
    if (this.#closed || this.#finishing) return;
    // A wait in flight holds the socket: the loop unsubscribes once it returns.
    if (!this.#polling) this.#unsubscribe();
    this.#finishing = {
      idleMs: options.idleMs ?? 200,
      until: Date.now() + (options.maxMs ?? 5000),
    };
    this.#poller.wake();
  }

  #unsubscribe(): void {
    if (this.#unsubscribed) return;
    this.#unsubscribed = true;
    for (const prefix of this.#prefixes) this.#socket.sendSubscription(false, prefix);
  }

  /**
   * Stops the receive loop and releases the socket. Gaps still held for another
   * path (protocol 5.2) count as lost now: no later message can fill them.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#tracker.closeGaps();
    this.#poller.wake();
    // A wait in flight uses the socket on a worker thread: let it return first.
    if (this.#polling) await this.#polling;
    this.#watch?.close();
    this.#poller.close();
    this.#socket.close();
    if (this.#ownsContext) await this.#context.terminate();
  }
}

/** The stream indexes a delivered unit holds (none without a header). */
function indexesOf(
  unit: EventBatch | WireMessage,
): { source: bigint; first: number; count: number } | undefined {
  if ("events" in unit) {
    return unit.source === undefined || unit.first === undefined
      ? undefined
      : { source: unit.source, first: unit.first, count: unit.events.length };
  }
  return unit.header && { source: unit.header.source, first: unit.header.first, count: unit.count };
}
