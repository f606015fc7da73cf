/**
 * A TCP front for the dashboard's HTTP server that times out slow clients, which
 * `Deno.serve` never does: a request head must arrive whole within
 * `headerTimeoutMs` (slowloris), and each connection carries one request, closed
 * once its response is sent (a WebSocket stays open after its `101`; a refused
 * upgrade is closed at once), or after `requestTimeoutMs` at most (a client that
 * reads too slowly). Behind it the server listens on a Unix socket only this
 * process knows.
 *
 * @module
 */
import { acceptRetrying } from "@eventstorm/core/internal";

/**
 * Options of {@linkcode ConnectionGuard.listen}.
 *
 * @example
 * ```ts
 * import type { ConnectionGuardOptions } from "@eventstorm/sink-dashboard";
 * const options: ConnectionGuardOptions = { hostname: "127.0.0.1", port: 0, target: "/tmp/s" };
 * ```
 */
export interface ConnectionGuardOptions {
  /** Address to bind. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** The Unix socket of the HTTP server behind. */
  target: string;
  /** Time for a whole request head to arrive, ms. Default 10 s. */
  headerTimeoutMs?: number;
  /** Longest life of a connection that is not a WebSocket, ms. Default 30 s. */
  requestTimeoutMs?: number;
  /** Connections at most (WebSockets included); more are closed at once. Default 256. */
  maxConnections?: number;
}

/** Largest request head taken; browsers send a few KiB. */
const MAX_HEAD_BYTES = 32 * 1024;
const HEAD_END = new Uint8Array([13, 10, 13, 10]);
const latin1 = new TextDecoder("latin1");
const ascii = new TextEncoder();

/**
 * Accepts TCP connections and hands each to the server at `target` once its
 * request head has arrived in time.
 *
 * @example
 * ```ts ignore
 * import { ConnectionGuard } from "@eventstorm/sink-dashboard";
 * const guard = ConnectionGuard.listen({ hostname: "127.0.0.1", port: 8080, target: "/run/d.sock" });
 * await guard.close();
 * ```
 */
export class ConnectionGuard {
  readonly #listener: Deno.TcpListener;
  readonly #target: string;
  readonly #headerTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #maxConnections: number;
  readonly #open = new Set<Deno.Conn>();
  readonly #accepting: Promise<void>;
  #closed = false;
  /** Connections closed because their head did not arrive in time. */
  timedOut = 0;

  /** Binds; throws (`Deno.errors.AddrInUse`, ...) when it cannot. */
  static listen(options: ConnectionGuardOptions): ConnectionGuard {
    return new ConnectionGuard(options);
  }

  private constructor(options: ConnectionGuardOptions) {
    this.#listener = Deno.listen({ hostname: options.hostname, port: options.port });
    this.#target = options.target;
    this.#headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#maxConnections = options.maxConnections ?? 256;
    this.#accepting = this.#accept();
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#open.size;
  }

  async #accept(): Promise<void> {
    const failed = (message: string, say: boolean) => {
      if (!say) return;
      console.error(
        `sink dashboard: warning: cannot accept connections (${this.#open.size} open): ` +
          `${message}; retrying`,
      );
    };
    for await (const conn of acceptRetrying(this.#listener, () => !this.#closed, failed)) {
      if (this.#open.size >= this.#maxConnections) {
        conn.close();
        continue;
      }
      this.#open.add(conn);
      this.#serve(conn).catch(() => {}).finally(() => {
        this.#open.delete(conn);
        closeQuietly(conn);
      });
    }
  }

  async #serve(client: Deno.Conn): Promise<void> {
    const head = await this.#readHead(client);
    if (head === undefined) return;
    const text = latin1.decode(head.bytes.subarray(0, head.end));
    const method = text.slice(0, text.indexOf(" "));
    const upgrade = /\r\nupgrade:[ \t]*websocket/i.test(text);
    const server = await Deno.connect({ transport: "unix", path: this.#target });
    try {
      await writeAll(server, head.bytes);
      let done = false;
      const lifetime = upgrade ? undefined : setTimeout(() => {
        done = true;
        closeQuietly(client);
        closeQuietly(server);
      }, this.#requestTimeoutMs);
      try {
        const upstream = pipe(client, server).catch(() => {});
        const switched = await this.#forwardResponse(server, client, method === "HEAD");
        if (!done && switched) await Promise.race([upstream, pipe(server, client).catch(() => {})]);
      } finally {
        clearTimeout(lifetime);
      }
    } finally {
      closeQuietly(server);
    }
  }

  /** The request head (and whatever came with it), or undefined when it was too slow or large. */
  async #readHead(conn: Deno.Conn): Promise<{ bytes: Uint8Array; end: number } | undefined> {
    let buffer = new Uint8Array(4096);
    let length = 0;
    const timer = setTimeout(() => {
      this.timedOut++;
      closeQuietly(conn);
    }, this.#headerTimeoutMs);
    try {
      while (true) {
        if (length === buffer.length) {
          if (buffer.length >= MAX_HEAD_BYTES) {
            await writeAll(conn, ascii.encode(tooLarge()));
            return undefined;
          }
          const grown = new Uint8Array(buffer.length * 2);
          grown.set(buffer);
          buffer = grown;
        }
        const n = await conn.read(buffer.subarray(length));
        if (n === null) return undefined;
        const from = Math.max(0, length - 3);
        length += n;
        const end = indexOf(buffer.subarray(0, length), HEAD_END, from);
        if (end !== -1) return { bytes: buffer.slice(0, length), end: end + 4 };
      }
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Copies the server's response head to the client; for anything but a `101`,
   * also its body (by `content-length`), and returns false, so the connection
   * closes. True for a `101`: the connection is a WebSocket from then on.
   */
  async #forwardResponse(server: Deno.Conn, client: Deno.Conn, head: boolean): Promise<boolean> {
    let buffer = new Uint8Array(4096);
    let length = 0;
    let end = -1;
    while (end === -1) {
      if (length === buffer.length) {
        const grown = new Uint8Array(buffer.length * 2);
        grown.set(buffer);
        buffer = grown;
      }
      const n = await server.read(buffer.subarray(length));
      if (n === null) {
        await writeAll(client, buffer.subarray(0, length));
        return false;
      }
      const from = Math.max(0, length - 3);
      length += n;
      end = indexOf(buffer.subarray(0, length), HEAD_END, from);
    }
    await writeAll(client, buffer.subarray(0, length));
    const text = latin1.decode(buffer.subarray(0, end));
    if (/^HTTP\/1\.1 101 /.test(text)) return true;
    const declared = Number(text.match(/\r\ncontent-length:[ \t]*(\d+)/i)?.[1] ?? 0);
    let remaining = (head ? 0 : declared) - (length - end - 4);
    const chunk = new Uint8Array(64 * 1024);
    while (remaining > 0) {
      const n = await server.read(chunk);
      if (n === null) break;
      await writeAll(client, chunk.subarray(0, n));
      remaining -= n;
    }
    return false;
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listener.close();
    for (const conn of this.#open) closeQuietly(conn);
    await this.#accepting;
  }
}

function tooLarge(): string {
  const body = "request head too large\n";
  return `HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n` +
    `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}

async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const n = await from.read(buffer);
    if (n === null) return;
    await writeAll(to, buffer.subarray(0, n));
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
