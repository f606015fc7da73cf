/**
 * A message relay between an XSUB side (publishers connect here) and an XPUB side
 * (subscribers connect here), with hooks for policy. The router is this plus its
 * filters and stats; the relay keeps the ZeroMQ details out of it.
 *
 * @module
 */
import { parseEndpoints } from "./endpoint.ts";
import { DEFAULT_MAX_MESSAGE_SIZE } from "./protocol.ts";
import { Poller, SocketType, ZmqContext, type ZmqSocket } from "./zmq/socket.ts";

/**
 * Upstream subscription changes held while libzmq refuses them; beyond this
 * the oldest are given up and counted.
 *
 * @example
 * ```ts
 * import { MAX_PENDING_SUBSCRIPTIONS } from "@eventstorm/core";
 * MAX_PENDING_SUBSCRIPTIONS; // 1048576
 * ```
 */
export const MAX_PENDING_SUBSCRIPTIONS = 1 << 20;

/** Options of {@linkcode Relay}. */
export interface RelayOptions {
  /** Where publishers reach the relay (XSUB); `@` binds, `>` connects (to chain relays). */
  upstream: string | string[];
  /** Where subscribers reach the relay (XPUB). */
  downstream: string | string[];
  /** Largest message accepted from upstream. */
  maxMessageSize?: number;
  /** Messages queued per subscriber before libzmq drops for it (counted downstream). */
  sendHwm?: number;
  /** Messages queued from publishers before TCP pushes back on them. */
  receiveHwm?: number;
  /** A context to share. */
  context?: ZmqContext;
}

/** Policy hooks called by {@linkcode Relay.run}, all on the JS thread. */
export interface RelayHooks {
  /**
   * A message from upstream: return true to forward it unchanged. `frames` are
   * views into reused buffers, valid only during the call; `frameCount` is the true
   * number of frames and `sizes[i]` the true size of frame i (a size larger than its
   * view means the frame was truncated). `peer` is who sent it (see
   * `ZmqSocket.peer`): a CURVE key or an address.
   */
  message(
    frames: readonly Uint8Array[],
    frameCount: number,
    sizes: Int32Array,
    peer: string | undefined,
  ): boolean;
  /** A subscription change from downstream; returns the upstream changes to make. */
  subscription(subscribe: boolean, prefix: Uint8Array): Uint8Array[];
}

/**
 * Forwards messages from upstream to downstream and subscriptions the other way,
 * waiting in `zmq_poll` off the JS thread. The JS thread stays free for timers:
 * a busy relay yields after every few thousand messages.
 *
 * @example
 * ```ts ignore
 * import { Relay } from "@eventstorm/core";
 * const relay = new Relay({ upstream: "@tcp://*:5555", downstream: "@tcp://*:5556" });
 * await relay.run({ message: () => true, subscription: (_on, prefix) => [prefix] });
 * ```
 */
export class Relay {
  readonly #context: ZmqContext;
  readonly #ownsContext: boolean;
  readonly #upstream: ZmqSocket;
  readonly #downstream: ZmqSocket;
  readonly #poller: Poller;
  readonly #buffers: Uint8Array[];
  readonly #sizes = new Int32Array(3);
  readonly #views: Uint8Array[] = [];
  readonly #subscriptionBuffer = [new Uint8Array(1024)];
  readonly #subscriptionSize = new Int32Array(1);
  readonly #outbox: Uint8Array[][] = [];
  /** Upstream subscription changes libzmq could not take yet, retried in order. */
  readonly #pendingSubscriptions: { on: boolean; prefix: Uint8Array }[] = [];
  #subscriptionsLost = 0;
  #closed = false;
  #running: Promise<void> | undefined;

  /** Creates the relay; endpoint problems throw a one-line `UsageError`. */
  constructor(options: RelayOptions) {
    const upstream = [options.upstream].flat().flatMap((text) => parseEndpoints(text));
    const downstream = [options.downstream].flat().flatMap((text) => parseEndpoints(text));
    const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#ownsContext = options.context === undefined;
    this.#context = options.context ?? new ZmqContext();
    this.#upstream = this.#context.socket(SocketType.XSUB);
    this.#downstream = this.#context.socket(SocketType.XPUB);
    try {
      // The XSUB side sends nothing but subscriptions, and libzmq silently drops a
      // subscription that meets a full pipe: no send limit there, so a burst of
      // thousands waits in the queue instead of vanishing (their number is
      // bounded by the distinct prefixes downstream asks for).
      this.#upstream.configure({
        receiveHwm: options.receiveHwm ?? 1000,
        sendHwm: 0,
        maxMessageSize,
        lingerMs: 0,
      });
      this.#downstream.configure({ sendHwm: options.sendHwm ?? 1000, lingerMs: 1000 });
      for (const endpoint of upstream) this.#upstream.attach(endpoint);
      for (const endpoint of downstream) this.#downstream.attach(endpoint);
    } catch (error) {
      this.#upstream.close();
      this.#downstream.close();
      if (this.#ownsContext) void this.#context.terminate();
      throw error;
    }
    this.#buffers = [
      new Uint8Array(1024),
      new Uint8Array(maxMessageSize + 1),
      new Uint8Array(maxMessageSize + 1),
    ];
    this.#poller = new Poller(this.#context, [this.#upstream, this.#downstream]);
  }

  /** The addresses bound, upstream then downstream (real ports for `*`). */
  boundEndpoints(): { upstream: string; downstream: string } {
    return { upstream: this.#upstream.lastEndpoint(), downstream: this.#downstream.lastEndpoint() };
  }

  /** Queues a message of the relay's own (stats) for downstream; sent by the loop. */
  publish(frames: Uint8Array[]): void {
    this.#outbox.push(frames);
    this.#poller.wake();
  }

  /** Runs until {@linkcode Relay.close}. */
  run(hooks: RelayHooks): Promise<void> {
    if (this.#running) throw new Error("relay is already running");
    this.#running = this.#loop(hooks);
    return this.#running;
  }

  async #loop(hooks: RelayHooks): Promise<void> {
    const burst = 2000;
    while (!this.#closed) {
      while (this.#downstream.receive(this.#subscriptionBuffer, this.#subscriptionSize) > 0) {
        const size = Math.min(this.#subscriptionSize[0], this.#subscriptionBuffer[0].length);
        const frame = this.#subscriptionBuffer[0];
        if (size < 1 || (frame[0] !== 0 && frame[0] !== 1)) continue;
        const on = frame[0] === 1;
        for (const prefix of hooks.subscription(on, frame.slice(1, size))) {
          this.#pendingSubscriptions.push({ on, prefix });
        }
      }
      this.#sendSubscriptions();
      let handled = 0;
      while (handled < burst) {
        const frameCount = this.#upstream.receiveFrom(this.#buffers, this.#sizes);
        if (frameCount === 0) break;
        handled++;
        this.#views.length = 0;
        for (let i = 0; i < Math.min(frameCount, 3); i++) {
          this.#views.push(
            this.#buffers[i].subarray(0, Math.min(this.#sizes[i], this.#buffers[i].length)),
          );
        }
        if (hooks.message(this.#views, frameCount, this.#sizes, this.#upstream.peer)) {
          this.#downstream.send(this.#views);
        }
      }
      while (this.#outbox.length > 0) this.#downstream.send(this.#outbox.shift()!);
      // A full burst means more is waiting: only give timers a turn, do not sleep.
      // Subscriptions libzmq refused are retried shortly even if nothing else happens.
      const idleMs = this.#pendingSubscriptions.length > 0 ? 10 : -1;
      await this.#poller.wait(handled === burst ? 0 : idleMs);
    }
  }

  /**
   * Subscription changes upstream refused or lost for good: 0 unless more than
   * {@linkcode MAX_PENDING_SUBSCRIPTIONS} waited at once.
   */
  get subscriptionsLost(): number {
    return this.#subscriptionsLost;
  }

  #sendSubscriptions(): void {
    const pending = this.#pendingSubscriptions;
    let sent = 0;
    while (sent < pending.length) {
      const { on, prefix } = pending[sent];
      if (!this.#upstream.sendSubscription(on, prefix)) break;
      sent++;
    }
    pending.splice(0, sent);
    if (pending.length > MAX_PENDING_SUBSCRIPTIONS) {
      const excess = pending.length - MAX_PENDING_SUBSCRIPTIONS;
      pending.splice(0, excess);
      this.#subscriptionsLost += excess;
    }
  }

  /** Stops the loop, sends what the relay queued itself, and releases the sockets. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.wake();
    if (this.#running) await this.#running;
    while (this.#outbox.length > 0) this.#downstream.send(this.#outbox.shift()!);
    this.#poller.close();
    this.#upstream.close();
    this.#downstream.close();
    if (this.#ownsContext) await this.#context.terminate();
  }
}
