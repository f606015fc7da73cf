/**
 * The connection emitters publish on: one XPUB socket, the messages waiting for
 * it, and what its peers subscribe to. Each emitter opens its own unless it is
 * given one to share (the agent's inputs share one per host).
 *
 * @module
 */
import { parseEndpoints } from "./endpoint.ts";
import { Queue } from "./queue.ts";
import { encodeHeader, HEADER_SIZE } from "./protocol.ts";
import { SocketType, ZmqContext, type ZmqSocket } from "./zmq/socket.ts";
import { attachSecurely, type CurveOptions } from "./curve/options.ts";
import type { HandshakeWatch } from "./curve/monitor.ts";

/** Options of {@linkcode EmitterLink}. */
export interface EmitterLinkOptions {
  /** Where to publish: `>tcp://host:5555` connects (default form), `@tcp://*:5555` binds. */
  endpoints: string | string[];
  /** Messages queued inside libzmq per peer before it pushes back. */
  sendHwm?: number;
  /** Bytes held while no peer subscribes or peers push back; the oldest are dropped past it. */
  maxPendingBytes?: number;
  /** How long closing keeps trying to send what is held, in ms. */
  closeTimeoutMs?: number;
  /**
   * Called once, with the number of events held, when events have waited three
   * seconds without any subscriber: a person watching should learn why nothing
   * leaves (usually: no router is running). See `waitingNotice`.
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

/** The counters a message's sender keeps as the link hands its messages on. */
export interface LinkCounters {
  messages: number;
  eventsSent: number;
  bytes: number;
  unsubscribed: number;
  dropped: number;
  /** Events libzmq still held, it may be, when a close with one peer ran out of time. */
  unconfirmed: number;
}

/** Who queued a message: told what became of it. */
export interface LinkSender {
  readonly counters: LinkCounters;
  /** One of its messages, on `topic`, went to a subscriber as the link's `seq`-th such message. */
  wanted(seq: number, topic: string): void;
}

/** A message waiting for the socket; the header is written only when it is sent. */
export interface LinkMessage {
  topicBytes: Uint8Array;
  body: Uint8Array;
  topic: string;
  source: bigint;
  /** Stream index of the first event. */
  first: number;
  events: number;
  sender: LinkSender;
}

/** Messages a link may hold before `ready()` makes producers wait. */
const READY_MESSAGES = 64;
const WAITING_NOTICE_MS = 3000;
/** How stale the known subscriptions may get while some are known. */
const SUBSCRIPTIONS_READ_MS = 50;

/** The mechanics of a link, for the emitters on it (not public: see {@linkcode EmitterLink}). */
export class Link {
  readonly #context: ZmqContext;
  readonly #ownsContext: boolean;
  readonly #socket: ZmqSocket;
  readonly #endpoints: string[];
  readonly #sendHwm: number;
  readonly #maxPendingBytes: number;
  readonly #closeTimeoutMs: number;
  readonly #severalPeers: boolean;
  readonly #pending = new Queue<LinkMessage>();
  #pendingBytes = 0;
  readonly #heldBy = new Map<LinkSender, number>();
  readonly #frames: Uint8Array[] = [];
  readonly #header = new Uint8Array(HEADER_SIZE);
  readonly #subscriptions = new Map<string, number>();
  readonly #receiveBuffers = [new Uint8Array(512)];
  readonly #receiveSizes = new Int32Array(1);
  #subscriptionsReadAt = -Infinity;
  #pumpTimer: ReturnType<typeof setTimeout> | undefined;
  #waitingTimer: ReturnType<typeof setInterval> | undefined;
  #drainWaiters: { sender: LinkSender | undefined; resolve: () => void }[] = [];
  #readyWaiters: (() => void)[] = [];
  #watch: HandshakeWatch | undefined;
  #wantedSent = 0;
  /**
   * The last `sendHwm + 1` wanted messages, by whom and with how many events:
   * all that libzmq may still hold for one peer (see `Emitter.deliveredMark`).
   */
  readonly #recent: { sender: LinkSender; events: number }[] = [];
  #recentNext = 0;
  #closed = false;
  #drained = false;
  /** The close under way, once asked for. */
  #closing: Promise<void> | undefined;
  /** Senders that have not let go yet (see `register`, `release`). */
  readonly #senders = new Set<LinkSender>();
  #sendersGone: (() => void) | undefined;

  /** Opens the socket; endpoint problems throw a one-line `UsageError`. */
  constructor(options: EmitterLinkOptions & { context?: ZmqContext }) {
    const endpoints = (Array.isArray(options.endpoints) ? options.endpoints : [options.endpoints])
      .flatMap((text) => parseEndpoints(text));
    this.#endpoints = Array.isArray(options.endpoints) ? options.endpoints : [options.endpoints];
    this.#sendHwm = options.sendHwm ?? 1000;
    this.#maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.#severalPeers = endpoints.length > 1 || endpoints.some((endpoint) => endpoint.bind);
    this.#ownsContext = options.context === undefined;
    this.#context = options.context ?? new ZmqContext();
    this.#socket = this.#context.socket(SocketType.XPUB);
    try {
      this.#socket.configure({
        sendHwm: this.#sendHwm,
        lingerMs: this.#closeTimeoutMs,
        noDrop: true,
      });
      this.#watch = attachSecurely(
        this.#context,
        this.#socket,
        endpoints,
        options.curve,
        options.onHandshakeFailure,
      );
      if (options.onWaiting) this.#watchWaiting(options.onWaiting);
    } catch (error) {
      this.#watch?.close();
      this.#socket.close();
      if (this.#ownsContext) void this.#context.terminate();
      throw error;
    }
  }

  /** The endpoints as given. */
  get endpoints(): string[] {
    return [...this.#endpoints];
  }

  /** Messages queued inside libzmq per peer before it pushes back. */
  get sendHwm(): number {
    return this.#sendHwm;
  }

  /** How long closing keeps trying to send what is held, in ms. */
  get closeTimeoutMs(): number {
    return this.#closeTimeoutMs;
  }

  /** Whether more than one peer may take messages (see `Emitter.deliveredMark`). */
  get severalPeers(): boolean {
    return this.#severalPeers;
  }

  /** Messages handed to libzmq while a subscription wanted their topic, from every sender. */
  get wantedSent(): number {
    return this.#wantedSent;
  }

  /** Whether close() saw libzmq deliver everything before its linger ran out. */
  get drained(): boolean {
    return this.#drained;
  }

  /** Whether the link is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The close under way (resolves when closed), or undefined while none was asked for. */
  get closing(): Promise<void> | undefined {
    return this.#closing;
  }

  /** Whether a peer subscribes to `topic` now. */
  wants(topic: string): boolean {
    if (this.#socket.closed) return false;
    this.#readSubscriptions();
    return this.#wanted(topic);
  }

  /** Notes a sender (an emitter) on the link until it calls `release`. */
  register(sender: LinkSender): void {
    this.#senders.add(sender);
  }

  /** Topic prefixes peers subscribe to now. */
  get subscriptions(): number {
    if (!this.#socket.closed) this.#readSubscriptions();
    return this.#subscriptions.size;
  }

  /** The address last bound (with the real port when bound to `*`); empty when it only connects. */
  boundEndpoint(): string {
    return this.#socket.lastEndpoint();
  }

  /** Queues a message; past `maxPendingBytes` the oldest are dropped and counted. */
  push(message: LinkMessage): void {
    this.#pending.push(message);
    this.#heldBy.set(message.sender, (this.#heldBy.get(message.sender) ?? 0) + 1);
    this.#pendingBytes += message.body.length + HEADER_SIZE;
    while (this.#pendingBytes > this.#maxPendingBytes && this.#pending.length > 1) {
      const dropped = this.#pending.shift()!;
      this.#forget(dropped);
      dropped.sender.counters.dropped += dropped.events;
    }
  }

  /** Whether a message of `sender` on `topic` is waiting. */
  holds(sender: LinkSender, topic: string): boolean {
    if (!this.#heldBy.has(sender)) return false;
    return this.#pending.some((message) => message.sender === sender && message.topic === topic);
  }

  /** Events of `sender` waiting. */
  pendingEvents(sender: LinkSender): number {
    if (!this.#heldBy.has(sender)) return 0;
    return this.#pending.sum((message) => message.sender === sender ? message.events : 0);
  }

  /** Messages waiting, from every sender. */
  get pendingMessages(): number {
    return this.#pending.length;
  }

  /**
   * Takes back what `sender` still has waiting (it is done with the link);
   * returns its events.
   */
  release(sender: LinkSender): number {
    if (this.#senders.delete(sender) && this.#senders.size === 0) this.#sendersGone?.();
    if (!this.#heldBy.has(sender)) return 0;
    const all = this.#pending.shiftMany(this.#pending.length);
    let events = 0;
    for (const message of all) {
      if (message.sender !== sender) {
        this.#pending.push(message);
        continue;
      }
      this.#pendingBytes -= message.body.length + HEADER_SIZE;
      events += message.events;
    }
    this.#heldBy.delete(sender);
    this.#settle();
    return events;
  }

  #forget(message: LinkMessage): void {
    this.#pendingBytes -= message.body.length + HEADER_SIZE;
    const held = (this.#heldBy.get(message.sender) ?? 1) - 1;
    if (held > 0) this.#heldBy.set(message.sender, held);
    else this.#heldBy.delete(message.sender);
  }

  #readSubscriptions(): void {
    this.#subscriptionsReadAt = performance.now();
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

  /** Hands waiting messages to libzmq until it pushes back; schedules a retry if so. */
  pump(): void {
    if (this.#socket.closed) return;
    // Subscriptions change rarely and reading them costs a syscall, so not on every pump,
    // but at least every SUBSCRIPTIONS_READ_MS: an idle link pumps rarely, and a set left
    // stale (it was once every 256 pumps) handed libzmq messages for a peer gone, which
    // it dropped, counted as wanted.
    if (
      this.#subscriptions.size === 0 ||
      performance.now() - this.#subscriptionsReadAt >= SUBSCRIPTIONS_READ_MS
    ) this.#readSubscriptions();
    while (this.#pending.length > 0) {
      if (this.#subscriptions.size === 0) break;
      const message = this.#pending.peek();
      this.#frames[0] = message.topicBytes;
      this.#frames[1] = encodeHeader(
        { flags: 0, count: message.events, source: message.source, first: message.first },
        this.#header,
      );
      this.#frames[2] = message.body;
      if (!this.#socket.send(this.#frames)) {
        this.#readSubscriptions();
        break;
      }
      this.#pending.shift();
      this.#forget(message);
      const counters = message.sender.counters;
      if (message.events > 0) counters.messages++;
      counters.eventsSent += message.events;
      counters.bytes += message.body.length;
      if (!this.#wanted(message.topic)) counters.unsubscribed += message.events;
      else {
        this.#remember(message.sender, message.events);
        message.sender.wanted(++this.#wantedSent, message.topic);
      }
    }
    if (this.#pending.length > 0 && this.#pumpTimer === undefined) {
      this.#pumpTimer = setTimeout(() => {
        this.#pumpTimer = undefined;
        this.pump();
      }, 2);
    }
    this.#settle();
  }

  #remember(sender: LinkSender, events: number): void {
    const entry = { sender, events };
    if (this.#recent.length <= this.#sendHwm) this.#recent.push(entry);
    else this.#recent[this.#recentNext] = entry;
    this.#recentNext = (this.#recentNext + 1) % (this.#sendHwm + 1);
  }

  /** Resolves the waiters whose condition holds now. */
  #settle(): void {
    if (this.#drainWaiters.length > 0) {
      const waiting = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const waiter of waiting) {
        const done = waiter.sender === undefined
          ? this.#pending.length === 0
          : !this.#heldBy.has(waiter.sender);
        if (done) waiter.resolve();
        else this.#drainWaiters.push(waiter);
      }
    }
    if (this.#pending.length <= READY_MESSAGES) {
      for (const resolve of this.#readyWaiters.splice(0)) resolve();
    }
  }

  /**
   * Resolves when the link holds few enough messages to take more (or `signal`
   * aborts): producers that can wait are paced by the network.
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

  /** Resolves once nothing of `sender` (of anyone, without one) waits for the socket. */
  sent(sender?: LinkSender): Promise<void> {
    this.pump();
    const done = sender === undefined ? this.#pending.length === 0 : !this.#heldBy.has(sender);
    if (done || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push({ sender, resolve }));
  }

  #watchWaiting(onWaiting: (heldEvents: number) => void): void {
    let since: number | undefined;
    this.#waitingTimer = setInterval(() => {
      // A server that refused this key was already reported as such (HandshakeWatch):
      // "is the router running?" would point the reader the wrong way.
      if (this.#subscriptions.size > 0 || this.#pending.length === 0 || this.#watch?.refused) {
        since = undefined;
        return;
      }
      since ??= Date.now();
      if (Date.now() - since < WAITING_NOTICE_MS) return;
      clearInterval(this.#waitingTimer);
      onWaiting(this.#pending.sum((message) => message.events));
    }, 250);
    Deno.unrefTimer(this.#waitingTimer as unknown as number);
  }

  /**
   * Sends what is held (waiting up to `closeTimeoutMs`; what is still held then
   * is counted as dropped by its sender) and closes the socket. With
   * `afterSenders`, it first waits until every registered sender has let go
   * (`release`): senders closing meanwhile see `closing` and may wait for the
   * drain, which tells them their last messages left (see `drained`).
   */
  close(options: { afterSenders?: boolean } = {}): Promise<void> {
    if (this.#closing === undefined) {
      const senders = options.afterSenders && this.#senders.size > 0
        ? new Promise<void>((resolve) => this.#sendersGone = resolve)
        : Promise.resolve();
      this.#closing = senders.then(() => this.#close());
    }
    return this.#closing;
  }

  async #close(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) =>
      timer = setTimeout(resolve, this.#closeTimeoutMs)
    );
    await Promise.race([this.sent(), timeout]);
    clearTimeout(timer);
    this.#closed = true;
    clearInterval(this.#waitingTimer);
    let dropped = 0;
    for (const message of this.#pending.shiftMany(this.#pending.length)) {
      message.sender.counters.dropped += message.events;
      dropped += message.events;
    }
    this.#pendingBytes = 0;
    this.#heldBy.clear();
    for (const { resolve } of this.#drainWaiters.splice(0)) resolve();
    for (const resolve of this.#readyWaiters.splice(0)) resolve();
    if (this.#pumpTimer !== undefined) clearTimeout(this.#pumpTimer);
    this.#watch?.close();
    this.#socket.close();
    if (this.#ownsContext) {
      const started = Date.now();
      await this.#context.terminate();
      // zmq_ctx_term waits for queued messages up to the linger: returning well
      // before it means they all reached the kernel.
      this.#drained = dropped === 0 && Date.now() - started < this.#closeTimeoutMs - 100;
      // libzmq discards what its queue still holds when the linger runs out, and
      // the receiver cannot count a tail it never saw (not even the announcement
      // queued behind it): the senders must say so. With one peer the queue holds
      // at most the last sendHwm + 1 wanted messages; with several, each peer
      // has its own queue and another path may have delivered them.
      if (!this.#drained && !this.#severalPeers) {
        for (const { sender, events } of this.#recent) sender.counters.unconfirmed += events;
      }
    }
  }
}

const links = new WeakMap<EmitterLink, Link>();

/** The mechanics behind a public link. */
export function linkOf(link: EmitterLink): Link {
  return links.get(link)!;
}

/**
 * One publishing connection. The socket is an XPUB with `ZMQ_XPUB_NODROP`, so
 * the link sees subscriptions and pushback instead of libzmq dropping silently:
 * while nobody subscribes or a peer is full, messages are held (up to
 * `maxPendingBytes`, then the oldest are dropped and counted against their
 * sender). Emitters on one link keep their own streams, numbering and counters;
 * their messages leave in the order they were queued.
 *
 * @example One connection for two streams
 * ```ts ignore
 * import { Emitter } from "@eventstorm/core";
 * import { EmitterLink } from "@eventstorm/core/source";
 * const link = await EmitterLink.open({ endpoints: ">tcp://127.0.0.1:5555" });
 * const web = await Emitter.open({ link });
 * const mail = await Emitter.open({ link });
 * web.emit("http.hit", { status: 200 });
 * mail.emit("smtp.transaction", { nrcpt: 1 });
 * await web.close();
 * await mail.close();
 * await link.close();
 * ```
 */
export class EmitterLink {
  readonly #link: Link;

  /** Opens a link; endpoint problems throw a one-line `UsageError`. */
  // deno-lint-ignore require-await -- async so that a bad option rejects, never throws
  static async open(options: EmitterLinkOptions): Promise<EmitterLink> {
    return new EmitterLink(options);
  }

  /** Creates a link (prefer {@linkcode EmitterLink.open}). */
  constructor(options: EmitterLinkOptions) {
    this.#link = new Link(options);
    links.set(this, this.#link);
  }

  /** The address last bound (with the real port when bound to `*`); empty when it only connects. */
  boundEndpoint(): string {
    return this.#link.boundEndpoint();
  }

  /** Topic prefixes peers subscribe to now. */
  get subscriptions(): number {
    return this.#link.subscriptions;
  }

  /** Whether the link is closed. */
  get closed(): boolean {
    return this.#link.closed;
  }

  /**
   * Sends what is held (waiting up to `closeTimeoutMs`; what is still held then
   * is counted as dropped by the emitter that queued it) and closes the socket.
   * Close the emitters on the link first, so that each announces where its
   * streams end, or give `afterEmitters`: the link then waits until every
   * emitter on it has closed, and those closing meanwhile wait for the link to
   * drain, so that each knows its last messages left the process (see
   * `Emitter.deliveredMark`) when its `close()` resolves.
   */
  close(options: { afterEmitters?: boolean } = {}): Promise<void> {
    return this.#link.close({ afterSenders: options.afterEmitters });
  }
}
