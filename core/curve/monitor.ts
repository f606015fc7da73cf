/**
 * Handshake outcomes from libzmq's socket monitor, so that a refused or failed
 * CURVE handshake is never silent on either side of a link.
 *
 * @module
 */
import type { Endpoint } from "../endpoint.ts";
import { SocketType, type ZmqContext, type ZmqSocket } from "../zmq/socket.ts";

const EVENT_HANDSHAKE_FAILED_NO_DETAIL = 0x0800;
const EVENT_HANDSHAKE_SUCCEEDED = 0x1000;
const EVENT_HANDSHAKE_FAILED_PROTOCOL = 0x2000;
const EVENT_HANDSHAKE_FAILED_AUTH = 0x4000;
const EVENT_DISCONNECTED = 0x0200;
const PROTOCOL_ERROR_MECHANISM_MISMATCH = 0x11000002;
const HANDSHAKES = EVENT_HANDSHAKE_FAILED_NO_DETAIL | EVENT_HANDSHAKE_SUCCEEDED |
  EVENT_HANDSHAKE_FAILED_PROTOCOL | EVENT_HANDSHAKE_FAILED_AUTH;

/**
 * Why a handshake failed: `unknown_key` (ZAP said no), `plaintext_peer` (one side
 * speaks CURVE, the other does not), `bad_handshake` (anything else: a wrong
 * server key, a peer that hung up or spoke garbage mid-handshake).
 */
export type HandshakeFailure = "unknown_key" | "plaintext_peer" | "bad_handshake";

/** One handshake outcome. */
export interface HandshakeEvent {
  /** `ok`, or why it failed. */
  outcome: "ok" | HandshakeFailure;
  /** The endpoint libzmq names: the peer for a connecting socket, the bound address otherwise. */
  endpoint: string;
  /** The ZAP status code for `unknown_key` (e.g. 400), the protocol error code otherwise. */
  code: number;
  /**
   * The peer closed the connection before the handshake ended, giving no reason
   * (libzmq's HANDSHAKE_FAILED_NO_DETAIL; `code` is then an errno).
   */
  hungUp: boolean;
}

let monitorId = 0;

/**
 * Reads a socket's handshake events, without blocking, from the JS thread.
 *
 * @example
 * ```ts ignore
 * const monitor = new HandshakeMonitor(context, socket);
 * for (const event of monitor.drain()) console.log(event.outcome, event.endpoint);
 * ```
 */
export class HandshakeMonitor {
  readonly #reader: ZmqSocket;
  readonly #buffers = [new Uint8Array(16), new Uint8Array(1024)];
  readonly #sizes = new Int32Array(2);
  readonly #decoder = new TextDecoder();

  #disconnects = 0;

  /**
   * Starts monitoring `socket` (call before it binds or connects): its handshakes
   * unless `handshakes` is false, the connections that end when `disconnects`.
   */
  constructor(
    context: ZmqContext,
    socket: ZmqSocket,
    options: { handshakes?: boolean; disconnects?: boolean } = {},
  ) {
    const address = `inproc://eventstorm-monitor-${++monitorId}-${crypto.randomUUID()}`;
    socket.monitor(
      address,
      (options.handshakes === false ? 0 : HANDSHAKES) |
        (options.disconnects ? EVENT_DISCONNECTED : 0),
    );
    this.#reader = context.socket(SocketType.PAIR);
    this.#reader.attach({ bind: false, address });
  }

  /** The events that arrived since the last call. */
  drain(): HandshakeEvent[] {
    const events: HandshakeEvent[] = [];
    if (this.#reader.closed) return events;
    while (this.#reader.receive(this.#buffers, this.#sizes) === 2) {
      if (this.#sizes[0] < 6) continue;
      const view = new DataView(this.#buffers[0].buffer);
      const kind = view.getUint16(0, true);
      const value = view.getUint32(2, true);
      if (kind === EVENT_DISCONNECTED) {
        this.#disconnects++;
        continue;
      }
      const endpoint = this.#decoder.decode(
        this.#buffers[1].subarray(0, Math.min(this.#sizes[1], this.#buffers[1].length)),
      );
      const outcome = kind === EVENT_HANDSHAKE_SUCCEEDED
        ? "ok"
        : kind === EVENT_HANDSHAKE_FAILED_AUTH
        ? "unknown_key"
        : kind === EVENT_HANDSHAKE_FAILED_PROTOCOL && value === PROTOCOL_ERROR_MECHANISM_MISMATCH
        ? "plaintext_peer"
        : "bad_handshake";
      events.push({
        outcome,
        endpoint,
        code: value,
        hungUp: kind === EVENT_HANDSHAKE_FAILED_NO_DETAIL,
      });
    }
    return events;
  }

  /**
   * Connections of the socket that ended, as of the last {@linkcode drain}
   * (watched with `disconnects`): a peer that went away, or one libzmq cut off
   * (a frame over `ZMQ_MAXMSGSIZE`, a protocol error); libzmq tells no reason.
   */
  get disconnects(): number {
    return this.#disconnects;
  }

  /** Stops reading (the monitored socket's close ends the monitor itself). */
  close(): void {
    this.#reader.close();
  }
}

/** How often a client looks at its handshakes. */
const WATCH_INTERVAL_MS = 250;
/** A failure already reported is repeated at most this often. */
const REPEAT_MS = 60_000;

/**
 * The client side: says within a second, once per endpoint and reason (then at
 * most once a minute), why a server did not let this socket in, instead of
 * waiting quietly while libzmq retries.
 *
 * @example
 * ```ts ignore
 * const watch = new HandshakeWatch(context, socket, endpoints, (line) => console.error(line));
 * // ... later
 * watch.close();
 * ```
 */
export class HandshakeWatch {
  readonly #monitor: HandshakeMonitor;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #reported = new Map<string, number>();
  #refused = false;

  /** Watches `socket`, whose connecting endpoints are `endpoints`. */
  constructor(
    context: ZmqContext,
    socket: ZmqSocket,
    endpoints: readonly Endpoint[],
    report: (line: string) => void,
    curve: boolean,
  ) {
    this.#monitor = new HandshakeMonitor(context, socket);
    const connects = endpoints.some((endpoint) => !endpoint.bind);
    this.#timer = setInterval(() => {
      for (const event of this.#monitor.drain()) {
        if (event.outcome === "ok") {
          this.#reported.clear();
          this.#refused = false;
          continue;
        }
        this.#refused = true;
        const key = `${event.endpoint} ${event.outcome}`;
        const last = this.#reported.get(key);
        if (last !== undefined && Date.now() - last < REPEAT_MS) continue;
        this.#reported.set(key, Date.now());
        report(describeHandshake(event, connects, curve));
      }
    }, WATCH_INTERVAL_MS);
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  /**
   * Whether the last handshake outcome seen was a failure (the server refused
   * this key, or the mechanisms differ): a "nobody subscribes (is the router
   * running?)" notice would then mislead, as the line already reported says why.
   */
  get refused(): boolean {
    return this.#refused;
  }

  /** Stops watching. */
  close(): void {
    clearInterval(this.#timer);
    this.#monitor.close();
  }
}

/**
 * The line a client prints for a failed handshake: `connects` when it connected
 * to the server (else it binds, and the failure is a peer's on its endpoint).
 *
 * @example
 * ```ts ignore
 * describeHandshake(event, true, true); // "the server at tcp://… refused this key …"
 * ```
 */
export function describeHandshake(
  event: HandshakeEvent,
  connects: boolean,
  curve: boolean,
): string {
  const where = connects ? `the server at ${event.endpoint}` : `a peer on ${event.endpoint}`;
  switch (event.outcome) {
    case "unknown_key":
      return `${where} refused this key (ZAP status ${event.code}): ` +
        "is its public certificate in the server's --allow-keys directory?";
    case "plaintext_peer":
      return curve
        ? `${where} does not speak CURVE (a plaintext endpoint?)`
        : `${where} requires CURVE: give --curve-server and --curve-secret`;
    default:
      return curve
        ? `the CURVE handshake with ${where} failed (wrong --curve-server key?)`
        : `the handshake with ${where} failed`;
  }
}
