/**
 * The sending side of the wire: batches events per topic and publishes them.
 *
 * @module
 */
import { BatchEncoder, CodecError } from "./codec.ts";
import { type Event, type EventFields, isValidType, localHostname } from "./event.ts";
import { parseEndpoints } from "./endpoint.ts";
import type { DeliveredMark, EventOutput } from "./output.ts";
import { Queue } from "./queue.ts";
import { encodeHeader, HEADER_SIZE, randomSourceId } from "./protocol.ts";
import { SocketType, ZmqContext, type ZmqSocket } from "./zmq/socket.ts";
import { type CurveOptions, secureSocket } from "./curve/options.ts";
import type { HandshakeWatch } from "./curve/monitor.ts";

/** Options of {@linkcode Emitter}. */
export interface EmitterOptions {
  /** Where to publish: `>tcp://host:5555` connects (default form), `@tcp://*:5555` binds. */
  endpoints: string | string[];
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
  /** Messages queued inside libzmq per peer before it pushes back. */
  sendHwm?: number;
  /** Bytes held while no peer subscribes or peers push back; the oldest are dropped past it. */
  maxPendingBytes?: number;
  /** How long `close()` keeps trying to send what it holds, in ms. */
  closeTimeoutMs?: number;
  /**
   * How often, in ms, an idle topic announces its position (an empty message), so
   * that receivers notice the loss of a stream's last messages. Idle topics repeat
   * it every interval, since an announcement can be lost too. 0 disables.
   */
  announceMs?: number;
  /**
   * Called once, with the number of events held, when events have waited three
   * seconds without any subscriber: a person watching should learn why nothing
   * leaves (usually: no router is running). See {@linkcode waitingNotice}.
   */
  onWaiting?: (heldEvents: number) => void;
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
export function waitingNotice(label: string, endpoints: string[]): (heldEvents: number) => void {
  return (held) =>
    console.error(
      `${label}: nobody subscribes at ${endpoints.join(", ")} yet (is the router running?); ` +
        `holding ${held} events until someone does`,
    );
}

const WAITING_NOTICE_MS = 3000;

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
  /** Events dropped because a single event exceeded `maxEventBytes` or the BSON limit. */
  oversized: number;
  /** Events dropped because BSON cannot hold them (nested deeper than `MAX_NESTING`, cyclic). */
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

interface PendingMessage {
  topicBytes: Uint8Array;
  body: Uint8Array;
  /** Stream index of the first event; the header is written only when sent. */
  first: number;
  events: number;
  topic: string;
}

const encoder = new TextEncoder();
/** Messages an emitter may hold before `ready()` makes producers wait. */
const READY_MESSAGES = 64;

/**
 * Publishes events on protocol v1. `emit` batches per topic; a batch leaves when
 * it reaches `maxEvents` or `maxBytes`, or `lingerMs` after its first event. The
 * socket is an XPUB with `ZMQ_XPUB_NODROP`, so the emitter sees subscriptions and
 * pushback instead of libzmq dropping silently: while nobody subscribes or a peer
 * is full, messages are held (up to `maxPendingBytes`, then the oldest are dropped
 * and counted). Events are numbered per topic in the order they are given.
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
  readonly #context: ZmqContext;
  readonly #ownsContext: boolean;
  readonly #socket: ZmqSocket;
  readonly #sourceId: bigint;
  readonly #host: string;
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  readonly #lingerMs: number;
  readonly #maxEventBytes: number;
  readonly #maxPendingBytes: number;
  readonly #closeTimeoutMs: number;
  readonly #positions = new Map<string, number>();
  readonly #batches = new Map<string, TopicBatch>();
  #lastBatch: TopicBatch | undefined;
  readonly #pending = new Queue<PendingMessage>();
  readonly #frames: Uint8Array[] = [];
  readonly #header = new Uint8Array(HEADER_SIZE);
  #pumps = 0;
  #pendingBytes = 0;
  readonly #subscriptions = new Map<string, number>();
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #announceTimer: ReturnType<typeof setInterval> | undefined;
  #waitingTimer: ReturnType<typeof setInterval> | undefined;
  /** Each topic's position at the previous tick: unchanged means idle a whole interval. */
  readonly #positionsAtTick = new Map<string, number>();
  #pumpTimer: ReturnType<typeof setTimeout> | undefined;
  #drainWaiters: (() => void)[] = [];
  #readyWaiters: (() => void)[] = [];
  #closed = false;
  #watch: HandshakeWatch | undefined;
  /** Messages handed to libzmq while a subscription wanted their topic. */
  #wantedSent = 0;
  readonly #sendHwm: number;
  /** Whether more than one peer may take messages (see `deliveredMark`). */
  readonly #severalPeers: boolean;
  /** Whether close() saw libzmq deliver everything before its linger ran out. */
  #drained = false;
  readonly #receiveBuffers = [new Uint8Array(512)];
  readonly #receiveSizes = new Int32Array(1);
  readonly #stats: EmitterStats = {
    events: 0,
    messages: 0,
    eventsSent: 0,
    bytes: 0,
    unsubscribed: 0,
    dropped: 0,
    oversized: 0,
    unencodable: 0,
    pending: 0,
    subscriptions: 0,
  };

  /** Opens an emitter; endpoint problems throw a one-line `UsageError`. */
  // deno-lint-ignore require-await -- async so that a bad option rejects, never throws
  static async open(options: EmitterOptions & { context?: ZmqContext }): Promise<Emitter> {
    return new Emitter(options);
  }

  /** Creates an emitter (prefer {@linkcode Emitter.open}). */
  constructor(options: EmitterOptions & { context?: ZmqContext }) {
    const endpoints = (Array.isArray(options.endpoints) ? options.endpoints : [options.endpoints])
      .flatMap((text) => parseEndpoints(text));
    for (const [topic, index] of Object.entries(options.positions ?? {})) {
      // A bad index would throw later inside a timer, or wrap around on the wire.
      if (!Number.isSafeInteger(index) || index < 0) {
        throw new TypeError(`position of '${topic}' must be a whole number >= 0, not ${index}`);
      }
      this.#positions.set(topic, index);
    }
    this.#ownsContext = options.context === undefined;
    this.#context = options.context ?? new ZmqContext();
    this.#sourceId = options.sourceId ?? randomSourceId();
    this.#host = options.host ?? localHostname();
    this.#maxEvents = options.maxEvents ?? 1000;
    this.#maxBytes = options.maxBytes ?? 256 * 1024;
    this.#lingerMs = options.lingerMs ?? 10;
    this.#maxEventBytes = options.maxEventBytes ?? 1024 * 1024;
    this.#maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.#sendHwm = options.sendHwm ?? 1000;
    this.#severalPeers = endpoints.length > 1 || endpoints.some((endpoint) => endpoint.bind);
    this.#socket = this.#context.socket(SocketType.XPUB);
    try {
      this.#socket.configure({
        sendHwm: this.#sendHwm,
        lingerMs: this.#closeTimeoutMs,
        noDrop: true,
      });
      this.#watch = secureSocket(
        this.#context,
        this.#socket,
        endpoints,
        options.curve,
        options.onHandshakeFailure,
      );
      for (const endpoint of endpoints) this.#socket.attach(endpoint);
      const announceMs = options.announceMs ?? 1000;
      if (announceMs > 0) {
        this.#announceTimer = setInterval(() => this.#announce(true), announceMs);
        Deno.unrefTimer(this.#announceTimer as unknown as number);
      }
      if (options.onWaiting) {
        const onWaiting = options.onWaiting;
        let since: number | undefined;
        this.#waitingTimer = setInterval(() => {
          if (this.#subscriptions.size > 0 || this.#pending.length === 0) {
            since = undefined;
            return;
          }
          since ??= Date.now();
          if (Date.now() - since < WAITING_NOTICE_MS) return;
          clearInterval(this.#waitingTimer);
          onWaiting(this.stats().pending);
        }, 250);
        Deno.unrefTimer(this.#waitingTimer as unknown as number);
      }
    } catch (error) {
      this.#watch?.close();
      this.#socket.close();
      if (this.#ownsContext) void this.#context.terminate();
      throw error;
    }
  }

  /** The address last bound (with the real port when bound to `*`); empty when it only connects. */
  boundEndpoint(): string {
    return this.#socket.lastEndpoint();
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
   * process is killed) once `sendHwm + 1` later ones were queued after it, or once
   * `close()` drained everything. That count holds for one peer only: with
   * several (two `>` endpoints, redundant routers, or a bound endpoint), each
   * peer has its own queue and may take only some topics, so a message can sit in
   * one queue however many others follow it. Then nothing is known safe before
   * `close()` drained: conservative, a crash replays rather than loses.
   */
  deliveredMark(): DeliveredMark {
    const sent = this.#wantedSent;
    if (this.#drained) return { sent, safe: sent };
    if (this.#severalPeers) return { sent, safe: 0 };
    return { sent, safe: Math.max(0, sent - this.#sendHwm - 1) };
  }

  /** The counters. */
  stats(): EmitterStats {
    this.#stats.subscriptions = this.#subscriptions.size;
    this.#stats.pending = this.#pending.sum((message) => message.events) +
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
    // Sources send runs of one type: skip the map for the common case.
    const last = this.#lastBatch;
    const batch = last !== undefined && last.topic === topic
      ? last
      : (this.#lastBatch = this.#batch(topic));
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
    this.#positions.set(topic, position + 1);
    this.#stats.events++;
    if (size > this.#maxEventBytes) {
      // The event already has its index: the gap tells receivers, the counter tells us.
      this.#dropLast(batch, size);
      return;
    }
    if (batch.encoder.count >= this.#maxEvents || batch.encoder.byteLength >= this.#maxBytes) {
      this.#seal(batch);
      this.#pump();
    } else if (this.#lingerTimer === undefined) {
      this.#lingerTimer = setTimeout(() => {
        this.#lingerTimer = undefined;
        this.#sealAll();
        this.#pump();
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
    this.#pump();
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

  #seal(batch: TopicBatch): void {
    const count = batch.encoder.count;
    if (count === 0) return;
    this.#queue(batch, batch.encoder.take(), count);
  }

  #queue(batch: TopicBatch, body: Uint8Array, count: number): void {
    this.#pending.push({
      topicBytes: batch.topicBytes,
      body,
      first: batch.first,
      events: count,
      topic: batch.topic,
    });
    this.#pendingBytes += body.length + HEADER_SIZE;
    batch.first += count;
    while (this.#pendingBytes > this.#maxPendingBytes && this.#pending.length > 1) {
      const dropped = this.#pending.shift()!;
      this.#pendingBytes -= dropped.body.length + HEADER_SIZE;
      this.#stats.dropped += dropped.events;
    }
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
      if (this.#pending.some((message) => message.topic === topic)) continue;
      this.#pending.push({
        topicBytes: batch.topicBytes,
        body: new Uint8Array(0),
        first: position,
        events: 0,
        topic,
      });
      this.#pendingBytes += HEADER_SIZE;
    }
    this.#pump();
  }

  #sealAll(): void {
    for (const batch of this.#batches.values()) this.#seal(batch);
  }

  #readSubscriptions(): void {
    while (this.#socket.receive(this.#receiveBuffers, this.#receiveSizes) > 0) {
      const size = Math.min(this.#receiveSizes[0], this.#receiveBuffers[0].length);
      if (size < 1) continue;
      const frame = this.#receiveBuffers[0];
      const prefix = new TextDecoder().decode(frame.subarray(1, size));
      const count = this.#subscriptions.get(prefix) ?? 0;
      if (frame[0] === 1) this.#subscriptions.set(prefix, count + 1);
      else if (frame[0] === 0 && count <= 1) this.#subscriptions.delete(prefix);
      else if (frame[0] === 0) this.#subscriptions.set(prefix, count - 1);
    }
  }

  #wanted(topic: string): boolean {
    for (const prefix of this.#subscriptions.keys()) if (topic.startsWith(prefix)) return true;
    return false;
  }

  /** Hands pending messages to libzmq until it pushes back; schedules a retry if so. */
  #pump(): void {
    if (this.#socket.closed) return;
    // Subscriptions change rarely; reading them costs a syscall, so not on every pump.
    if (this.#subscriptions.size === 0 || (++this.#pumps & 255) === 0) this.#readSubscriptions();
    while (this.#pending.length > 0) {
      if (this.#subscriptions.size === 0) break;
      const message = this.#pending.peek();
      this.#frames[0] = message.topicBytes;
      this.#frames[1] = encodeHeader(
        { flags: 0, count: message.events, source: this.#sourceId, first: message.first },
        this.#header,
      );
      this.#frames[2] = message.body;
      if (!this.#socket.send(this.#frames)) {
        this.#readSubscriptions();
        break;
      }
      this.#pending.shift();
      this.#pendingBytes -= message.body.length + HEADER_SIZE;
      if (message.events > 0) this.#stats.messages++;
      this.#stats.eventsSent += message.events;
      this.#stats.bytes += message.body.length;
      if (!this.#wanted(message.topic)) this.#stats.unsubscribed += message.events;
      else this.#wantedSent++;
    }
    if (this.#pending.length > 0) {
      if (this.#pumpTimer === undefined) {
        this.#pumpTimer = setTimeout(() => {
          this.#pumpTimer = undefined;
          this.#pump();
        }, 2);
      }
    } else {
      for (const resolve of this.#drainWaiters.splice(0)) resolve();
    }
    if (this.#pending.length <= READY_MESSAGES) {
      for (const resolve of this.#readyWaiters.splice(0)) {
        resolve();
      }
    }
  }

  /**
   * Resolves when the emitter holds few enough messages to take more. A producer
   * that can wait (reading a file or stdin) awaits this so it is paced by the
   * network instead of filling memory and dropping. It also resolves when
   * `signal` aborts, so a producer waiting for a subscriber still sees Ctrl-C.
   */
  ready(signal?: AbortSignal): Promise<void> {
    if (this.#pending.length <= READY_MESSAGES || this.#closed || signal?.aborted) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const onAbort = () => {
        const index = this.#readyWaiters.indexOf(done);
        if (index >= 0) this.#readyWaiters.splice(index, 1);
        resolve();
      };
      const done = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#readyWaiters.push(done);
    });
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
    this.#pump();
    if (this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * Sends what it holds (waiting up to `closeTimeoutMs` for a subscriber or
   * pushback to clear; what is still held then is counted as dropped) and closes.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) =>
      timer = setTimeout(resolve, this.#closeTimeoutMs)
    );
    await Promise.race([this.flush(), timeout]);
    if (this.#announceTimer !== undefined) clearInterval(this.#announceTimer);
    clearInterval(this.#waitingTimer);
    // Tell receivers where each stream ended, so a lost last message is counted.
    this.#announce();
    await Promise.race([this.flush(), timeout]);
    clearTimeout(timer);
    this.#closed = true;
    const droppedBefore = this.#stats.dropped;
    this.#stats.dropped += this.#pending.sum((message) => message.events);
    this.#pending.clear();
    for (const resolve of [...this.#drainWaiters.splice(0), ...this.#readyWaiters.splice(0)]) {
      resolve();
    }
    if (this.#pumpTimer !== undefined) clearTimeout(this.#pumpTimer);
    this.#watch?.close();
    const everythingHanded = this.#stats.dropped === droppedBefore;
    this.#socket.close();
    if (this.#ownsContext) {
      const started = Date.now();
      await this.#context.terminate();
      // zmq_ctx_term waits for queued messages up to the linger: returning well
      // before it means they all reached the kernel.
      this.#drained = everythingHanded && Date.now() - started < this.#closeTimeoutMs - 100;
    }
  }
}
