/**
 * nginx access log lines: pages, assets, API calls, scanners, bots, TLS
 * handshakes on the plain port, hostile user agents; `combined`, or `combined`
 * with timings.
 *
 * @module
 */
import { COMBINED_FORMAT } from "@eventstorm/source-nginx";
import { Dice } from "./dice.ts";
import { LogTime } from "./log_time.ts";
import {
  BLOG_SLUGS,
  BOT_AGENTS,
  BROWSER_AGENTS,
  MAIL_DOMAIN,
  ODD_AGENTS,
  REFERERS,
  SCANNER_AGENTS,
  SCANNER_PATHS,
  SEARCH_TERMS,
  TOOL_AGENTS,
} from "./words.ts";

/** `combined` plus timings, the usual custom format for latency dashboards.
 *
 * @example
 * ```ts
 * import { NGINX_TIMED_FORMAT } from "./nginx_lines.ts";
 * console.log(NGINX_TIMED_FORMAT.endsWith("$upstream_response_time")); // true
 * ```
 */
export const NGINX_TIMED_FORMAT: string = COMBINED_FORMAT +
  " $request_time $upstream_response_time";

/** Who visits a site: drawn once per generator. */
export interface WebPools {
  /** Clients, the first ones far busier than the rest. */
  webClients: string[];
  /** Addresses that probe for known holes. */
  scanners: string[];
  /** Content hashes of the site's current assets. */
  assetHashes: string[];
}

/** Lines of an nginx access log. */
export class NginxLines {
  readonly #dice: Dice;
  readonly #time: LogTime;
  readonly #timed: boolean;
  readonly #webClients: string[];
  readonly #scanners: string[];
  readonly #assetHashes: string[];

  /** `timed`: {@linkcode NGINX_TIMED_FORMAT} instead of `combined`. */
  constructor(dice: Dice, time: LogTime, pools: WebPools, timed: boolean) {
    this.#dice = dice;
    this.#time = time;
    this.#timed = timed;
    this.#webClients = pools.webClients;
    this.#scanners = pools.scanners;
    this.#assetHashes = pools.assetHashes;
  }

  /** `count` lines, without newlines. */
  lines(count: number): string[] {
    return Array.from({ length: count }, () => this.line());
  }

  /** Writes `count` lines to `path` (replacing it) in large chunks. */
  async writeFile(path: string, count: number): Promise<void> {
    using file = await Deno.open(path, { write: true, create: true, truncate: true });
    const encoder = new TextEncoder();
    for (let done = 0; done < count; done += 20_000) {
      const bytes = encoder.encode(this.lines(Math.min(20_000, count - done)).join("\n") + "\n");
      for (let written = 0; written < bytes.length;) {
        written += await file.write(bytes.subarray(written));
      }
    }
  }

  /** One line in the configured format. */
  line(): string {
    const now = this.#time.now();
    const r = this.#dice.random();
    let client = this.#webClients[Math.floor(this.#webClients.length * this.#dice.random() ** 2)];
    let user = "-";
    let method = this.#dice.random() < 0.97 ? "GET" : "HEAD";
    let path: string;
    let status: number;
    let bytes: number;
    let referer = "-";
    let agent: string;
    let upstream = true;
    let protocol = this.#dice.weighted([["HTTP/1.1", 72], ["HTTP/2.0", 26], ["HTTP/1.0", 2]]);
    let request: string | undefined;

    if (r < 0.002) {
      // A TLS ClientHello sent to the plain-HTTP port; nginx logs the raw bytes.
      request = Array.from(
        { length: 24 },
        (_, i) => i < 3 ? ["\\x16", "\\x03", "\\x01"][i] : `\\x${this.#dice.hex(2)}`,
      ).join("");
      return this.#nginxFormat(now, client, "-", request, 400, 157, "-", "-", 0.001, "-");
    } else if (r < 0.004) {
      // A connection closed before sending a request.
      return this.#nginxFormat(now, client, "-", "-", 400, 0, "-", "-", 0, "-");
    } else if (r < 0.06) {
      client = this.#dice.pick(this.#scanners);
      path = this.#dice.pick(SCANNER_PATHS);
      method = this.#dice.random() < 0.8 ? "GET" : "POST";
      status = this.#dice.weighted([[404, 85], [403, 10], [400, 3], [200, 2]]);
      bytes = status === 404 ? 153 : status === 403 ? 146 : this.#dice.int(0, 600);
      agent = this.#dice.random() < 0.6
        ? this.#dice.pick(SCANNER_AGENTS)
        : this.#dice.pick(BROWSER_AGENTS);
      protocol = "HTTP/1.1";
      upstream = path.endsWith(".php") && status !== 404;
    } else {
      const kind = this.#dice.weighted([["page", 30], ["asset", 35], ["api", 25], ["misc", 10]]);
      switch (kind) {
        case "page":
          path = this.#dice.weighted([
            ["/", 30],
            [`/blog/${this.#dice.pick(BLOG_SLUGS)}`, 30],
            ["/about", 5],
            ["/pricing", 8],
            [`/search?q=${this.#dice.pick(SEARCH_TERMS)}`, 7],
            ["/login", 10],
            ["/docs/getting-started", 10],
          ]);
          if (path === "/login" && this.#dice.random() < 0.5) method = "POST";
          status = this.#dice.weighted([
            [200, 86],
            [304, 5],
            [301, 3],
            [302, 2],
            [404, 2],
            [500, 1],
            [
              502,
              0.5,
            ],
            [503, 0.3],
            [499, 0.2],
          ]);
          if (path === "/login" && method === "POST") {
            status = this.#dice.weighted([[302, 70], [401, 25], [429, 5]]);
          }
          bytes = this.#dice.int(4_000, 60_000);
          break;
        case "asset": {
          const hash = this.#dice.pick(this.#assetHashes);
          path = this.#dice.weighted([
            [`/static/js/app.${hash}.js`, 25],
            [`/static/css/app.${hash}.css`, 25],
            [`/images/hero-${this.#dice.int(1, 6)}.webp`, 20],
            ["/favicon.ico", 15],
            [`/fonts/inter-${this.#dice.pick(["400", "600"])}.woff2`, 10],
            ["/static/js/app.0ld0ld0l.js", 5],
          ]);
          method = this.#dice.random() < 0.98 ? "GET" : "HEAD";
          status = path.includes("0ld0ld0l")
            ? 404
            : this.#dice.weighted([[200, 60], [304, 37], [206, 3]]);
          bytes = status === 304 ? 0 : status === 404 ? 153 : this.#dice.int(1_000, 900_000);
          upstream = false;
          break;
        }
        case "api":
          path = this.#dice.weighted([
            [`/api/v1/users/${this.#dice.int(1, 5000)}`, 30],
            [`/api/v1/orders?page=${this.#dice.int(1, 40)}&per_page=50`, 25],
            ["/api/v1/events", 25],
            ["/api/v1/session", 10],
            [`/api/v1/items/${this.#dice.hex(6).toLowerCase()}`, 10],
          ]);
          method = path === "/api/v1/events" && this.#dice.random() < 0.7
            ? "POST"
            : this.#dice.weighted([
              ["GET", 70],
              ["POST", 12],
              ["PUT", 8],
              ["DELETE", 4],
              ["OPTIONS", 6],
            ]);
          status = this.#dice.weighted([
            [200, 80],
            [201, method === "POST" ? 8 : 0],
            [204, 2],
            [400, 3],
            [
              401,
              3,
            ],
            [404, 2],
            [429, 1],
            [500, 1],
            [502, 0.6],
            [504, 0.4],
          ]);
          if (method === "OPTIONS") status = 204;
          bytes = status === 204 ? 0 : this.#dice.int(2, 12_000);
          break;
        default:
          path = this.#dice.weighted([["/robots.txt", 40], ["/sitemap.xml", 30], ["/healthz", 30]]);
          status = 200;
          bytes = this.#dice.int(20, 3_000);
          upstream = path === "/healthz";
      }
      if (method === "HEAD") bytes = 0;
      if (status === 304) bytes = 0;
      agent = this.#dice.weighted<() => string>([
        [() => this.#dice.pick(BROWSER_AGENTS), 70],
        [() => this.#dice.pick(BOT_AGENTS), 10],
        [() => this.#dice.pick(TOOL_AGENTS), 14],
        [() => "-", 3],
        [() => "", 1.5],
        [() => this.#dice.pick(ODD_AGENTS), 1.5],
      ])();
      if (path === "/healthz") agent = "kube-probe/1.29";
      if (this.#dice.random() < 0.45) {
        referer = this.#dice.random() < 0.6
          ? `https://www.${MAIL_DOMAIN}${this.#dice.pick(["/", "/blog/why-bson", "/pricing"])}`
          : this.#dice.pick(REFERERS);
      }
      if ((status === 401 || path.startsWith("/api/")) && this.#dice.random() < 0.3) user = "api";
    }
    const tooSlow = status === 499 || status === 504;
    const requestTime = tooSlow
      ? 30 + this.#dice.random() * 30
      : upstream
      ? Math.exp(-3.5 + this.#dice.gaussian())
      : this.#dice.random() * 0.004;
    let upstreamTime = "-";
    if (upstream && status !== 499) {
      const time = Math.max(0, requestTime - this.#dice.random() * 0.002);
      upstreamTime = status === 502 ? "0.000" : time.toFixed(3);
      // A retried upstream: nginx lists one time per attempt.
      if (status === 502 && this.#dice.random() < 0.3) upstreamTime = `0.001, ${time.toFixed(3)}`;
    }
    request = `${method} ${path} ${protocol}`;
    return this.#nginxFormat(
      now,
      client,
      user,
      request,
      status,
      bytes,
      referer,
      agent,
      requestTime,
      upstreamTime,
    );
  }

  #nginxFormat(
    now: Date,
    client: string,
    user: string,
    request: string,
    status: number,
    bytes: number,
    referer: string,
    agent: string,
    requestTime: number,
    upstreamTime: string,
  ): string {
    const line = `${client} - ${user} [${this.#time.nginx(now)}] "${request}" ${status} ${bytes} ` +
      `"${referer}" "${agent}"`;
    return this.#timed ? `${line} ${requestTime.toFixed(3)} ${upstreamTime}` : line;
  }
}

/** Options of {@linkcode nginxLog}. */
export interface NginxLogOptions {
  /** Seed: equal seeds give equal logs. */
  seed?: number;
  /** Time of the first line; later ones follow at about twenty a second. */
  start?: Date;
  /** `combined` (default) or `timed`. */
  format?: "combined" | "timed";
}

/**
 * An nginx access log of its own, with a clock that steps about 50 ms a line
 * from `start` (UTC), so equal options give byte-equal logs: for tests and
 * benchmarks that need many lines fast and the same lines every run.
 *
 * @example
 * ```ts
 * import { nginxLog } from "./nginx_lines.ts";
 * const log = nginxLog({ seed: 7, start: new Date("2024-03-02T10:00:00Z") });
 * console.log(log.line());
 * ```
 */
export function nginxLog(options: NginxLogOptions = {}): NginxLines {
  const dice = new Dice(options.seed ?? 1);
  let clock = (options.start ?? new Date("2024-03-02T10:00:00Z")).getTime();
  const step = new Dice((options.seed ?? 1) ^ 0x2545f491);
  const time = new LogTime(() => new Date(clock += step.int(0, 100)), 0);
  const pools = {
    webClients: Array.from({ length: 300 }, (_, i) => i % 12 === 0 ? dice.ipv6() : dice.ipv4()),
    scanners: Array.from({ length: 8 }, () => dice.ipv4()),
    assetHashes: Array.from({ length: 3 }, () => dice.hex(8).toLowerCase()),
  };
  return new NginxLines(dice, time, pools, options.format === "timed");
}
