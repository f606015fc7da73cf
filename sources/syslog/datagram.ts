/**
 * A datagram receiver (UDP, or a Unix datagram socket like /dev/log) through libc
 * (Deno FFI). Deno's own UDP sockets (`node:dgram`, `Deno.listenDatagram`) cannot
 * enlarge the kernel's receive buffer, and the default (~200 KB, about a hundred
 * small datagrams) overflows on the first burst a syslog sender makes; its Unix
 * datagram sockets need `--unstable-net`. This one asks for a large buffer
 * (SO_RCVBUFFORCE when allowed, else SO_RCVBUF up to net.core.rmem_max), waits with
 * poll(2) on a worker thread, and drains every queued datagram at once.
 *
 * @module
 */
import { allocateNative, openLibc } from "@eventstorm/core/internal";

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const MSG_DONTWAIT = 0x40;
const POLLIN = 1;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  close: { parameters: ["i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  // glibc and musl; where absent, errors say less.
  __errno_location: { parameters: [], result: "pointer", optional: true },
} as const;

/** Linux errno values this module tells apart. */
const ENOENT = 2;
const EAGAIN = 11;
const EACCES = 13;
const EPROTOTYPE = 91;
const EADDRINUSE = 98;
const EADDRNOTAVAIL = 99;
const ECONNREFUSED = 111;

/** errno of the libc call just made on this thread (synchronous FFI: the JS thread). */
function lastErrno(): number | undefined {
  const location = lib().symbols.__errno_location?.();
  return location ? new Deno.UnsafePointerView(location).getInt32() : undefined;
}

function describeErrno(errno: number | undefined): string {
  if (errno === undefined) return "in use, not a local address or not allowed";
  if (errno === ENOENT) return "no such directory";
  if (errno === EADDRINUSE) return "address in use";
  if (errno === EADDRNOTAVAIL) return "not a local address";
  if (errno === EACCES) return "permission denied";
  const text = lib().symbols.strerror(errno);
  return text ? new Deno.UnsafePointerView(text).getCString() : `errno ${errno}`;
}

/**
 * Whether a process listens on the Unix socket at `path`, by connecting to it
 * (a datagram socket for `dgram`, else a stream one, without waiting):
 * `live` when it answers (or is a socket of the other kind), `stale` when the file
 * is a socket nobody holds any more (ECONNREFUSED), `absent` when there is no
 * file, `unknown` when connecting is not allowed or fails otherwise.
 *
 * @example
 * ```ts ignore
 * import { probeUnixSocket } from "./datagram.ts";
 * if (probeUnixSocket("/dev/log", "dgram") === "live") console.log("rsyslog or journald has it");
 * ```
 */
export function probeUnixSocket(
  path: string,
  kind: "dgram" | "stream",
): "live" | "stale" | "absent" | "unknown" {
  const l = lib().symbols;
  const addr = sockaddrUnix(path);
  const type = kind === "dgram" ? SOCK_DGRAM : SOCK_STREAM;
  const fd = l.socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return "unknown";
  try {
    if (l.connect(fd, addr, addr.length) === 0) return "live";
    const errno = lastErrno();
    // A full backlog of a listening stream socket (EAGAIN), or a socket of the other
    // kind (EPROTOTYPE), is someone's socket all the same.
    if (errno === EAGAIN || errno === EPROTOTYPE) return "live";
    if (errno === ECONNREFUSED) return "stale";
    if (errno === ENOENT) return "absent";
    return "unknown";
  } finally {
    l.close(fd);
  }
}

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

function lib(): Deno.DynamicLibrary<typeof SYMBOLS> {
  libc ??= openLibc(SYMBOLS) ?? undefined;
  if (libc === undefined) throw new Error("UDP listening needs the C library, which did not open");
  return libc;
}

/** `sockaddr_in` or `sockaddr_in6` of an IP literal and port. */
function sockaddr(hostname: string, port: number): Uint8Array {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(hostname);
  if (v4) {
    const addr = new Uint8Array(16);
    const view = new DataView(addr.buffer);
    view.setUint16(0, AF_INET, true);
    view.setUint16(2, port, false);
    for (let i = 0; i < 4; i++) {
      const octet = Number(v4[i + 1]);
      if (octet > 255) throw new Error(`${hostname} is not an IPv4 address`);
      addr[4 + i] = octet;
    }
    return addr;
  }
  if (hostname.includes(":")) {
    const addr = new Uint8Array(28);
    const view = new DataView(addr.buffer);
    view.setUint16(0, AF_INET6, true);
    view.setUint16(2, port, false);
    const [head, tail = ""] = hostname.split("::");
    const parts = (s: string) => (s === "" ? [] : s.split(":"));
    const h = parts(head);
    const t = parts(tail);
    const groups = hostname.includes("::")
      ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t]
      : h;
    if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) {
      throw new Error(`${hostname} is not an IPv6 address`);
    }
    groups.forEach((g, i) => view.setUint16(8 + i * 2, parseInt(g, 16), false));
    return addr;
  }
  if (hostname === "localhost") return sockaddr("127.0.0.1", port);
  throw new Error(`give an IP address to listen on, not '${hostname}'`);
}

/** `sockaddr_un` of a socket path (at most 107 bytes, as Linux allows). */
function sockaddrUnix(path: string): Uint8Array {
  const bytes = new TextEncoder().encode(path);
  if (bytes.length > 107) throw new Error(`socket path longer than 107 bytes: ${path}`);
  const addr = new Uint8Array(2 + bytes.length + 1);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(bytes, 2);
  return addr;
}

/**
 * A bound datagram socket that hands each datagram to `onMessage` until closed.
 *
 * @example
 * ```ts ignore
 * import { DatagramReceiver } from "@eventstorm/source-syslog";
 * const udp = DatagramReceiver.bindUdp("127.0.0.1", 5514, (datagram) => console.log(datagram.length));
 * console.log(udp.port, udp.receiveBufferBytes);
 * await udp.close();
 * ```
 */
export class DatagramReceiver {
  readonly #fd: number;
  readonly #onMessage: (datagram: Uint8Array) => void;
  readonly #buffer: Uint8Array;
  /** Outside V8's heap: the poll on a worker thread may outlive this isolate. */
  readonly #pollMemory = allocateNative(8);
  readonly #pollfd = this.#pollMemory.bytes;
  #closed = false;
  readonly #loop: Promise<void>;
  /** The UDP port bound (the one chosen by the kernel for port 0); 0 for a Unix socket. */
  readonly port: number;
  /** The kernel's receive buffer size, as it reports it. */
  readonly receiveBufferBytes: number;
  /** The socket's inode: its row in /proc/net/udp, where the kernel counts its drops. */
  readonly #inode: number | undefined;

  private constructor(fd: number, onMessage: (d: Uint8Array) => void, maxBytes: number) {
    this.#fd = fd;
    this.#onMessage = onMessage;
    this.#buffer = new Uint8Array(Math.max(maxBytes, 65536));
    const l = lib().symbols;
    const name = new Uint8Array(110);
    const length = new Uint32Array([name.length]);
    l.getsockname(fd, name, new Uint8Array(length.buffer));
    const family = new DataView(name.buffer).getUint16(0, true);
    this.port = family === AF_UNIX ? 0 : new DataView(name.buffer).getUint16(2, false);
    const size = new Int32Array(1);
    const sizeLength = new Uint32Array([4]);
    l.getsockopt(
      fd,
      SOL_SOCKET,
      SO_RCVBUF,
      new Uint8Array(size.buffer),
      new Uint8Array(sizeLength.buffer),
    );
    this.receiveBufferBytes = size[0];
    try {
      this.#inode = Deno.statSync(`/proc/self/fd/${fd}`).ino ?? undefined;
    } catch {
      this.#inode = undefined;
    }
    const view = new DataView(this.#pollfd.buffer, this.#pollfd.byteOffset, 8);
    view.setInt32(0, fd, true);
    view.setInt16(4, POLLIN, true);
    this.#loop = this.#run();
  }

  /** Binds UDP `hostname:port` (an IP literal) with a receive buffer of `bufferBytes`. */
  static bindUdp(
    hostname: string,
    port: number,
    onMessage: (datagram: Uint8Array) => void,
    options: { bufferBytes?: number; maxBytes?: number } = {},
  ): DatagramReceiver {
    return DatagramReceiver.#bind(
      sockaddr(hostname, port),
      `udp ${hostname}:${port}`,
      onMessage,
      options,
    );
  }

  /** Binds a Unix datagram socket at `path`, where nothing may be yet. */
  static bindUnix(
    path: string,
    onMessage: (datagram: Uint8Array) => void,
    options: { bufferBytes?: number; maxBytes?: number } = {},
  ): DatagramReceiver {
    return DatagramReceiver.#bind(sockaddrUnix(path), `unix ${path}`, onMessage, options);
  }

  static #bind(
    addr: Uint8Array,
    what: string,
    onMessage: (datagram: Uint8Array) => void,
    options: { bufferBytes?: number; maxBytes?: number },
  ): DatagramReceiver {
    const l = lib().symbols;
    const family = new DataView(addr.buffer).getUint16(0, true);
    const fd = l.socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error("socket() failed");
    const size = new Int32Array([options.bufferBytes ?? 16 << 20]);
    if (l.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, new Uint8Array(size.buffer), 4) !== 0) {
      l.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, new Uint8Array(size.buffer), 4);
    }
    if (l.bind(fd, addr, addr.length) !== 0) {
      const errno = lastErrno();
      l.close(fd);
      throw new Error(`cannot bind ${what}: ${describeErrno(errno)}`);
    }
    return new DatagramReceiver(fd, onMessage, options.maxBytes ?? 65536);
  }

  /**
   * Datagrams the kernel dropped on this socket because its buffer was full (the
   * `drops` column of its row in /proc/net/udp or udp6); 0 for a Unix socket, whose
   * senders wait or fail instead, and where /proc cannot be read.
   */
  kernelDrops(): number {
    if (this.#inode === undefined || this.port === 0) return 0;
    const inode = String(this.#inode);
    for (const file of ["/proc/net/udp", "/proc/net/udp6"]) {
      let text: string;
      try {
        text = Deno.readTextFileSync(file);
      } catch {
        continue;
      }
      for (const row of text.split("\n")) {
        const columns = row.trim().split(/\s+/);
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        if (columns[9] === inode) return Number(columns.at(-1)) || 0;
      }
    }
    return 0;
  }

  async #run(): Promise<void> {
    const l = lib().symbols;
    while (!this.#closed) {
      const ready = await l.poll(this.#pollfd, 1n, 100);
      if (this.#closed) break;
      if (ready <= 0) continue;
      // Drain what is queued, but give the event loop a turn now and then.
      for (let i = 0; i < 4096; i++) {
        const n = Number(l.recv(this.#fd, this.#buffer, BigInt(this.#buffer.length), MSG_DONTWAIT));
        if (n < 0) break;
        this.#onMessage(this.#buffer.slice(0, n));
      }
    }
  }

  /** Stops receiving (after the poll in flight returns, within 100 ms) and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#loop;
    lib().symbols.close(this.#fd);
    this.#pollMemory.free();
  }
}
