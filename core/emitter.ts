/**
 * The sending side of the wire: batches events per topic and publishes them.
 *
 * @module
 */
import { BatchEncoder, CodecError } from "./codec.ts";
import { type Event, type EventFields, isValidType, localHostname } from "./event.ts";
import type { AsciiEncoder } from "./line_parser.ts";
import type { DeliveredMark, EventOutput } from "./output.ts";
import { Queue } from "./queue.ts";
import { randomSourceId } from "./protocol.ts";
import type { ZmqContext } from "./zmq/socket.ts";
import {
  type EmitterLink,
  type EmitterLinkOptions,
  Link,
  type LinkCounters,
  type LinkMessage,
  linkOf,
  type LinkSender,
} from "./link.ts";

/** Options of {@linkcode Emitter}. */
export interface EmitterOptions extends Omit<EmitterLinkOptions, "endpoints"> {
  /**
   * Where to publish: `>tcp://host:5555` connects (default form), `@tcp://*:5555`
   * binds. Not with `link`.
   */
  endpoints?: string | string[];
  /**
   * A connection to share with other emitters (see {@linkcode EmitterLink}),
   * instead of one of its own: the link's options then apply, not this emitter's
   * `endpoints`, `sendHwm`, `maxPendingBytes`, `onWaiting`, `curve` and
   * `onHandshakeFailure`. Closing the emitter leaves the link open, and first
   * makes sure its last messages left the process (see `close`).
   */
  link?: EmitterLink;
  /** Stream id; give the one from a checkpoint to resume numbering. Random by default. */
  sourceId?: bigint;
  /** Next stream index per topic, from a checkpoint. */
  positions?: Record<string, number>;
  /** Host for events that lack one. */
  host?: string;
  /** Events per message at most. */
  maxEvents?: number;
  /** Body bytes per message at most (a batch is sent when it reaches this). */
  maxBytes?: number;
  /** How long a partial batch may wait before it is sent, in ms. */
  lingerMs?: number;
  /** Largest single event accepted, in encoded bytes; larger ones are dropped and counted. */
  maxEventBytes?: number;
  /** How long `close()` keeps trying to send what it holds, in ms. */
  closeTimeoutMs?: number;
  /**
   * How often, in ms, an idle topic announces its position (an empty message), so
   * that receivers notice the loss of a stream's last messages. Idle topics repeat
   * it every interval, since an announcement can be lost too. 0 disables.
   */
  announceMs?: number;
}

/**
 * The usual {@linkcode EmitterOptions.onWaiting}: one line on stderr naming the
 * endpoints.
 *
 * @example
 * ```ts
 * import { waitingNotice } from "@eventstorm/core/cli";
 * const onWaiting = waitingNotice("source demo", [">tcp://127.0.0.1:5555"]);
 * ```
 */
export function waitingNotice(
  label: string,
  endpoints: readonly string[],
): (heldEvents: number) => void {
  return (held) =>
    console.error(
      `${label}: nobody subscribes at ${endpoints.join(", ")} yet (is the router running?); ` +
        `holding ${held} events until someone does`,
    );
}

/** Counters of an {@linkcode Emitter}. */
export interface EmitterStats {
  /** Events accepted by `emit`/`send`. */
  events: number;
  /** Messages handed to libzmq. */
  messages: number;
  /** Events in those messages. */
  eventsSent: number;
  /** Body bytes handed to libzmq. */
  bytes: number;
  /** Events sent while no subscription matched their topic (nobody wanted them). */
  unsubscribed: number;
  /** Events dropped because the pending buffer was full or close timed out. */
  dropped: number;
  /**
   * Events handed to libzmq that may never have left the process: its one peer
   * took nothing more before `close()` ran out of `closeTimeoutMs` (a stalled
   * receiver), and libzmq then discards what it holds, at most the last
   * `sendHwm + 1` messages, counted here. Their loss shows in no receiver, which
   * never saw their indexes; 0 after a close that drained.
   */
  unconfirmed: number;
  /** Events dropped because a single event exceeded `maxEventBytes` or the BSON limit. */
  oversized: number;
  /**
   * Events dropped because BSON cannot hold them (nested deeper than `MAX_NESTING`,
   * cyclic, or holding an Invalid Date).
   */
  unencodable: number;
  /** Events accepted and not yet handed to libzmq. */
  pending: number;
  /** Topic prefixes peers subscribe to now. */
  subscriptions: number;
}

interface TopicBatch {
  topic: string;
  topicBytes: Uint8Array;
  encoder: BatchEncoder;
  first: number;
}

const encoder = new TextEncoder();

/**
 * Publishes events on protocol v1. `emit` batches per topic; a batch leaves when
 * it reaches `maxEvents` or `maxBytes`, or `lingerMs` after its first event. The
 * socket is an XPUB with `ZMQ_XPUB_NODROP`, so the emitter sees subscriptions and
 * pushback instead of libzmq dropping silently: while nobody subscribes or a peer
 * is full, messages are held (up to `maxPendingBytes`, then the oldest are dropped
 * and counted). Events are numbered per topic in the order they are given. With
 * `link`, several emitters (each its own stream) share one connection.
 *
 * @example
 * ```ts ignore
 * import { Emitter } from "@eventstorm/core";
 * const emitter = await Emitter.open({ endpoints: ">tcp://127.0.0.1:5555" });
 * emitter.emit("app.start", { version: "1.0" });
 * await emitter.close();
 * ```
 */
export class Emitter implements EventOutput {
  readonly #link: Link;
  readonly #ownsLink: boolean;
  readonly #sourceId: bigint;
  readonly #host: string;
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  readonly #lingerMs: number;
  readonly #maxEventBytes: number;
  readonly #closeTimeoutMs: number;
  readonly #positions = new Map<string, number>();
  readonly #batches = new Map<string, TopicBatch>();
  #lastBatch: TopicBatch | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #announceTimer: ReturnType<typeof setInterval> | undefined;
  /** Each topic's position at the previous tick: unchanged means idle a whole interval. */
  readonly #positionsAtTick = new Map<string, number>();
  #closed = false;
  /** Own messages handed to libzmq while a subscription wanted their topic. */
  #wantedSent = 0;
  /** How many of those are known to have left the process (see `deliveredMark`). */
  #safe = 0;
  /** The link's sequence numbers of the others, oldest first. */
  readonly #unsafe = new Queue<number>();
  /** The link's sequence number and topic of the last own message a subscription wanted. */
  #lastWanted: { seq: number; topic: string } | undefined;
  readonly #stats: EmitterStats = {
    events: 0,
    messages: 0,
    eventsSent: 0,
    bytes: 0,
    unsubscribed: 0,
    dropped: 0,
    unconfirmed: 0,
    oversized: 0,
    unencodable: 0,
    pending: 0,
    subscriptions: 0,
  };
  /** What the link reports back to, kept off the public surface. */
  readonly #sender: LinkSender;

  /** Opens an emitter; endpoint problems throw a one-line `UsageError`. */
  // deno-lint-ignore require-await -- async so that a bad option rejects, never throws
  static async open(options: EmitterOptions & { context?: ZmqContext }): Promise<Emitter> {
    return new Emitter(options);
  }

  /** Creates an emitter (prefer {@linkcode Emitter.open}). */
  constructor(options: EmitterOptions & { context?: ZmqContext }) {
    if ((options.link === undefined) === (options.endpoints === undefined)) {
      throw new TypeError("an emitter takes either endpoints or a link");
    }
    for (const [topic, index] of Object.entries(options.positions ?? {})) {
      // A bad index would throw later inside a timer, or wrap around on the wire.
      if (!Number.isSafeInteger(index) || index < 0) {
        throw new TypeError(`position of '${topic}' must be a whole number >= 0, not ${index}`);
      }
      this.#positions.set(topic, index);
    }
    this.#sourceId = options.sourceId ?? randomSourceId();
    this.#host = options.host ?? localHostname();
    this.#maxEvents = options.maxEvents ?? 1000;
    this.#maxBytes = options.maxBytes ?? 256 * 1024;
    this.#lingerMs = options.lingerMs ?? 10;
    this.#maxEventBytes = options.maxEventBytes ?? 1024 * 1024;
    const counters: LinkCounters = this.#stats;
    this.#sender = {
      counters,
      wanted: (seq, topic) => {
        this.#wantedSent++;
        this.#lastWanted = { seq, topic };
        // With several peers nothing is counted safe before the link drains, so
        // there is nothing to track; otherwise the queue is settled as it grows,
        // not only when a checkpoint asks (a source without checkpoints asks never).
        if (this.#link.severalPeers) return;
        this.#unsafe.push(seq);
        this.#settle();
      },
    };
    this.#ownsLink = options.link === undefined;
    this.#link = options.link ? linkOf(options.link) : new Link({
      endpoints: options.endpoints!,
      sendHwm: options.sendHwm,
      maxPendingBytes: options.maxPendingBytes,
      closeTimeoutMs: options.closeTimeoutMs,
      onWaiting: options.onWaiting,
      curve: options.curve,
      onHandshakeFailure: options.onHandshakeFailure,
      context: options.context,
    });
    this.#link.register(this.#sender);
    this.#closeTimeoutMs = options.closeTimeoutMs ?? this.#link.closeTimeoutMs;
    const announceMs = options.announceMs ?? 1000;
    if (announceMs > 0) {
      this.#announceTimer = setInterval(() => this.#announce(true), announceMs);
      Deno.unrefTimer(this.#announceTimer as unknown as number);
    }
  }

  /** The address last bound (with the real port when bound to `*`); empty when it only connects. */
  boundEndpoint(): string {
    return this.#link.boundEndpoint();
  }

  /** This stream's source id (protocol header `source`). */
  get sourceId(): bigint {
    return this.#sourceId;
  }

  /** Next stream index per topic, for checkpoints. */
  positions(): Record<string, number> {
    return Object.fromEntries(this.#positions);
  }

  /**
   * Messages handed to libzmq for a subscriber, and how many of the first of them
   * have certainly left this process. libzmq queues up to `sendHwm` messages per
   * peer, plus the one its engine is writing, and says nothing of how many it
   * holds: a message is known to be in the kernel (which delivers it even if this
   * process is killed) once `sendHwm + 1` later ones were queued after it on the
   * connection (its own or others' on a shared link), or once closing the
   * connection drained everything. That count holds for one peer only: with
   * several (two `>` endpoints, redundant routers, or a bound endpoint), each
   * peer has its own queue and may take only some topics, so a message can sit in
   * one queue however many others follow it. Then nothing is known safe before
   * the connection drained: conservative, a crash replays rather than loses.
   */
  deliveredMark(): DeliveredMark {
    const sent = this.#wantedSent;
    if (this.#link.drained) return { sent, safe: sent };
    if (this.#link.severalPeers) return { sent, safe: 0 };
    this.#settle();
    return { sent, safe: this.#safe };
  }

  /** Counts as safe the messages that `sendHwm + 1` later ones on the link have pushed out. */
  #settle(): void {
    const newestSafe = this.#link.wantedSent - this.#link.sendHwm - 1;
    while (this.#unsafe.length > 0 && this.#unsafe.peek() <= newestSafe) {
      this.#unsafe.shift();
      this.#safe++;
    }
  }

  /** The counters. */
  stats(): EmitterStats {
    this.#stats.subscriptions = this.#link.subscriptions;
    this.#stats.pending = this.#link.pendingEvents(this.#sender) +
      [...this.#batches.values()].reduce((sum, batch) => sum + batch.encoder.count, 0);
    return { ...this.#stats };
  }

  /**
   * Emits one event of `type`; `time` and `host` are filled in when `fields` lacks
   * them. Throws `TypeError` for an invalid type.
   */
  emit(type: string, fields: EventFields = {}): void {
    if (!isValidType(type)) throw new TypeError(`invalid event type '${type}'`);
    const { time, host } = fields;
    if (time !== undefined && !(time instanceof Date && !isNaN(time.getTime()))) {
      throw new TypeError(`event time must be a valid Date, not ${String(time)}`);
    }
    if (host !== undefined && typeof host !== "string") {
      throw new TypeError(`event host must be a string, not ${String(host)}`);
    }
    const event = { type, time, host, ...fields } as Event;
    // Set after the spread, so a field given as undefined cannot blank the envelope.
    event.type = type;
    event.time = time ?? new Date();
    event.host = host ?? this.#host;
    this.send(event);
  }

  /** Queues a complete event (its envelope is trusted; see `isEvent`). */
  send(event: Event): void {
    if (this.#closed) throw new Error("emitter is closed");
    const topic = event.type;
    const batch = this.#batchOf(topic);
    const position = this.#positions.get(topic) ?? 0;
    if (batch.encoder.count === 0) batch.first = position;
    let size: number;
    try {
      size = batch.encoder.add(event);
    } catch (error) {
      // Over the BSON limit or nested too deep: a counted drop with its own index
      // (a gap downstream), never an exception that would stop the producer.
      if (!(error instanceof CodecError)) throw error;
      this.#positions.set(topic, position + 1);
      this.#stats.events++;
      if (error.reason === "oversized") this.#stats.oversized++;
      else this.#stats.unencodable++;
      this.#seal(batch);
      return;
    }
    this.#added(batch, topic, position, size);
  }

  /**
   * Queues the event `encoder` writes of the line `bytes[start, end)`, as
   * `send` queues the event its parser makes of the line, without the event
   * object or a copy; false when the encoder declines the line (nothing queued).
   */
  sendAscii(
    encoder: AsciiEncoder,
    bytes: Uint8Array,
    start: number,
    end: number,
    host: string,
  ): boolean {
    if (this.#closed) throw new Error("emitter is closed");
    const topic = encoder.type;
    const batch = this.#batchOf(topic);
    const empty = batch.encoder.count === 0;
    const size = batch.encoder.addAscii(encoder, bytes, start, end, host);
    if (size < 0) return false;
    const position = this.#positions.get(topic) ?? 0;
    if (empty) batch.first = position;
    this.#added(batch, topic, position, size);
    return true;
  }

  /** The batch of `topic`: sources send runs of one type, so the last one is kept at hand. */
  #batchOf(topic: string): TopicBatch {
    const last = this.#lastBatch;
    return last !== undefined && last.topic === topic
      ? last
      : (this.#lastBatch = this.#batch(topic));
  }

  /** Numbers the event just added at `position`, and sends its batch when full. */
  #added(batch: TopicBatch, topic: string, position: number, size: number): void {
    this.#positions.set(topic, position + 1);
    this.#stats.events++;
    if (size > this.#maxEventBytes) {
      // The event already has its index: the gap tells receivers, the counter tells us.
      this.#dropLast(batch, size);
      return;
    }
    if (batch.encoder.count >= this.#maxEvents || batch.encoder.byteLength >= this.#maxBytes) {
      this.#seal(batch);
    } else if (this.#lingerTimer === undefined) {
      this.#lingerTimer = setTimeout(() => {
        this.#lingerTimer = undefined;
        this.#sealAll();
        this.#link.pump();
      }, this.#lingerMs);
    }
  }

  /**
   * Queues `count` events already encoded as a body (BSON documents back to back,
   * all of type `topic`), numbered after what the topic sent before. For relays and
   * replays of `.bson` archives, which have the bytes already.
   */
  sendEncoded(topic: string, body: Uint8Array, count: number): void {
    if (this.#closed) throw new Error("emitter is closed");
    if (!isValidType(topic)) throw new TypeError(`invalid event type '${topic}'`);
    const batch = this.#batch(topic);
    this.#seal(batch);
    batch.first = this.#positions.get(topic) ?? 0;
    this.#positions.set(topic, batch.first + count);
    this.#stats.events += count;
    this.#queue(batch, body, count);
    this.#link.pump();
  }

  #batch(topic: string): TopicBatch {
    let batch = this.#batches.get(topic);
    if (batch === undefined) {
      batch = { topic, topicBytes: encoder.encode(topic), encoder: new BatchEncoder(), first: 0 };
      this.#batches.set(topic, batch);
    }
    return batch;
  }

  #dropLast(batch: TopicBatch, size: number): void {
    this.#stats.oversized++;
    batch.encoder.undoLast(size);
    // Seal what came before, so the dropped event's index shows as a gap downstream.
    this.#seal(batch);
  }

  /**
   * Queues the batch and offers it to libzmq at once, from the encoder's own
   * buffer: zmq_send copies it, so a message sent now needs no copy of its own.
   * One that has to wait gets one. Copying every message (256 KiB at full
   * speed) made buffers that outlived the young generation and were freed only
   * by a full GC: a steady source's RSS grew by 10 MB over ten minutes.
   */
  #seal(batch: TopicBatch): void {
    const count = batch.encoder.count;
    if (count === 0) return;
    const message = this.#queue(batch, batch.encoder.lend(), count);
    this.#link.pump();
    // The link sends in order: while anything waits, the message just queued does.
    if (this.#link.pendingMessages > 0) message.body = message.body.slice();
  }

  #queue(batch: TopicBatch, body: Uint8Array, count: number): LinkMessage {
    const message = {
      topicBytes: batch.topicBytes,
      body,
      topic: batch.topic,
      source: this.#sourceId,
      first: batch.first,
      events: count,
      sender: this.#sender,
    };
    this.#link.push(message);
    batch.first += count;
    return message;
  }

  /**
   * Queues an empty message carrying the position of each topic that holds
   * nothing now; on a tick, only of topics idle since the previous tick.
   */
  #announce(onTick = false): void {
    for (const [topic, position] of this.#positions) {
      const idle = this.#positionsAtTick.get(topic) === position;
      if (onTick) this.#positionsAtTick.set(topic, position);
      if (onTick && !idle) continue;
      const batch = this.#batches.get(topic);
      if (batch === undefined || batch.encoder.count > 0) continue;
      if (this.#link.holds(this.#sender, topic)) continue;
      this.#link.push({
        topicBytes: batch.topicBytes,
        body: new Uint8Array(0),
        topic,
        source: this.#sourceId,
        first: position,
        events: 0,
        sender: this.#sender,
      });
    }
    this.#link.pump();
  }

  #sealAll(): void {
    for (const batch of this.#batches.values()) this.#seal(batch);
  }

  /**
   * Resolves when the connection holds few enough messages to take more. A
   * producer that can wait (reading a file or stdin) awaits this so it is paced
   * by the network instead of filling memory and dropping. It also resolves when
   * `signal` aborts, so a producer waiting for a subscriber still sees Ctrl-C.
   */
  ready(signal?: AbortSignal): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#link.ready(signal);
  }

  /**
   * Sends every partial batch and resolves once everything is handed to libzmq.
   * While no peer subscribes, or peers push back, it waits: that is backpressure.
   */
  flush(): Promise<void> {
    if (this.#lingerTimer !== undefined) {
      clearTimeout(this.#lingerTimer);
      this.#lingerTimer = undefined;
    }
    this.#sealAll();
    return this.#link.sent(this.#sender);
  }

  /**
   * Sends what it holds (waiting up to `closeTimeoutMs` for a subscriber or
   * pushback to clear; what is still held then is counted as dropped) and closes,
   * with its connection unless that is a shared link. On a shared link it then
   * makes sure its last messages left the process, so that `deliveredMark()`
   * covers them: it waits for the link's drain when the link is closing (see
   * `EmitterLink.close`), or else, with one peer, pushes libzmq's queue out
   * behind them (see {@linkcode Emitter.deliveredMark}).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const timeout = new Promise<void>((resolve) =>
      timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, this.#closeTimeoutMs)
    );
    await Promise.race([this.flush(), timeout]);
    if (this.#announceTimer !== undefined) clearInterval(this.#announceTimer);
    // Tell receivers where each stream ended, so a lost last message is counted.
    this.#announce();
    await Promise.race([this.flush(), timeout]);
    this.#closed = true;
    this.#stats.dropped += this.#link.release(this.#sender);
    if (this.#ownsLink) {
      clearTimeout(timer);
      await this.#link.close();
      return;
    }
    const closing = this.#link.closing;
    if (closing !== undefined) {
      clearTimeout(timer);
      await closing;
      return;
    }
    if (!timedOut) await Promise.race([this.#pushOut(), timeout]);
    clearTimeout(timer);
    // Pushers still waiting (count-0 messages) go: nothing to count.
    this.#link.release(this.#sender);
  }

  /**
   * On a shared link that stays open, with one peer: queues position
   * announcements of its last wanted topic behind its own messages until
   * `sendHwm + 1` of them went to the peer after its last one, which is then out
   * of libzmq's queue. Receivers take a repeated announcement as nothing new.
   */
  async #pushOut(): Promise<void> {
    if (this.#link.severalPeers) return;
    this.#settle();
    const last = this.#lastWanted;
    if (this.#unsafe.length === 0 || last === undefined) return;
    const batch = this.#batches.get(last.topic);
    // Unwanted now (the peer went away): nothing could push them out; they stay unsafe.
    if (batch === undefined || !this.#link.wants(last.topic)) return;
    const needed = last.seq + this.#link.sendHwm + 1 - this.#link.wantedSent;
    const first = this.#positions.get(last.topic) ?? 0;
    for (let n = 0; n < needed; n++) {
      this.#link.push({
        topicBytes: batch.topicBytes,
        body: new Uint8Array(0),
        topic: last.topic,
        source: this.#sourceId,
        first,
        events: 0,
        sender: this.#sender,
      });
    }
    await this.#link.sent(this.#sender);
    this.#settle();
  }
}
