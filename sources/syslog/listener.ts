/**
 * Syslog listeners: UDP and Unix datagram sockets (one message per datagram, as
 * nginx's `syslog:server=unix:` and the C library's syslog(3) send), TCP and Unix
 * stream sockets (RFC 6587 framing).
 *
 * @module
 */
import { UsageError } from "@eventstorm/core/cli";
import { acceptRetrying } from "@eventstorm/core/internal";
import { SyslogFramer, trim } from "./framing.ts";
import { DatagramReceiver, probeUnixSocket } from "./datagram.ts";

/**
 * Where to listen: `udp://HOST:PORT`, `tcp://HOST:PORT`, `unix:///PATH` (a datagram
 * socket, as /dev/log is) or `unix-stream:///PATH`.
 */
export interface ListenAddress {
  /** Transport; `unix` is a datagram socket. */
  transport: "udp" | "tcp" | "unix" | "unix-stream";
  /** Host for udp/tcp. */
  hostname: string;
  /** Port for udp/tcp. */
  port: number;
  /** Socket path for unix and unix-stream. */
  path: string;
  /** The address as given. */
  text: string;
}

/**
 * Parses a `--listen` value; a bad one throws a one-line `UsageError`.
 *
 * @example
 * ```ts
 * import { parseListenAddress } from "@eventstorm/source-syslog";
 * parseListenAddress("udp://127.0.0.1:5514").port; // 5514
 * ```
 */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(udp|tcp):\/\/(\[[0-9a-fA-F:.]+\]|[^:/\s]+):(\d{1,5})$/.exec(text);
  if (m) {
    const port = Number(m[3]);
    if (port > 65535) throw new UsageError(`--listen ${text}: port out of range`);
    const hostname = m[2].startsWith("[") ? m[2].slice(1, -1) : m[2];
    return { transport: m[1] as "udp" | "tcp", hostname, port, path: "", text };
  }
  const u = /^(unix|unix-stream):\/\/(\/.+)$/.exec(text);
  if (u) {
    return { transport: u[1] as "unix" | "unix-stream", hostname: "", port: 0, path: u[2], text };
  }
  throw new UsageError(
    `--listen ${text}: expected udp://HOST:PORT, tcp://HOST:PORT, unix:///PATH ` +
      `or unix-stream:///PATH`,
  );
}

/** Counters of {@linkcode SyslogListeners}. */
export interface ListenerStats {
  /** Datagrams received (UDP and Unix). */
  datagrams: number;
  /** Stream connections accepted. */
  connections: number;
  /** Bytes received. */
  bytes: number;
  /** Stream messages cut to the limit. */
  tooLong: number;
  /** Stream octet counts that made no sense (the line skipped). */
  badFrames: number;
  /** Connections that ended with an error. */
  connectionErrors: number;
  /** Accepts that failed (out of file descriptors), retried. */
  acceptErrors: number;
}

/**
 * Opens every address and hands each message (as bytes, without trailing
 * newline) to `onMessage` with the address it came in on.
 *
 * @example
 * ```ts ignore
 * import { SyslogListeners, parseListenAddress } from "@eventstorm/source-syslog";
 * const listeners = await SyslogListeners.open([parseListenAddress("udp://127.0.0.1:5514")],
 *   (message) => console.log(new TextDecoder().decode(message)));
 * listeners.close();
 * ```
 */
export class SyslogListeners {
  /** What the listener has received and dropped. */
  readonly stats: ListenerStats = {
    datagrams: 0,
    connections: 0,
    bytes: 0,
    tooLong: 0,
    badFrames: 0,
    connectionErrors: 0,
    acceptErrors: 0,
  };
  readonly #datagram: DatagramReceiver[] = [];
  #closedDrops = 0;
  /** Unix socket files this made, removed on close. */
  readonly #paths: string[] = [];
  readonly #stream: Deno.Listener[] = [];
  readonly #conns = new Set<Deno.Conn>();
  readonly #loops: Promise<void>[] = [];
  /** Connections being read; each leaves once done (a sender that connects per message makes millions). */
  readonly #reads = new Set<Promise<void>>();
  readonly #maxBytes: number;
  readonly #onMessage: (message: Uint8Array, via: string) => void;
  /** What the operator should know about the sockets opened (one line each). */
  readonly warnings: string[] = [];
  /** The UDP and TCP ports actually bound (port 0 picks one), by address text. */
  readonly boundPorts: Map<string, number> = new Map();
  /** Every address as bound, in the order given: a port 0 replaced by the one picked. */
  readonly bound: string[] = [];

  private constructor(maxBytes: number, onMessage: (message: Uint8Array, via: string) => void) {
    this.#maxBytes = maxBytes;
    this.#onMessage = onMessage;
  }

  /** Binds every address; a failure closes what was opened and throws a `UsageError`. */
  static async open(
    addresses: readonly ListenAddress[],
    onMessage: (message: Uint8Array, via: string) => void,
    maxBytes = 65536,
  ): Promise<SyslogListeners> {
    const listeners = new SyslogListeners(maxBytes, onMessage);
    try {
      for (const address of addresses) listeners.bound.push(listeners.#open(address));
    } catch (error) {
      await listeners.close();
      const message = error instanceof Error ? error.message : String(error);
      throw new UsageError(
        `cannot listen on ${addresses.map((a) => a.text).join(", ")}: ${message}`,
      );
    }
    return listeners;
  }

  /** Binds `address`; returns it as bound (a port 0 replaced by the one picked). */
  #open(address: ListenAddress): string {
    const unixPath = address.transport === "unix" || address.transport === "unix-stream"
      ? address.path
      : undefined;
    if (unixPath !== undefined) {
      removeStaleSocket(unixPath, address.transport === "unix" ? "dgram" : "stream");
    }
    const bound = address.transport === "udp" || address.transport === "unix"
      ? this.#openDatagram(address)
      : this.#openStream(address);
    if (unixPath !== undefined) {
      this.#paths.push(unixPath);
      // Writable by every user, as /dev/log is: daemons send as themselves.
      Deno.chmodSync(unixPath, 0o666);
    }
    return bound;
  }

  /** `address` as bound to `port`: what messages say they came in on (`path` of unparsed events). */
  #boundText(address: ListenAddress, port: number): string {
    this.boundPorts.set(address.text, port);
    return address.port === 0 ? address.text.replace(/:0$/, `:${port}`) : address.text;
  }

  #openDatagram(address: ListenAddress): string {
    // Set once bound, before any datagram can be read.
    let via = address.text;
    const onDatagram = (message: Uint8Array) => {
      this.stats.datagrams++;
      this.stats.bytes += message.length;
      const body = message.length > this.#maxBytes
        ? (this.stats.tooLong++, message.subarray(0, this.#maxBytes))
        : message;
      this.#onMessage(trim(body), via);
    };
    const options = { maxBytes: this.#maxBytes };
    const receiver = address.transport === "udp"
      ? DatagramReceiver.bindUdp(address.hostname, address.port, onDatagram, options)
      : DatagramReceiver.bindUnix(address.path, onDatagram, options);
    if (address.transport === "udp") via = this.#boundText(address, receiver.port);
    else {
      const queue = unixDatagramQueue();
      if (queue !== undefined && queue < 512) {
        this.warnings.push(
          `${address.text}: the kernel queues at most ${queue} datagrams on a Unix socket ` +
            `(net.unix.max_dgram_qlen); a sender that does not wait, as nginx, drops what ` +
            `does not fit and says so only in its own error log: raise it to 512 as systemd ` +
            `does (sysctl -w net.unix.max_dgram_qlen=512) or listen on udp:// or tcp://`,
        );
      }
    }
    this.#datagram.push(receiver);
    return via;
  }

  #openStream(address: ListenAddress): string {
    const listener = address.transport === "unix-stream"
      ? Deno.listen({ transport: "unix", path: address.path })
      : Deno.listen({ hostname: address.hostname, port: address.port });
    const via = address.transport === "tcp"
      ? this.#boundText(address, (listener.addr as Deno.NetAddr).port)
      : address.text;
    this.#stream.push(listener);
    this.#loops.push(this.#accept(listener, via));
    return via;
  }

  async #accept(listener: Deno.Listener, via: string): Promise<void> {
    const open = () => this.#stream.includes(listener);
    const failed = (message: string, say: boolean) => {
      this.stats.acceptErrors++;
      if (say) {
        console.error(
          `source syslog: warning: ${via}: cannot accept connections ` +
            `(${this.#conns.size} open): ${message}; retrying`,
        );
      }
    };
    for await (const conn of acceptRetrying(listener, open, failed)) {
      this.stats.connections++;
      this.#conns.add(conn);
      const reading: Promise<void> = this.#read(conn, via).finally(() =>
        this.#reads.delete(reading)
      );
      this.#reads.add(reading);
    }
  }

  async #read(conn: Deno.Conn, via: string): Promise<void> {
    const framer = new SyslogFramer(this.#maxBytes);
    // Small at first and grown while reads fill it: thousands of idle connections
    // must not hold 64 KiB each (20,000 held 1.3 GB).
    let buffer = new Uint8Array(4096);
    let counted = { tooLong: 0, badFrames: 0 };
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        this.stats.bytes += n;
        for (const message of framer.push(buffer.subarray(0, n))) this.#onMessage(message, via);
        if (n === buffer.length && buffer.length < 64 * 1024) {
          buffer = new Uint8Array(buffer.length * 4);
        }
        // Counted as they happen: rsyslog and nginx keep one connection open for days,
        // and counts that waited for its end would read 0 on every stats line meanwhile.
        counted = this.#countFramer(framer, counted);
      }
      for (const message of framer.end()) this.#onMessage(message, via);
    } catch {
      if (this.#conns.has(conn)) this.stats.connectionErrors++;
    } finally {
      this.#countFramer(framer, counted);
      if (this.#conns.delete(conn)) {
        try {
          conn.close();
        } catch {
          // Already closed by the peer.
        }
      }
    }
  }

  /** Adds what `framer` counted since `counted`; returns its counts now. */
  #countFramer(
    framer: SyslogFramer,
    counted: { tooLong: number; badFrames: number },
  ): { tooLong: number; badFrames: number } {
    const { tooLong, badFrames } = framer.stats;
    this.stats.tooLong += tooLong - counted.tooLong;
    this.stats.badFrames += badFrames - counted.badFrames;
    return { tooLong, badFrames };
  }

  /**
   * Datagrams the kernel dropped on this listener's UDP sockets because their
   * buffer was full (each socket's own count, /proc/net/udp), closed ones included.
   */
  kernelDrops(): number {
    return this.#datagram.reduce(
      (sum, receiver) => sum + receiver.kernelDrops(),
      this.#closedDrops,
    );
  }

  /** Stops listening and closes every connection (what they sent so far was delivered). */
  async close(): Promise<void> {
    this.#closedDrops = this.kernelDrops();
    await Promise.all(this.#datagram.splice(0).map((receiver) => receiver.close()));
    for (const listener of this.#stream.splice(0)) {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    }
    for (const conn of [...this.#conns]) {
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await Promise.allSettled([...this.#loops, ...this.#reads]);
    for (const path of this.#paths.splice(0)) await Deno.remove(path).catch(() => {});
  }
}

/**
 * Removes the socket an earlier run left at `path`, once connecting to it shows
 * nobody holds it. A live one (another syslog source, rsyslog on /dev/log) is
 * refused as in use: removing it would take it from its owner, who would go on
 * running with no socket and receive nothing. Anything but a socket stays, and
 * binding then fails with a message naming the path.
 */
function removeStaleSocket(path: string, kind: "dgram" | "stream"): void {
  try {
    if (!Deno.lstatSync(path).isSocket) return;
  } catch {
    return; // Not there.
  }
  const state = probeUnixSocket(path, kind);
  if (state === "live") {
    throw new Error(`${path} is in use by another process (its socket answers)`);
  }
  if (state === "stale") Deno.removeSync(path);
  // Unknown (not allowed to connect): left alone; binding says what is wrong.
}

/** `net.unix.max_dgram_qlen`: datagrams a Unix socket queues; undefined where unreadable. */
function unixDatagramQueue(): number | undefined {
  try {
    const value = Number(Deno.readTextFileSync("/proc/sys/net/unix/max_dgram_qlen").trim());
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
