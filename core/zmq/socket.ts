/**
 * ZeroMQ sockets over the FFI binding. Only the transport layer touches this
 * module; components use Emitter, Collector and the router.
 *
 * Threading rule: libzmq sockets are not thread-safe and `Poller.wait` runs
 * `zmq_poll` on a worker thread, so while a wait is in flight the polled sockets
 * must not be used; every socket call here is made from the JS thread between
 * waits. Breaking the rule races libzmq's command processing on two threads and
 * ends, rarely, in a libzmq assertion that aborts the process, so a socket refuses
 * every call while a wait holds it (a {@linkcode SocketBusyError}), which makes
 * the mistake fail at once and every time. A `Poller` has its own PAIR socket pair
 * so that `wake()` can end a wait from the JS thread without touching the polled
 * sockets.
 *
 * @module
 */
import { type LibZmq, loadLibzmq, zmqErrorText } from "./ffi.ts";
import { allocateNative, type NativeBytes, openLibc } from "../native.ts";
import { type Endpoint, formatEndpoint } from "../endpoint.ts";
import { UsageError } from "../flags.ts";

/** Socket types used by eventstorm (values from zmq.h). */
export const SocketType = { PAIR: 0, PUB: 1, SUB: 2, REQ: 3, REP: 4, XPUB: 9, XSUB: 10 } as const;
/** Socket type numbers. */
export type SocketType = typeof SocketType[keyof typeof SocketType];

const ZMQ_SUBSCRIBE = 6;
const ZMQ_UNSUBSCRIBE = 7;
const ZMQ_RCVMORE = 13;
const ZMQ_LINGER = 17;
const ZMQ_MAXMSGSIZE = 22;
const ZMQ_SNDHWM = 23;
const ZMQ_RCVHWM = 24;
const ZMQ_LAST_ENDPOINT = 32;
const ZMQ_XPUB_NODROP = 69;
const ZMQ_CURVE_SERVER = 47;
const ZMQ_CURVE_PUBLICKEY = 48;
const ZMQ_CURVE_SECRETKEY = 49;
const ZMQ_CURVE_SERVERKEY = 50;
const ZMQ_ZAP_DOMAIN = 55;
const ZMQ_IPV6 = 42;
const ZMQ_DONTWAIT = 1;
const ZMQ_SNDMORE = 2;
const ZMQ_POLLIN = 1;
const EAGAIN = 11;
const EINTR = 4;
const POLLITEM_SIZE = Deno.build.os === "windows" ? 24 : 16;

/** An error from libzmq, with its errno. */
export class ZmqError extends Error {
  /** libzmq's errno. */
  readonly errno: number;
  /** Creates the error. */
  constructor(message: string, errno: number) {
    super(message);
    this.name = "ZmqError";
    this.errno = errno;
  }
}

/**
 * A socket call made while a {@linkcode Poller} waits on the socket on another
 * thread: a bug in the caller, refused before it reaches libzmq.
 */
export class SocketBusyError extends Error {
  /** Creates the error. */
  constructor(what: string) {
    super(
      `${what} on a socket that a Poller is waiting on: wake the poller and let wait() return first`,
    );
    this.name = "SocketBusyError";
  }
}

/** A bind or connect that failed: the user's endpoint is wrong or taken. */
export class EndpointError extends UsageError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "EndpointError";
  }
}

/** `ipc://` paths sockets of this process have bound and not closed, to the socket. */
const boundIpcPaths = new Map<string, ZmqSocket>();
/**
 * `ipc://` paths this process closed, and when: libzmq may still be closing their
 * listener for a moment, which must not pass for another process's.
 */
const closedIpcPaths = new Map<string, number>();
const CLOSING_MS = 5000;

const LIBC_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer", optional: true },
} as const;
let libc: Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | null | undefined;

/**
 * Whether a process listens on the Unix stream socket at `path` (what an `ipc://`
 * endpoint is), by a connect that does not wait: true when it answers, its backlog
 * is full, or the file is a socket of another kind; false for a stale socket
 * nobody holds (or no file), and where it cannot be told (no libc, not allowed).
 */
function ipcListenerLive(path: string): boolean {
  libc ??= openLibc(LIBC_SYMBOLS);
  if (!libc) return false;
  const bytes = new TextEncoder().encode(path);
  if (bytes.length > 107) return false;
  const address = new Uint8Array(2 + bytes.length + 1);
  new DataView(address.buffer).setUint16(0, 1, /* AF_UNIX */ true);
  address.set(bytes, 2);
  // SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC
  const fd = libc.symbols.socket(1, 1 | 0o4000 | 0o2000000, 0);
  if (fd < 0) return false;
  try {
    if (libc.symbols.connect(fd, address, address.length) === 0) return true;
    const location = libc.symbols.__errno_location?.();
    const errno = location ? new Deno.UnsafePointerView(location).getInt32() : 0;
    // EAGAIN: a full backlog; EPROTOTYPE: a datagram socket's file (/dev/log, say).
    return errno === EAGAIN || errno === 91;
  } finally {
    libc.symbols.close(fd);
  }
}

/**
 * Refuses to bind an `ipc://` path that libzmq would take from its owner: libzmq
 * unlinks whatever is at the path before it binds, so a second router on the same
 * path silently orphans the first (which runs on, unreachable), and a regular file
 * there would be deleted. Also refuses a path this process has bound already (the
 * same endpoint given for two sockets).
 */
function checkIpcBind(endpoint: Endpoint, path: string): void {
  const shown = formatEndpoint(endpoint);
  if (boundIpcPaths.has(path)) {
    throw new EndpointError(
      `cannot bind ${shown}: this process binds it already (the same endpoint given twice?)`,
    );
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch {
    return; // Nothing there (or a missing directory, which libzmq reports).
  }
  if (!info.isSocket) {
    throw new EndpointError(
      `cannot bind ${shown}: ${path} exists and is not a socket (libzmq would delete it)`,
    );
  }
  // One this process bound and closed: libzmq may still be closing it; rebind as before.
  if (Date.now() - (closedIpcPaths.get(path) ?? -Infinity) < CLOSING_MS) return;
  if (ipcListenerLive(path)) {
    throw new EndpointError(`cannot bind ${shown}: in use by another process`);
  }
}

/** The file an `ipc://` address binds, absolute; undefined for `*` and abstract names. */
function ipcPath(address: string): string | undefined {
  if (!address.startsWith("ipc://")) return undefined;
  const path = address.slice("ipc://".length);
  if (path === "" || path === "*" || path.startsWith("@")) return undefined;
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}

/**
 * A libzmq context; every socket belongs to one. Programs share one between
 * several {@linkcode Emitter}s and {@linkcode Collector}s through their
 * `context` option, and terminate it when done.
 *
 * @example
 * ```ts
 * import { Collector, Emitter, ZmqContext } from "@eventstorm/core";
 * const context = new ZmqContext();
 * const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:5556", context });
 * const emitter = await Emitter.open({ endpoints: ">tcp://127.0.0.1:5556", context });
 * await emitter.close();
 * await collector.close();
 * await context.terminate();
 * ```
 */
export class ZmqContext {
  readonly #lib: LibZmq;
  #pointer: Deno.PointerValue;
  readonly #sockets = new Set<ZmqSocket>();

  /** Creates a context on the loaded libzmq. */
  constructor(lib: LibZmq = loadLibzmq()) {
    this.#lib = lib;
    this.#pointer = lib.symbols.zmq_ctx_new();
    if (!this.#pointer) throw new ZmqError("zmq_ctx_new failed", lib.symbols.zmq_errno());
  }

  /**
   * The libzmq in use.
   *
   * @internal
   */
  get lib(): LibZmq {
    return this.#lib;
  }

  /**
   * Opens a socket of `type` (for eventstorm's own transport).
   *
   * @internal
   */
  socket(type: SocketType): ZmqSocket {
    const pointer = this.#lib.symbols.zmq_socket(this.#pointer, type);
    if (!pointer) throw this.error("zmq_socket");
    const socket = new ZmqSocket(this, pointer, () => this.#sockets.delete(socket));
    this.#sockets.add(socket);
    return socket;
  }

  /** Closes every socket and terminates the context, waiting off-thread for linger. */
  async terminate(): Promise<void> {
    for (const socket of [...this.#sockets]) socket.close();
    if (!this.#pointer) return;
    const pointer = this.#pointer;
    this.#pointer = null;
    await this.#lib.symbols.zmq_ctx_term(pointer);
  }

  /** @internal */
  error(what: string): ZmqError {
    const errno = this.#lib.symbols.zmq_errno();
    return new ZmqError(`${what}: ${zmqErrorText(this.#lib, errno)}`, errno);
  }
}

const encoder = new TextEncoder();
const cString = (text: string) => encoder.encode(text + "\0");
const PEER_ADDRESS = cString("Peer-Address");
const USER_ID = cString("User-Id");

/** One libzmq socket. All calls are non-blocking. */
export class ZmqSocket {
  readonly #context: ZmqContext;
  readonly #z: LibZmq["symbols"];
  #pointer: Deno.PointerValue;
  readonly #onClose: () => void;
  #lastEndpoint = "";
  /** The `ipc://` files this socket bound. */
  readonly #ipcPaths: string[] = [];
  /** Set by `Poller.wait` while `zmq_poll` may use this socket on a worker thread. */
  #heldByPoller = false;
  readonly #int = new Int32Array(1);
  readonly #intBytes = new Uint8Array(this.#int.buffer);
  readonly #size = new BigUint64Array(1);
  readonly #sizeBytes = new Uint8Array(this.#size.buffer);
  /** Two zmq_msg_t (64 bytes each), off V8's heap so that they never move: a message, a pin. */
  readonly #messages = new Uint8Array(new ArrayBuffer(256));
  readonly #message = this.#messages.subarray(0, 64);
  readonly #pin = this.#messages.subarray(64, 128);
  #pinned = false;
  /** Where the pinned message's `Peer-Address` lives: the same pointer means the same connection. */
  #peerAddress: number | bigint = 0;
  #peer: string | undefined;
  /** Buffer lengths as bigints, cached: `usize` arguments must be bigints to stay on FFI's fast path. */
  readonly #lengths = new WeakMap<Uint8Array, bigint>();

  /** @internal Use `ZmqContext.socket`. */
  constructor(context: ZmqContext, pointer: Deno.PointerValue, onClose: () => void) {
    this.#context = context;
    this.#z = context.lib.symbols;
    this.#pointer = pointer;
    this.#onClose = onClose;
  }

  /** The raw socket pointer, for polling. */
  get pointer(): Deno.PointerValue {
    return this.#pointer;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#pointer === null;
  }

  /** @internal Marks the socket as used by a wait in flight (see the threading rule). */
  set heldByPoller(held: boolean) {
    this.#heldByPoller = held;
  }

  #idle(what: string): void {
    if (this.#heldByPoller) throw new SocketBusyError(what);
  }

  /** Sets an int socket option. */
  setInt(option: number, value: number): void {
    this.#idle("zmq_setsockopt");
    this.#int[0] = value;
    if (this.#z.zmq_setsockopt(this.#pointer, option, this.#intBytes, 4n) !== 0) {
      throw this.#context.error(`zmq_setsockopt(${option})`);
    }
  }

  /** Sets a 64-bit int socket option. */
  setInt64(option: number, value: number): void {
    this.#idle("zmq_setsockopt");
    const bytes = new Uint8Array(new BigInt64Array([BigInt(value)]).buffer);
    if (this.#z.zmq_setsockopt(this.#pointer, option, bytes, 8n) !== 0) {
      throw this.#context.error(`zmq_setsockopt(${option})`);
    }
  }

  /** Sets a bytes socket option. */
  setBytes(option: number, value: Uint8Array): void {
    this.#idle("zmq_setsockopt");
    if (this.#z.zmq_setsockopt(this.#pointer, option, value, BigInt(value.length)) !== 0) {
      throw this.#context.error(`zmq_setsockopt(${option})`);
    }
  }

  /** Sets high-water marks, linger, and the largest inbound message accepted. */
  configure(
    options: {
      sendHwm?: number;
      receiveHwm?: number;
      lingerMs?: number;
      maxMessageSize?: number;
      noDrop?: boolean;
    },
  ): void {
    if (options.sendHwm !== undefined) this.setInt(ZMQ_SNDHWM, options.sendHwm);
    if (options.receiveHwm !== undefined) this.setInt(ZMQ_RCVHWM, options.receiveHwm);
    if (options.lingerMs !== undefined) this.setInt(ZMQ_LINGER, options.lingerMs);
    if (options.maxMessageSize !== undefined) this.setInt64(ZMQ_MAXMSGSIZE, options.maxMessageSize);
    if (options.noDrop) this.setInt(ZMQ_XPUB_NODROP, 1);
  }

  /**
   * Makes the socket a CURVE server (`serverKey` absent: it holds the server's
   * secret key and authenticates through ZAP in `zapDomain`) or a CURVE client of
   * the server whose public key is `serverKey`. Keys are 32 bytes. Set before
   * bind or connect: libzmq applies it to connections made afterwards.
   */
  useCurve(
    keys: { secretKey: Uint8Array; publicKey: Uint8Array; serverKey?: Uint8Array },
    zapDomain = "eventstorm",
  ): void {
    if (keys.serverKey) {
      this.setBytes(ZMQ_CURVE_SERVERKEY, keys.serverKey);
      this.setBytes(ZMQ_CURVE_PUBLICKEY, keys.publicKey);
      this.setBytes(ZMQ_CURVE_SECRETKEY, keys.secretKey);
    } else {
      this.setInt(ZMQ_CURVE_SERVER, 1);
      this.setBytes(ZMQ_CURVE_SECRETKEY, keys.secretKey);
      this.setBytes(ZMQ_ZAP_DOMAIN, encoder.encode(zapDomain));
    }
  }

  /**
   * Starts libzmq's socket monitor: `events` (a ZMQ_EVENT_* mask) are published on
   * a PAIR socket bound at `address` (inproc), read with {@linkcode ZmqSocket.receive}.
   */
  monitor(address: string, events: number): void {
    this.#idle("zmq_socket_monitor");
    const start = this.#z.zmq_socket_monitor;
    if (!start) throw new ZmqError("this libzmq has no zmq_socket_monitor", 0);
    if (start(this.#pointer, cString(address), events) !== 0) {
      throw this.#context.error("zmq_socket_monitor");
    }
  }

  /** Subscribes a SUB socket to a topic prefix. */
  subscribe(prefix: Uint8Array): void {
    this.setBytes(ZMQ_SUBSCRIBE, prefix);
  }

  /** Removes one subscription of a SUB socket. */
  unsubscribe(prefix: Uint8Array): void {
    this.setBytes(ZMQ_UNSUBSCRIBE, prefix);
  }

  /**
   * Subscribes (`on`) or unsubscribes an XSUB socket, which takes subscriptions
   * as messages: byte 1 or 0, then the topic prefix.
   */
  sendSubscription(on: boolean, prefix: Uint8Array): boolean {
    const message = new Uint8Array(prefix.length + 1);
    message[0] = on ? 1 : 0;
    message.set(prefix, 1);
    return this.send([message]);
  }

  /** Binds or connects as the endpoint says; a failure is an {@linkcode EndpointError}. */
  attach(endpoint: Endpoint): void {
    this.#idle("bind/connect");
    // libzmq reads the option at each bind or connect. Only an IPv6 literal turns it on
    // (docs/protocol.md §1.2): with it on, `localhost` can resolve to ::1 and miss a
    // peer bound on 127.0.0.1.
    this.setInt(ZMQ_IPV6, endpoint.address.startsWith("tcp://[") ? 1 : 0);
    const ipc = endpoint.bind ? ipcPath(endpoint.address) : undefined;
    if (ipc !== undefined) checkIpcBind(endpoint, ipc);
    const fn = endpoint.bind ? this.#z.zmq_bind : this.#z.zmq_connect;
    if (fn(this.#pointer, cString(endpoint.address)) !== 0) {
      const error = this.#context.error(endpoint.bind ? "bind" : "connect");
      throw new EndpointError(
        `cannot ${endpoint.bind ? "bind" : "connect"} ${formatEndpoint(endpoint)}: ${
          error.message.replace(/^\w+: /, "")
        }`,
      );
    }
    this.#lastEndpoint = this.#readLastEndpoint();
    if (ipc !== undefined) {
      boundIpcPaths.set(ipc, this);
      this.#ipcPaths.push(ipc);
    }
  }

  /**
   * The address the socket last bound, with the real port when bound to `*`.
   * Read from libzmq at attach time, so that asking needs no libzmq call while a
   * poller holds the socket.
   */
  lastEndpoint(): string {
    return this.#lastEndpoint;
  }

  #readLastEndpoint(): string {
    const buffer = new Uint8Array(512);
    this.#size[0] = BigInt(buffer.length);
    if (this.#z.zmq_getsockopt(this.#pointer, ZMQ_LAST_ENDPOINT, buffer, this.#sizeBytes) !== 0) {
      throw this.#context.error("zmq_getsockopt(LAST_ENDPOINT)");
    }
    const length = Number(this.#size[0]);
    return new TextDecoder().decode(buffer.subarray(0, Math.max(0, length - 1)));
  }

  /**
   * Sends a multipart message without blocking. Returns false when the socket
   * cannot take it now (high-water mark with `ZMQ_XPUB_NODROP`, or no peer).
   */
  send(frames: readonly Uint8Array[]): boolean {
    this.#idle("zmq_send");
    const last = frames.length - 1;
    for (let i = 0; i <= last; i++) {
      const frame = frames[i];
      const flags = ZMQ_DONTWAIT | (i < last ? ZMQ_SNDMORE : 0);
      if (this.#z.zmq_send(this.#pointer, frame, BigInt(frame.length), flags) < 0) {
        const errno = this.#z.zmq_errno();
        // libzmq sends multipart messages atomically: a refused first frame leaves nothing queued.
        if (errno === EAGAIN && i === 0) return false;
        if (errno === EINTR && i === 0) return false;
        throw this.#context.error("zmq_send");
      }
    }
    return true;
  }

  /**
   * Receives one multipart message into `buffers` without blocking. Returns the
   * number of frames (0 when nothing is waiting). `sizes[i]` is the true size of
   * frame i, which may exceed its buffer (the copy is then truncated). Frames past
   * the last buffer are drained and only counted.
   */
  receive(buffers: readonly Uint8Array[], sizes: Int32Array): number {
    this.#idle("zmq_recv");
    return this.#receiveFrames(buffers, sizes, 0);
  }

  /**
   * Like {@linkcode ZmqSocket.receive}, and notes who sent the message, in
   * {@linkcode ZmqSocket.peer}: the ZAP `User-Id` (a CURVE client's key) when
   * there is one, else the peer's IP address.
   */
  receiveFrom(buffers: readonly Uint8Array[], sizes: Int32Array): number {
    this.#idle("zmq_msg_recv");
    const z = this.#z;
    const message = this.#message;
    z.zmq_msg_init(message);
    const size = z.zmq_msg_recv(message, this.#pointer, ZMQ_DONTWAIT);
    if (size < 0) {
      const errno = z.zmq_errno();
      z.zmq_msg_close(message);
      if (errno === EAGAIN || errno === EINTR) return 0;
      throw this.#context.error("zmq_msg_recv");
    }
    const length = Math.min(size, buffers[0].length);
    const data = z.zmq_msg_data(message);
    if (length > 0 && data !== null) {
      Deno.UnsafePointerView.copyInto(data, buffers[0].subarray(0, length));
    }
    sizes[0] = size;
    this.#notePeer(message);
    const more = z.zmq_msg_more(message) !== 0;
    z.zmq_msg_close(message);
    return more ? this.#receiveFrames(buffers, sizes, 1) : 1;
  }

  /**
   * Receives one multipart message into `held` without copying it: its first
   * frames stay in libzmq's memory (see {@linkcode HeldFrames}), later ones are
   * drained and only counted. Notes the sender, as
   * {@linkcode ZmqSocket.receiveFrom} does. Returns the number of frames (0 when
   * nothing is waiting); `sizes[i]` is the size of frame i.
   */
  receiveHeld(held: HeldFrames, sizes: Int32Array): number {
    this.#idle("zmq_msg_recv");
    held.release();
    const z = this.#z;
    let frames = 0;
    while (true) {
      const message = frames < held.capacity ? held.message(frames) : held.scratch;
      z.zmq_msg_init(message);
      const size = z.zmq_msg_recv(message, this.#pointer, ZMQ_DONTWAIT);
      if (size < 0) {
        const errno = z.zmq_errno();
        z.zmq_msg_close(message);
        if (frames === 0 && (errno === EAGAIN || errno === EINTR)) return 0;
        // The rest of a multipart message is there once its first frame is.
        if (errno === EINTR) continue;
        throw this.#context.error("zmq_msg_recv");
      }
      if (frames === 0) this.#notePeer(message);
      if (frames < sizes.length) sizes[frames] = size;
      const more = z.zmq_msg_more(message) !== 0;
      if (frames < held.capacity) held.hold(frames, z.zmq_msg_data(message), size);
      else z.zmq_msg_close(message);
      frames++;
      if (!more) return frames;
    }
  }

  /**
   * Sends the frames in `held` on this socket without copying them (libzmq takes
   * them over) and without blocking. Returns false when the socket cannot take
   * the message now, as {@linkcode ZmqSocket.send} does; `held` is then unchanged
   * for the caller to release.
   */
  sendHeld(held: HeldFrames): boolean {
    this.#idle("zmq_msg_send");
    const last = held.count - 1;
    for (let i = 0; i <= last; i++) {
      const flags = ZMQ_DONTWAIT | (i < last ? ZMQ_SNDMORE : 0);
      if (this.#z.zmq_msg_send(held.message(i), this.#pointer, flags) < 0) {
        const errno = this.#z.zmq_errno();
        // libzmq sends multipart messages atomically: a refused first frame leaves nothing queued.
        if ((errno === EAGAIN || errno === EINTR) && i === 0) return false;
        throw this.#context.error("zmq_msg_send");
      }
    }
    // Sent messages are empty again: releasing them is a no-op for libzmq.
    held.release();
    return true;
  }

  /**
   * Who sent the last message read by {@linkcode ZmqSocket.receiveFrom}:
   * `key:` and a CURVE client's Z85 key (the ZAP `User-Id`), else the peer's
   * address; undefined when libzmq knows neither (inproc).
   */
  get peer(): string | undefined {
    return this.#peer;
  }

  /**
   * Reads the peer of the message just received. Every message of a connection
   * shares libzmq's metadata, so the string is read once per connection: a copy
   * of one of its messages is kept (the pin) so that the metadata, and with it
   * the address compared, cannot be freed and reused by another connection.
   */
  #notePeer(message: Uint8Array): void {
    const z = this.#z;
    const address = z.zmq_msg_gets(message, PEER_ADDRESS);
    const value = address === null ? 0 : Deno.UnsafePointer.value(address);
    if (value !== 0 && value === this.#peerAddress) return;
    if (this.#pinned) z.zmq_msg_close(this.#pin);
    this.#pinned = false;
    this.#peerAddress = 0;
    const user = z.zmq_msg_gets(message, USER_ID);
    this.#peer = user !== null
      ? `key:${Deno.UnsafePointerView.getCString(user)}`
      : address !== null
      ? Deno.UnsafePointerView.getCString(address)
      : undefined;
    if (address === null) return;
    z.zmq_msg_init(this.#pin);
    if (z.zmq_msg_copy(this.#pin, message) === 0) {
      this.#pinned = true;
      this.#peerAddress = value;
    }
  }

  #receiveFrames(buffers: readonly Uint8Array[], sizes: Int32Array, received: number): number {
    let frames = received;
    const scratch = buffers[buffers.length - 1];
    while (true) {
      const target = frames < buffers.length ? buffers[frames] : scratch;
      const size = this.#z.zmq_recv(this.#pointer, target, this.#lengthOf(target), ZMQ_DONTWAIT);
      if (size < 0) {
        const errno = this.#z.zmq_errno();
        if (frames === 0 && (errno === EAGAIN || errno === EINTR)) return 0;
        if (errno === EINTR) continue;
        throw this.#context.error("zmq_recv");
      }
      if (frames < sizes.length) sizes[frames] = size;
      frames++;
      if (!this.#more()) return frames;
    }
  }

  #lengthOf(buffer: Uint8Array): bigint {
    let length = this.#lengths.get(buffer);
    if (length === undefined) {
      length = BigInt(buffer.length);
      this.#lengths.set(buffer, length);
    }
    return length;
  }

  #more(): boolean {
    this.#size[0] = 4n;
    this.#z.zmq_getsockopt(
      this.#pointer,
      ZMQ_RCVMORE,
      this.#intBytes,
      this.#sizeBytes,
    );
    return this.#int[0] !== 0;
  }

  /** Whether a message is waiting, checked without blocking. */
  readable(): boolean {
    this.#idle("zmq_poll");
    const item = new Uint8Array(POLLITEM_SIZE);
    writePollItem(new DataView(item.buffer), 0, this.#pointer);
    return this.#z.zmq_poll_now(item, 1, 0n) > 0;
  }

  /** Closes the socket (pending messages go out within the linger time). */
  close(): void {
    this.#idle("zmq_close");
    if (this.#pointer === null) return;
    if (this.#pinned) this.#z.zmq_msg_close(this.#pin);
    this.#pinned = false;
    this.#z.zmq_close(this.#pointer);
    this.#pointer = null;
    for (const path of this.#ipcPaths.splice(0)) {
      if (boundIpcPaths.get(path) === this) boundIpcPaths.delete(path);
      closedIpcPaths.set(path, Date.now());
    }
    this.#onClose();
  }
}

/**
 * Up to `capacity` frames of one received message, held in libzmq's own memory
 * (`zmq_msg_t`) so that a relay can look at them and forward them with no copy.
 * A view is valid until the frames are sent or released.
 */
export class HeldFrames {
  /** Frames a message may keep; later ones are drained. */
  readonly capacity: number;
  /** The zmq_msg_t structs, off V8's heap so that they never move; one spare to drain into. */
  readonly #storage: Uint8Array;
  readonly #messages: Uint8Array[];
  readonly #data: (Deno.PointerValue)[] = [];
  readonly #sizes: number[] = [];
  readonly #close: (message: Uint8Array) => void;
  /** Frames held now. */
  count = 0;

  /** Holds frames of messages received through `context`'s sockets. */
  constructor(context: ZmqContext, capacity: number) {
    this.capacity = capacity;
    this.#storage = new Uint8Array(new ArrayBuffer(64 * (capacity + 1)));
    this.#messages = Array.from(
      { length: capacity + 1 },
      (_, i) => this.#storage.subarray(64 * i, 64 * (i + 1)),
    );
    const close = context.lib.symbols.zmq_msg_close;
    this.#close = (message) => void close(message);
  }

  /** @internal The struct of frame `i`. */
  message(i: number): Uint8Array {
    return this.#messages[i];
  }

  /** @internal Where frames past `capacity` are drained. */
  get scratch(): Uint8Array {
    return this.#messages[this.capacity];
  }

  /** @internal Records frame `i`, just received. */
  hold(i: number, data: Deno.PointerValue, size: number): void {
    this.#data[i] = data;
    this.#sizes[i] = size;
    this.count = i + 1;
  }

  /**
   * The first `limit` bytes of frame `i`, read in place: valid only until the
   * frames are sent or released.
   */
  view(i: number, limit: number): Uint8Array {
    const length = Math.min(this.#sizes[i], limit);
    const data = this.#data[i];
    if (length === 0 || data === null) return new Uint8Array(0);
    return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(data, length));
  }

  /** Gives the frames back to libzmq. */
  release(): void {
    for (let i = 0; i < this.count; i++) this.#close(this.#messages[i]);
    this.count = 0;
  }
}

function writePollItem(view: DataView, offset: number, socket: Deno.PointerValue): void {
  view.setBigUint64(offset, BigInt(Deno.UnsafePointer.value(socket)), true);
  view.setInt16(offset + (POLLITEM_SIZE === 24 ? 16 : 12), ZMQ_POLLIN, true);
}

let pollerId = 0;

/**
 * Waits off-thread until one of a fixed set of sockets is readable, or `wake()`
 * is called, or the timeout passes.
 */
export class Poller {
  readonly #z: LibZmq["symbols"];
  /** Outside V8's heap: the wait on a worker thread may outlive this isolate. */
  readonly #memory: NativeBytes;
  readonly #items: Uint8Array;
  readonly #view: DataView;
  readonly #count: number;
  readonly #sockets: readonly ZmqSocket[];
  readonly #wakeIn: ZmqSocket;
  readonly #wakeOut: ZmqSocket;
  readonly #drain = [new Uint8Array(8)];
  readonly #drainSizes = new Int32Array(1);
  #waiting = false;
  #wakePending = false;

  /** Creates a poller over `sockets` (all must outlive it). */
  constructor(context: ZmqContext, sockets: readonly ZmqSocket[]) {
    this.#z = context.lib.symbols;
    const address = `inproc://eventstorm-wake-${++pollerId}-${crypto.randomUUID()}`;
    this.#wakeIn = context.socket(SocketType.PAIR);
    this.#wakeIn.attach({ bind: true, address });
    this.#wakeOut = context.socket(SocketType.PAIR);
    this.#wakeOut.attach({ bind: false, address });
    this.#sockets = [...sockets, this.#wakeIn];
    this.#count = sockets.length + 1;
    this.#memory = allocateNative(POLLITEM_SIZE * this.#count);
    this.#items = this.#memory.bytes;
    this.#view = new DataView(this.#items.buffer, this.#items.byteOffset, this.#items.byteLength);
    this.#sockets.forEach((socket, i) =>
      writePollItem(this.#view, i * POLLITEM_SIZE, socket.pointer)
    );
  }

  /**
   * Waits up to `timeoutMs` (-1: forever). Returns which sockets are readable, by
   * index in the constructor's list; an empty list after a wake or a timeout.
   */
  async wait(timeoutMs: number): Promise<boolean[]> {
    if (this.#waiting) throw new Error("Poller.wait is already in progress");
    this.#waiting = true;
    let result = 0;
    try {
      if (!this.#wakePending) {
        for (const socket of this.#sockets) socket.heldByPoller = true;
        result = await this.#z.zmq_poll(this.#items, this.#count, BigInt(timeoutMs));
      }
    } finally {
      for (const socket of this.#sockets) socket.heldByPoller = false;
      this.#waiting = false;
    }
    this.#wakePending = false;
    while (this.#wakeIn.receive(this.#drain, this.#drainSizes) > 0) { /* empty the wake queue */ }
    const ready: boolean[] = [];
    for (let i = 0; i < this.#count - 1; i++) {
      ready.push(
        result > 0 &&
          (this.#view.getInt16(i * POLLITEM_SIZE + (POLLITEM_SIZE === 24 ? 18 : 14), true) &
              ZMQ_POLLIN) !== 0,
      );
    }
    return ready;
  }

  /** Ends the current wait now, or the next one at once. Safe from any callback. */
  wake(): void {
    this.#wakePending = true;
    if (this.#waiting && !this.#wakeOut.closed) this.#wakeOut.send([new Uint8Array(1)]);
  }

  /** Releases the wake sockets, and the poll items unless a wait still uses them. */
  close(): void {
    this.#wakeIn.close();
    this.#wakeOut.close();
    if (!this.#waiting) this.#memory.free();
  }
}
