/**
 * Seeded `combined` access-log lines for the nginx goaccess comparison and benchmark:
 * the shapes real nginx writes, odd ones included (IPv6 clients, escaped quotes and
 * UTF-8, empty user agents, HTTP/2, TLS handshakes on the plain port, `-` requests).
 *
 * @module
 */
import { mulberry32 } from "@eventstorm/core/internal";

const METHODS = [
  "GET",
  "GET",
  "GET",
  "GET",
  "GET",
  "POST",
  "POST",
  "HEAD",
  "PUT",
  "DELETE",
  "OPTIONS",
];
const PATHS = [
  "/",
  "/index.html",
  "/api/v2/banner/25019354",
  "/api/1/photogenic_banners/list/",
  "/downloads/product_1",
  "/downloads/product_2",
  "/static/app.3f9c2.js",
  "/static/style.css",
  "/favicon.ico",
  "/robots.txt",
  "/wp-login.php",
  "/%E6%97%A5%E6%9C%AC/page",
  "/search",
];
const QUERIES = ["", "", "", "?q=nginx", "?server_name=WIN7RB4", "?page=2&sort=desc", "?q=%22x%22"];
const PROTOCOLS = ["HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/2.0", "HTTP/1.0"];
const STATUSES = [
  200,
  200,
  200,
  200,
  200,
  200,
  200,
  200,
  304,
  304,
  206,
  201,
  204,
  301,
  302,
  400,
  401,
  403,
  404,
  404,
  404,
  405,
  408,
  413,
  429,
  444,
  499,
  500,
  502,
  503,
  504,
];
const AGENTS = [
  "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
  "Debian APT-HTTP/1.3 (1.0.1ubuntu2)",
  "curl/8.5.0",
  "Python-urllib/2.7",
  "Wget/1.13.4 (linux-gnu)",
  "-",
  "",
  // What nginx writes for a `"`, a backslash and UTF-8 in the header.
  "Mozilla/5.0 \\x22Evil\\x22 \\x5C Agent \\xC3\\x84\\xC3\\x96",
];
const REFERERS = ["-", "-", "-", "https://example.org/", "http://ref.example/\\x22quoted\\x22"];
const USERS = ["-", "-", "-", "-", "alice", "3b81f63526fa8"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Options of {@linkcode NginxLineGenerator}. */
export interface NginxLineOptions {
  /** PRNG seed; the same seed gives the same lines. */
  seed?: number;
  /** Time of the first line. */
  start?: Date;
  /** Share of odd lines (TLS handshakes, `-` requests): 0 to 1, default 0.02. */
  oddShare?: number;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** nginx's `$time_local` for a time, in UTC (`+0000`). */
export function timeLocal(date: Date): string {
  return `${two(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}

/** Deterministic generator of `combined` lines. */
export class NginxLineGenerator {
  readonly #next: () => number;
  #time: number;
  #oddShare: number;
  #cachedSecond = -1;
  #cachedTime = "";

  /** Creates a generator; see {@linkcode NginxLineOptions}. */
  constructor(options: NginxLineOptions = {}) {
    this.#next = mulberry32(options.seed ?? 1);
    this.#time = (options.start ?? new Date("2024-03-02T10:00:00Z")).getTime();
    this.#oddShare = options.oddShare ?? 0.02;
  }

  #random(): number {
    return this.#next();
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.#random() * list.length)];
  }

  #client(): string {
    const r = this.#random();
    if (r < 0.1) {
      return `2001:db8:${Math.floor(this.#random() * 65536).toString(16)}::${
        Math.floor(this.#random() * 65536).toString(16)
      }`;
    }
    return `${1 + Math.floor(this.#random() * 223)}.${Math.floor(this.#random() * 256)}.` +
      `${Math.floor(this.#random() * 256)}.${1 + Math.floor(this.#random() * 254)}`;
  }

  #now(): string {
    // About twenty requests a second.
    this.#time += Math.floor(this.#random() * 100);
    const second = Math.floor(this.#time / 1000);
    if (second !== this.#cachedSecond) {
      this.#cachedSecond = second;
      this.#cachedTime = timeLocal(new Date(second * 1000));
    }
    return this.#cachedTime;
  }

  /** One line, without newline. */
  line(): string {
    const time = this.#now();
    const client = this.#client();
    if (this.#random() < this.#oddShare) {
      if (this.#random() < 0.5) {
        return `${client} - - [${time}] "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03" 400 157 "-" "-"`;
      }
      return `${client} - - [${time}] "-" 400 0 "-" "-"`;
    }
    const method = this.#pick(METHODS);
    const status = this.#pick(STATUSES);
    const bytes = status === 304 || status === 204 || method === "HEAD"
      ? 0
      : Math.floor(this.#random() * this.#random() * 50_000);
    const request = `${method} ${this.#pick(PATHS)}${this.#pick(QUERIES)} ${this.#pick(PROTOCOLS)}`;
    return `${client} - ${this.#pick(USERS)} [${time}] "${request}" ${status} ${bytes} ` +
      `"${this.#pick(REFERERS)}" "${this.#pick(AGENTS)}"`;
  }

  /** `count` lines. */
  lines(count: number): string[] {
    const lines = new Array<string>(count);
    for (let i = 0; i < count; i++) lines[i] = this.line();
    return lines;
  }

  /** Writes `count` lines to a file in large chunks. */
  async writeFile(path: string, count: number): Promise<void> {
    using file = await Deno.open(path, { write: true, create: true, truncate: true });
    const encoder = new TextEncoder();
    const chunk = 20_000;
    for (let done = 0; done < count; done += chunk) {
      const lines = this.lines(Math.min(chunk, count - done));
      const bytes = encoder.encode(lines.join("\n") + "\n");
      for (let written = 0; written < bytes.length;) {
        written += await file.write(bytes.subarray(written));
      }
    }
  }
}
