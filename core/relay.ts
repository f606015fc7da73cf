/**
 * A message relay between an XSUB side (publishers connect here) and an XPUB side
 * (subscribers connect here), with hooks for policy. The router is this plus its
 * filters and stats; the relay keeps the ZeroMQ details out of it.
 *
 * @module
 */
import { UsageError } from "./flags.ts";
import { DEFAULT_MAX_MESSAGE_SIZE } from "./protocol.ts";
import { HeldFrames, Poller, SocketType, ZmqContext, type ZmqSocket } from "./zmq/socket.ts";
import { type Endpoint, parseEndpoints } from "./endpoint.ts";
import { curveForEndpoint, type CurveKeys, curveKeys, type CurveOptions } from "./curve/options.ts";
import {
  describeHandshake,
  type HandshakeEvent,
  type HandshakeFailure,
  HandshakeMonitor,
} from "./curve/monitor.ts";
import { KeyDirectory, ZapHandler, type ZapRequest } from "./curve/zap.ts";
import { Queue } from "./queue.ts";
import { sleep } from "./sleep.ts";

/**
 * Upstream subscription changes held while libzmq refuses them; beyond this
 * the oldest are given up and counted.
 *
 * @example
 * ```ts
 * import { MAX_PENDING_SUBSCRIPTIONS } from "@eventstorm/core/internal";
 * MAX_PENDING_SUBSCRIPTIONS; // 1048576
 * ```
 */
export const MAX_PENDING_SUBSCRIPTIONS = 1 << 20;

/**
 * How many times the message size limit libzmq lets a frame from upstream be
 * (`ZMQ_MAXMSGSIZE`): a frame up to there is read and dropped as `oversized`,
 * counted; libzmq cuts the connection of a peer sending a larger one, which only
 * shows as a disconnect (docs/protocol.md, section 6). A little above 1: every
 * frame of a multipart message can be this large while libzmq holds it
 * (docs/security-notes.md).
 *
 * @example
 * ```ts
 * import { LIBZMQ_CAP_FACTOR } from "@eventstorm/core/internal";
 * LIBZMQ_CAP_FACTOR; // 1.25
 * ```
 */
export const LIBZMQ_CAP_FACTOR = 1.25;

/** The relay's own messages (stats, announcements) held at most while blocked. */
const MAX_OUTBOX = 10_000;
/**
 * A wait for a full subscriber queue this long is told (`warn`), and its end: a
 * commit or a burst takes far less, a stopped or stuck subscriber far more.
 */
const LONG_WAIT_MS = 5000;

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
  /**
   * When a subscriber's queue (`sendHwm`) is full: `"drop-newest"` (the default)
   * drops the message for that subscriber alone, who counts it lost; `"block"`
   * holds it and reads nothing more from upstream until every subscriber it is
   * for has room, so the slowest subscriber paces the others and, once the
   * upstream queues fill, the publishers.
   */
  whenFull?: "drop-newest" | "block";
  /** Messages queued from publishers before TCP pushes back on them. */
  receiveHwm?: number;
  /** A context to share. */
  context?: ZmqContext;
  /**
   * CURVE on both sides, per endpoint: every endpoint that binds is a server with
   * `curve.secretKey`, every endpoint that connects (a chained relay) a client of
   * `curve.serverKey`. Plaintext when absent.
   */
  curve?: CurveOptions;
  /** Admit only clients of the bound endpoints whose public certificate is in this directory (needs `curve`). */
  allowKeys?: string;
  /** Told of every refused handshake, as it is counted. */
  onRefused?: (refusal: Refusal) => void;
  /**
   * Told of files skipped in `allowKeys` (one line each, once), and of handshakes
   * that failed where the relay connects (once per endpoint and reason, then at
   * most once a minute); stderr by default.
   */
  warn?: (line: string) => void;
}

/** A refused CURVE handshake. */
export interface Refusal {
  /** Why. */
  reason: HandshakeFailure;
  /** The peer's address, when known: ZAP tells it (`unknown_key`). */
  peer?: string;
  /**
   * The relay's own endpoint the peer came to, when its address is not known:
   * libzmq's monitor names only that for a failed handshake on a bound socket.
   */
  endpoint?: string;
  /** The client's public key (Z85), for `unknown_key`. */
  key?: string;
}

/** Handshakes a relay refused, by reason, and those it admitted. */
export interface RelaySecurityStats {
  /** Clients admitted by the ZAP handler. */
  admitted: number;
  /** Refused handshakes by reason. */
  refused: Record<HandshakeFailure, number>;
}

/** Policy hooks called by {@linkcode Relay.run}, all on the JS thread. */
export interface RelayHooks {
  /**
   * A message from upstream: return true to forward it unchanged. `frames` are
   * views into reused buffers, valid only during the call; `frameCount` is the true
   * number of frames and `sizes[i]` the true size of frame i (a size larger than its
   * view means the frame was truncated). `peer` is who sent it (see
   * `ZmqSocket.peer`): a CURVE key or an address. `chained` is true when it came
   * through an upstream endpoint the relay connects to (`>`: another relay, which
   * forwards many sources' streams), false when from a peer that connected to a
   * bound upstream endpoint (a source itself).
   */
  message(
    frames: readonly Uint8Array[],
    frameCount: number,
    sizes: Int32Array,
    peer: string | undefined,
    chained: boolean,
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
 * import { Relay } from "@eventstorm/core/internal";
 * const relay = new Relay({ upstream: "@tcp://*:5555", downstream: "@tcp://*:5556" });
 * await relay.run({ message: () => true, subscription: (_on, prefix) => [prefix] });
 * ```
 */
export class Relay {
  readonly #context: ZmqContext;
  readonly #ownsContext: boolean;
  /**
   * The XSUB sockets: one for the endpoints that bind (sources connect there),
   * one for those that connect (upstream relays), so that a message is known to
   * come from one or the other.
   */
  readonly #upstreams: Upstream[] = [];
  readonly #downstream: ZmqSocket;
  readonly #poller: Poller;
  /** The frames of the message in hand, in libzmq's memory: read in place, forwarded uncopied. */
  readonly #held: HeldFrames;
  /** How much of each frame the hooks see: a longer topic or body is cut here, so they can tell. */
  readonly #limits: number[];
  readonly #sizes = new Int32Array(3);
  readonly #views: Uint8Array[] = [];
  readonly #subscriptionBuffer = [new Uint8Array(1024)];
  readonly #subscriptionSize = new Int32Array(1);
  readonly #outbox = new Queue<Uint8Array[]>();
  readonly #block: boolean;
  /** When the held message met a full subscriber queue (block), else undefined. */
  #waitingSince: number | undefined;
  #blockedMs = 0;
  /** Whether the current wait was told; when a wait was last told. */
  #waitTold = false;
  #waitToldAt = -Infinity;
  #subscriptionsLost = 0;
  readonly #zap: ZapHandler | undefined;
  readonly #keys: KeyDirectory | undefined;
  readonly #monitors: WatchedSocket[] = [];
  readonly #curve: boolean;
  readonly #warn: (line: string) => void;
  /** Client-side handshake failures reported, by endpoint and reason: when last. */
  readonly #reported = new Map<string, number>();
  readonly #monitorTimer: ReturnType<typeof setInterval> | undefined;
  readonly #refused: Record<HandshakeFailure, number> = {
    unknown_key: 0,
    bad_handshake: 0,
    plaintext_peer: 0,
  };
  readonly #onRefused: (refusal: Refusal) => void;
  #closed = false;
  #running: Promise<void> | undefined;

  /** Creates the relay; endpoint problems throw a one-line `UsageError`. */
  constructor(options: RelayOptions) {
    const upstream = [options.upstream].flat().flatMap((text) => parseEndpoints(text));
    const downstream = [options.downstream].flat().flatMap((text) => parseEndpoints(text));
    const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#ownsContext = options.context === undefined;
    this.#context = options.context ?? new ZmqContext();
    this.#onRefused = options.onRefused ?? (() => {});
    this.#warn = options.warn ?? ((line) => console.error(line));
    this.#curve = options.curve !== undefined;
    this.#block = options.whenFull === "block";
    const bound = upstream.filter((endpoint) => endpoint.bind);
    const chained = upstream.filter((endpoint) => !endpoint.bind);
    this.#downstream = this.#context.socket(SocketType.XPUB);
    try {
      if (options.allowKeys !== undefined && !options.curve) {
        throw new UsageError("--allow-keys needs --curve-secret (admission is by CURVE key)");
      }
      // Server keys pair with the endpoints that connect: sources first, then sinks.
      const keys = options.curve
        ? curveKeys(options.curve, [...upstream, ...downstream])
        : undefined;
      if (keys && [...upstream, ...downstream].some((endpoint) => endpoint.bind)) {
        const allowed = options.allowKeys === undefined
          ? undefined
          : new KeyDirectory(options.allowKeys, options.warn);
        this.#keys = allowed;
        this.#zap = new ZapHandler(this.#context, (request) => this.#admit(request, allowed));
      }
      // The downstream socket serves where it binds and is a client where it connects.
      const downstreamBinds = downstream.some((endpoint) => endpoint.bind);
      const downstreamConnects = downstream.some((endpoint) => !endpoint.bind);
      if ((this.#zap !== undefined && downstreamBinds) || downstreamConnects) {
        this.#monitors.push({
          monitor: new HandshakeMonitor(this.#context, this.#downstream),
          role: downstreamConnects ? (downstreamBinds ? "mixed" : "client") : "server",
          boundPorts: new Set(),
          disconnects: false,
        });
      }
      for (const [endpoints, isChained] of [[bound, false], [chained, true]] as const) {
        // Always one upstream socket, even with no endpoint at all.
        if (endpoints.length === 0 && (isChained || chained.length > 0)) continue;
        const socket = this.#context.socket(SocketType.XSUB);
        const entry: Upstream = { socket, chained: isChained, pending: [] };
        this.#upstreams.push(entry);
        // Watched always: libzmq cuts a peer whose frame is over ZMQ_MAXMSGSIZE and
        // says so nowhere else. Handshakes where this relay is the server when it
        // admits by key; where it is a client always, so that a refusal is told.
        const watched: WatchedSocket = {
          monitor: new HandshakeMonitor(this.#context, socket, {
            handshakes: isChained || this.#zap !== undefined,
            disconnects: true,
          }),
          role: isChained ? "client" : "server",
          boundPorts: new Set(),
          disconnects: true,
        };
        this.#monitors.push(watched);
        // The XSUB side sends nothing but subscriptions, and libzmq silently drops a
        // subscription that meets a full pipe: no send limit there, so a burst of
        // thousands waits in the queue instead of vanishing (their number is
        // bounded by the distinct prefixes downstream asks for).
        socket.configure({
          receiveHwm: options.receiveHwm ?? 1000,
          sendHwm: 0,
          maxMessageSize: Math.floor(maxMessageSize * LIBZMQ_CAP_FACTOR),
          lingerMs: 0,
        });
        for (const endpoint of endpoints) this.#attach(socket, endpoint, keys, watched);
      }
      this.#downstream.configure({
        sendHwm: options.sendHwm ?? 1000,
        lingerMs: 1000,
        noDrop: this.#block,
      });
      const downstreamWatch = this.#monitors.find((watched) => !watched.disconnects);
      for (const endpoint of downstream) {
        this.#attach(this.#downstream, endpoint, keys, downstreamWatch);
      }
    } catch (error) {
      this.#zap?.close();
      for (const { monitor } of this.#monitors) monitor.close();
      for (const { socket } of this.#upstreams) socket.close();
      this.#downstream.close();
      if (this.#ownsContext) void this.#context.terminate();
      throw error;
    }
    this.#held = new HeldFrames(this.#context, 3);
    this.#limits = [1024, maxMessageSize + 1, maxMessageSize + 1];
    this.#poller = new Poller(this.#context, [
      ...this.#upstreams.map(({ socket }) => socket),
      this.#downstream,
      ...(this.#zap ? [this.#zap.socket] : []),
    ]);
    this.#monitorTimer = setInterval(() => this.#readMonitors(), 250);
    Deno.unrefTimer(this.#monitorTimer as unknown as number);
  }

  /** Sets the endpoint's CURVE role (when `keys`), then binds or connects it. */
  #attach(
    socket: ZmqSocket,
    endpoint: Endpoint,
    keys: CurveKeys | undefined,
    watched: WatchedSocket | undefined,
  ): void {
    if (keys) curveForEndpoint(socket, keys, endpoint);
    socket.attach(endpoint);
    const port = endpoint.bind ? socket.lastEndpoint().match(/:(\d+)$/)?.[1] : undefined;
    if (port !== undefined) watched?.boundPorts.add(port);
  }

  #admit(request: ZapRequest, keys: KeyDirectory | undefined) {
    if (request.mechanism !== "CURVE" || request.key === undefined) {
      return { admit: false as const, reason: "CURVE required" };
    }
    if (keys === undefined || keys.nameOf(request.key) !== undefined) {
      return { admit: true as const, userId: request.key };
    }
    this.#refused.unknown_key++;
    this.#onRefused({ reason: "unknown_key", peer: request.address, key: request.key });
    return { admit: false as const, reason: "unknown key" };
  }

  #readMonitors(): void {
    for (const watched of this.#monitors) {
      for (const event of watched.monitor.drain()) {
        if (isClientEvent(watched, event)) {
          this.#reportClientEvent(event);
          continue;
        }
        // Unknown keys are counted by the ZAP handler, which knows the peer and key.
        if (event.outcome === "ok" || event.outcome === "unknown_key") continue;
        // A CURVE client never hangs up mid-handshake on its own (a wrong server key
        // is the server's protocol error), but a plaintext peer does whenever it sees
        // the mechanism mismatch first: it resets the connection before the server
        // reads its greeting, so the server sees only the hang-up.
        const reason = event.hungUp ? "plaintext_peer" : event.outcome;
        this.#refused[reason]++;
        this.#onRefused({ reason, endpoint: event.endpoint });
      }
    }
  }

  /**
   * A handshake where this relay connects (to a chained relay upstream, or to a
   * sink downstream): a failure is the other side refusing this relay, told once
   * per endpoint and reason (then at most once a minute), as clients tell it.
   */
  #reportClientEvent(event: HandshakeEvent): void {
    if (event.outcome === "ok") {
      this.#reported.clear();
      return;
    }
    const key = `${event.endpoint} ${event.outcome}`;
    const last = this.#reported.get(key);
    if (last !== undefined && Date.now() - last < REPORT_REPEAT_MS) return;
    this.#reported.set(key, Date.now());
    this.#warn(describeHandshake(event, true, this.#curve));
  }

  /**
   * Upstream connections that ended: sources that went away, and peers libzmq
   * cut off for a frame over {@linkcode LIBZMQ_CAP_FACTOR} times the limit.
   */
  get disconnects(): number {
    this.#readMonitors();
    let total = 0;
    for (const watched of this.#monitors) {
      if (watched.disconnects) total += watched.monitor.disconnects;
    }
    return total;
  }

  /**
   * Whether the relay is a CURVE server (CURVE on and some endpoint binds), and
   * then how many client keys `allowKeys` admits now (undefined without it: any
   * client that knows the server key); undefined when it is no CURVE server.
   */
  curveServer(): { keys: number | undefined } | undefined {
    return this.#zap === undefined ? undefined : { keys: this.#keys?.size };
  }

  /** Handshakes admitted and refused (all zero without CURVE). */
  securityStats(): RelaySecurityStats {
    this.#readMonitors();
    return { admitted: this.#zap?.stats().admitted ?? 0, refused: { ...this.#refused } };
  }

  /**
   * The addresses bound, upstream then downstream (real ports for `*`): the last
   * bound on each side, else the last connected.
   */
  boundEndpoints(): { upstream: string; downstream: string } {
    return {
      upstream: this.#upstreams[0].socket.lastEndpoint(),
      downstream: this.#downstream.lastEndpoint(),
    };
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
          for (const { pending } of this.#upstreams) pending.push({ on, prefix });
        }
      }
      this.#sendSubscriptions();
      let full = false;
      if (this.#waitingSince !== undefined && this.#downstream.sendHeld(this.#held)) {
        const waited = performance.now() - this.#waitingSince;
        this.#blockedMs += waited;
        this.#waitingSince = undefined;
        if (this.#waitTold) {
          this.#warn(`sinks take messages again, after ${(waited / 1000).toFixed(1)}s`);
          this.#waitTold = false;
        }
      }
      for (const { socket, chained } of this.#upstreams) {
        let handled = 0;
        while (handled < burst && this.#waitingSince === undefined) {
          const held = this.#held;
          const frameCount = socket.receiveHeld(held, this.#sizes);
          if (frameCount === 0) break;
          handled++;
          this.#views.length = 0;
          for (let i = 0; i < held.count; i++) this.#views.push(held.view(i, this.#limits[i]));
          if (
            hooks.message(this.#views, frameCount, this.#sizes, socket.peer, chained) &&
            !this.#downstream.sendHeld(held) && this.#block
          ) {
            // Held, not dropped: nothing more is read until the subscribers make room.
            this.#waitingSince = performance.now();
            break;
          }
          // A message the downstream queue cannot take is dropped there, as a
          // copying send would drop it; receivers count the gap.
          held.release();
        }
        if (handled === burst) full = true;
      }
      this.#sendOutbox();
      this.#zap?.handle();
      if (this.#waitingSince !== undefined) {
        this.#tellLongWait(this.#waitingSince);
        // libzmq tells no poller when a subscriber's queue has room again (an XPUB
        // always polls writable), and the upstream sockets stay readable: try again
        // after a millisecond, without polling them; every 20 ms once the wait is long
        // (a stopped sink: about 2% of a core at 1 ms).
        await sleep(performance.now() - this.#waitingSince < 1000 ? 1 : 20);
        continue;
      }
      // A full burst means more is waiting: only give timers a turn, do not sleep.
      // Subscriptions libzmq refused are retried shortly even if nothing else happens.
      const idleMs = this.#upstreams.some(({ pending }) => pending.length > 0) ? 10 : -1;
      await this.#poller.wait(full ? 0 : idleMs);
    }
  }

  /**
   * Sends the relay's own messages. When blocking, one a full subscriber queue
   * refuses waits for the next turn with those behind it (at most
   * {@linkcode MAX_OUTBOX}, then the oldest go: receivers count the gap); else it
   * is dropped there, as any other.
   */
  #sendOutbox(): void {
    const outbox = this.#outbox;
    while (outbox.length > 0) {
      if (!this.#downstream.send(outbox.peek()) && this.#block && !this.#closed) break;
      outbox.shift();
    }
    outbox.drop(outbox.length - MAX_OUTBOX);
  }

  /** Says a long wait for a full subscriber queue once, and at most once a minute. */
  #tellLongWait(since: number): void {
    const now = performance.now();
    if (this.#waitTold || now - since < LONG_WAIT_MS || now - this.#waitToldAt < REPORT_REPEAT_MS) {
      return;
    }
    this.#waitTold = true;
    this.#waitToldAt = now;
    this.#warn(
      `a sink's queue has been full for ${LONG_WAIT_MS / 1000}s: nothing more is read from ` +
        `sources until it takes more (--when-full block; libzmq does not say which sink)`,
    );
  }

  /**
   * Milliseconds the relay has waited, in all, with a message a full subscriber
   * queue could not take (`whenFull: "block"`; 0 otherwise).
   */
  get blockedMs(): number {
    const now = this.#waitingSince === undefined ? 0 : performance.now() - this.#waitingSince;
    return Math.round(this.#blockedMs + now);
  }

  /**
   * Subscription changes upstream refused or lost for good: 0 unless more than
   * {@linkcode MAX_PENDING_SUBSCRIPTIONS} waited at once.
   */
  get subscriptionsLost(): number {
    return this.#subscriptionsLost;
  }

  #sendSubscriptions(): void {
    for (const { socket, pending } of this.#upstreams) {
      let sent = 0;
      while (sent < pending.length) {
        const { on, prefix } = pending[sent];
        if (!socket.sendSubscription(on, prefix)) break;
        sent++;
      }
      pending.splice(0, sent);
      if (pending.length > MAX_PENDING_SUBSCRIPTIONS) {
        const excess = pending.length - MAX_PENDING_SUBSCRIPTIONS;
        pending.splice(0, excess);
        this.#subscriptionsLost += excess;
      }
    }
  }

  /** Stops the loop, sends what the relay queued itself, and releases the sockets. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.wake();
    if (this.#running) await this.#running;
    this.#sendOutbox();
    clearInterval(this.#monitorTimer);
    this.#readMonitors();
    for (const { monitor } of this.#monitors) monitor.close();
    this.#zap?.close();
    this.#poller.close();
    this.#held.release();
    for (const { socket } of this.#upstreams) socket.close();
    this.#downstream.close();
    if (this.#ownsContext) await this.#context.terminate();
  }
}

/** How often a failed handshake where the relay connects is told again, at most. */
const REPORT_REPEAT_MS = 60_000;

/** One upstream socket and what comes through it. */
interface Upstream {
  socket: ZmqSocket;
  /** Whether its endpoints connect (to upstream relays) rather than bind. */
  chained: boolean;
  /** Subscription changes it could not take yet, retried in order. */
  pending: { on: boolean; prefix: Uint8Array }[];
}

/** A monitored socket and which side of its handshakes the relay is on. */
interface WatchedSocket {
  monitor: HandshakeMonitor;
  /** `mixed`: a server where it binds (the ports in `boundPorts`), a client elsewhere. */
  role: "server" | "client" | "mixed";
  boundPorts: Set<string>;
  /** Whether its ended connections count in `disconnects` (the upstream sockets'). */
  disconnects: boolean;
}

/**
 * Whether the relay was the client in this handshake: libzmq names the peer's
 * address for a connection the socket made, its own bound address otherwise.
 */
function isClientEvent(watched: WatchedSocket, event: HandshakeEvent): boolean {
  if (watched.role !== "mixed") return watched.role === "client";
  const port = event.endpoint.match(/:(\d+)$/)?.[1];
  return port === undefined || !watched.boundPorts.has(port);
}
