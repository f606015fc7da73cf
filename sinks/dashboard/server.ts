/**
 * The dashboard's HTTP side: the page, its assets, and a WebSocket that pushes
 * aggregates. Loopback unless a token guards it.
 *
 * @module
 */
import { ASSETS } from "./assets.ts";
import { ConnectionGuard } from "./guard.ts";

/**
 * Options of {@linkcode DashboardServer.listen}.
 *
 * @example
 * ```ts
 * import type { DashboardServerOptions } from "@eventstorm/sink-dashboard";
 * const options: DashboardServerOptions = {
 *   hostname: "0.0.0.0",
 *   port: 8080,
 *   token: "0123456789abcdef0123",
 *   hello: () => '{"type":"hello"}',
 * };
 * ```
 */
export interface DashboardServerOptions {
  /** Address to bind. Default `127.0.0.1`. */
  hostname?: string;
  /** Port; 0 picks a free one. Default 8080. */
  port?: number;
  /**
   * Required as `?token=` (or `Authorization: Bearer`) by the page, the
   * WebSocket and the API when set; mandatory for a non-loopback address.
   */
  token?: string;
  /**
   * The first message a new WebSocket client gets (the whole picture so far),
   * also served as `/api/state`: text, or UTF-8 JSON in chunks that are sent as
   * they are (a stream, so concurrent requests share them rather than each
   * building its copy; a WebSocket gets them joined, as one binary message).
   */
  hello: () => string | readonly Uint8Array[];
  /** WebSocket clients at most. Default 32. */
  maxClients?: number;
  /** A client with more than this many bytes unsent gets no new updates until it catches up. Default 8 MiB. */
  maxBufferedBytes?: number;
  /** Time for a request head to arrive before the connection is closed, ms. Default 10 s. */
  headerTimeoutMs?: number;
  /** Longest life of a connection that is not a WebSocket, ms. Default 30 s. */
  requestTimeoutMs?: number;
}

/**
 * Whether `hostname` is a loopback address or `localhost`.
 *
 * @example
 * ```ts
 * import { isLoopback } from "@eventstorm/sink-dashboard";
 * isLoopback("127.0.0.1"); // true
 * isLoopback("0.0.0.0"); // false
 * ```
 */
export function isLoopback(hostname: string): boolean {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  // The token may be in the page's address: never send it elsewhere.
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

function respond(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS, ...headers },
  });
}

/** The chunks as a body, one at a time as the client reads (never copied into one). */
function streamOf(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      while (next < chunks.length && chunks[next].length === 0) next++;
      if (next < chunks.length) controller.enqueue(chunks[next++]);
      else controller.close();
    },
  }, { highWaterMark: 0 });
}

function joined(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

/** Compares in time independent of where the strings differ. */
function sameSecret(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
}

/**
 * {@linkcode DashboardServer.listen} could not bind its address: `cause` is the
 * system's error (`Deno.errors.AddrInUse`, or a `TypeError` with `code: "EINVAL"`
 * for a link-local IPv6 address without a scope, ...).
 *
 * @example
 * ```ts ignore
 * import { DashboardServer, ListenError } from "@eventstorm/sink-dashboard";
 * try {
 *   DashboardServer.listen({ hostname: "fe80::1", port: 0, token: "0123456789abcdef", hello: () => "{}" });
 * } catch (error) {
 *   if (error instanceof ListenError) console.error(error.message);
 * }
 * ```
 */
export class ListenError extends Error {
  /** Wraps the system's error from binding `hostname`:`port`. */
  constructor(hostname: string, port: number, cause: unknown) {
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    super(`${host}:${port}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "ListenError";
  }
}

/**
 * Serves the dashboard: `/` (the page), its scripts and styles, `/ws` (a
 * WebSocket receiving `hello` then one update per tick) and `/api/state` (the
 * hello message as JSON, for scripts).
 *
 * Without a token, only requests whose `Host` is this loopback address are
 * served (a DNS-rebinding page cannot read the data), and a WebSocket must come
 * from this origin (another site open in the browser cannot connect).
 *
 * @example
 * ```ts ignore
 * import { DashboardServer } from "@eventstorm/sink-dashboard";
 * const server = DashboardServer.listen({ port: 0, hello: () => '{"type":"hello"}' });
 * server.broadcast('{"type":"frame"}');
 * await server.close();
 * ```
 */
export class DashboardServer {
  readonly #server: Deno.HttpServer<Deno.UnixAddr>;
  readonly #guard: ConnectionGuard;
  readonly #socketDir: string;
  readonly #token: string | undefined;
  readonly #hello: () => string | readonly Uint8Array[];
  readonly #maxClients: number;
  readonly #maxBuffered: number;
  readonly #clients = new Set<WebSocket>();
  readonly #allowedHosts: Set<string>;
  readonly #abort = new AbortController();
  /** Updates not sent to a client because it was behind. */
  skipped = 0;

  /** Starts listening; throws {@linkcode ListenError} when it cannot bind. */
  static listen(options: DashboardServerOptions): DashboardServer {
    return new DashboardServer(options);
  }

  private constructor(options: DashboardServerOptions) {
    const hostname = options.hostname ?? "127.0.0.1";
    this.#token = options.token;
    if (this.#token === undefined && !isLoopback(hostname)) {
      throw new Error(`refusing to serve on ${hostname} without a token`);
    }
    this.#hello = options.hello;
    this.#maxClients = options.maxClients ?? 32;
    this.#maxBuffered = options.maxBufferedBytes ?? 8 << 20;
    // Deno.serve never times a client out: it listens where only this process
    // connects, behind a guard that does (slowloris, refused upgrades left open).
    this.#socketDir = Deno.makeTempDirSync({ prefix: "eventstorm-dashboard-" });
    const target = `${this.#socketDir}/http.sock`;
    try {
      this.#guard = ConnectionGuard.listen({
        hostname,
        port: options.port ?? 8080,
        target,
        headerTimeoutMs: options.headerTimeoutMs,
        requestTimeoutMs: options.requestTimeoutMs,
      });
    } catch (error) {
      Deno.removeSync(this.#socketDir, { recursive: true });
      // Whatever the system's error class (a scope-less link-local address is a
      // TypeError), a failed bind is about the address the caller gave.
      throw new ListenError(hostname, options.port ?? 8080, error);
    }
    this.#server = Deno.serve({
      path: target,
      signal: this.#abort.signal,
      onListen: () => {},
    }, (request) => this.#handle(request));
    const port = this.#guard.addr.port;
    const names = [hostname, "127.0.0.1", "localhost", "[::1]", "::1"];
    this.#allowedHosts = new Set(
      names.flatMap((name) => {
        const host = name.includes(":") && !name.startsWith("[") ? `[${name}]` : name;
        return port === 80 ? [`${host}:${port}`, host] : [`${host}:${port}`];
      }).map((host) => host.toLowerCase()),
    );
  }

  /** The page's address, without the token. */
  get url(): string {
    const { hostname, port } = this.#guard.addr;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    return `http://${host}:${port}/`;
  }

  /** The bound port. */
  get port(): number {
    return this.#guard.addr.port;
  }

  /** WebSocket clients connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  #authorized(request: Request, url: URL): boolean {
    if (this.#token === undefined) return true;
    const bearer = request.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
    const given = url.searchParams.get("token") ?? bearer;
    return given !== undefined && given !== null && sameSecret(given, this.#token);
  }

  #handle(request: Request): Response {
    const url = new URL(request.url);
    if (this.#token === undefined) {
      const host = request.headers.get("host")?.toLowerCase();
      if (host === undefined || !this.#allowedHosts.has(host)) {
        return respond(421, "unknown host: open the dashboard at its loopback address\n");
      }
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return respond(405, "method not allowed\n", { allow: "GET, HEAD" });
    }
    if (url.pathname === "/ws") return this.#upgrade(request, url);
    if (url.pathname === "/api/state") {
      if (!this.#authorized(request, url)) return this.#unauthorized();
      const hello = this.#hello();
      const headers = { "content-type": "application/json", "cache-control": "no-store" };
      if (typeof hello === "string") return respond(200, hello, headers);
      return new Response(request.method === "HEAD" ? null : streamOf(hello), {
        headers: {
          ...SECURITY_HEADERS,
          ...headers,
          "content-length": String(hello.reduce((sum, chunk) => sum + chunk.length, 0)),
        },
      });
    }
    const asset = ASSETS.get(url.pathname === "/index.html" ? "/" : url.pathname);
    if (asset === undefined) return respond(404, "not found\n");
    // The page needs the token; its static code does not hold any data.
    if (url.pathname === "/" && !this.#authorized(request, url)) return this.#unauthorized();
    return new Response(request.method === "HEAD" ? null : asset.body, {
      headers: { ...SECURITY_HEADERS, "content-type": asset.type, "cache-control": asset.cache },
    });
  }

  #unauthorized(): Response {
    return respond(401, "this dashboard needs its token: add ?token=... to the address\n", {
      "www-authenticate": 'Bearer realm="eventstorm dashboard"',
    });
  }

  #upgrade(request: Request, url: URL): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return respond(426, "expected a WebSocket upgrade\n", { upgrade: "websocket" });
    }
    if (!this.#authorized(request, url)) return this.#unauthorized();
    const origin = request.headers.get("origin");
    if (origin !== null) {
      let originHost: string | undefined;
      try {
        originHost = new URL(origin).host.toLowerCase();
      } catch {
        originHost = undefined;
      }
      if (originHost !== request.headers.get("host")?.toLowerCase()) {
        return respond(403, "cross-origin WebSocket refused\n");
      }
    }
    if (this.#clients.size >= this.#maxClients) {
      return respond(503, "too many dashboard clients\n", { "retry-after": "5" });
    }
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 60 });
    this.#clients.add(socket);
    socket.onopen = () => {
      try {
        const hello = this.#hello();
        socket.send(typeof hello === "string" ? hello : joined(hello));
      } catch {
        socket.close();
      }
    };
    // The page sends nothing that matters; a message is only a keep-alive.
    socket.onmessage = () => {};
    socket.onclose = () => this.#clients.delete(socket);
    socket.onerror = () => this.#clients.delete(socket);
    return response;
  }

  /** Sends `message` to every client that is keeping up. */
  broadcast(message: string): void {
    for (const socket of this.#clients) {
      if (socket.readyState !== WebSocket.OPEN) continue;
      if (socket.bufferedAmount > this.#maxBuffered) {
        this.skipped++;
        // Far behind: a reconnect (and a fresh hello) is cheaper than catching up.
        if (socket.bufferedAmount > 4 * this.#maxBuffered) socket.close(1013, "too slow");
        continue;
      }
      try {
        socket.send(message);
      } catch {
        this.#clients.delete(socket);
      }
    }
  }

  /** Closes every client and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.#clients) {
      try {
        socket.close(1001, "dashboard stopping");
      } catch {
        // Already closing.
      }
    }
    this.#clients.clear();
    await this.#guard.close();
    this.#abort.abort();
    await this.#server.finished;
    await Deno.remove(this.#socketDir, { recursive: true }).catch(() => {});
  }
}
