/**
 * Realistic demo events, generated without any log file: HTTP hits, SSH logins
 * and host samples in proportions a small web server sees.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import { mulberry32 } from "@eventstorm/core/internal";

const PATHS = [
  "/",
  "/index.html",
  "/api/orders",
  "/api/orders/42",
  "/login",
  "/static/app.js",
  "/static/site.css",
  "/favicon.ico",
  "/downloads/product_1",
  "/search",
];
const AGENTS = [
  "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
  "curl/8.5.0",
  "Debian APT-HTTP/1.3 (2.6.1)",
  "",
];
const STATUSES = [200, 200, 200, 200, 200, 200, 304, 304, 404, 301, 500, 403];
const USERS = ["root", "admin", "deploy", "alice", "bob", "oracle", "test"];

/** Options of {@linkcode DemoEvents}. */
export interface DemoEventsOptions {
  /** Seed for reproducible output. */
  seed?: number;
  /** Hosts the events are about. */
  hosts?: string[];
}

/**
 * Generates demo events: mostly `http.hit`, some `ssh.login`, and `host.cpu` /
 * `host.memory` samples.
 *
 * @example
 * ```ts
 * import { DemoEvents } from "@eventstorm/source-demo";
 * const demo = new DemoEvents({ seed: 1 });
 * demo.next(new Date()).type; // "http.hit", "ssh.login", "host.cpu" or "host.memory"
 * ```
 */
export class DemoEvents {
  readonly #random: () => number;
  readonly #hosts: string[];
  #count = 0;

  /** Creates a generator. */
  constructor(options: DemoEventsOptions = {}) {
    this.#random = mulberry32(options.seed ?? Date.now());
    this.#hosts = options.hosts ?? ["web1", "web2", "mail1"];
  }

  #pick<T>(values: readonly T[]): T {
    return values[Math.floor(this.#random() * values.length)];
  }

  #address(): string {
    const r = this.#random;
    return `${1 + Math.floor(r() * 223)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${
      1 + Math.floor(r() * 254)
    }`;
  }

  /** The next event, stamped `time`. */
  next(time: Date): Event {
    this.#count++;
    const host = this.#pick(this.#hosts);
    if (this.#count % 500 === 0) {
      return {
        type: "host.cpu",
        time,
        host,
        busy_percent: Math.round(this.#random() * 1000) / 10,
        cpus: 2,
      };
    }
    if (this.#count % 500 === 250) {
      const total = 24 * 1024 ** 3;
      const used = Math.round(total * (0.2 + this.#random() * 0.5));
      return {
        type: "host.memory",
        time,
        host,
        total_bytes: total,
        used_bytes: used,
        used_percent: Math.round(used / total * 1000) / 10,
      };
    }
    if (this.#random() < 0.05) {
      const result = this.#pick(["failed", "failed", "failed", "invalid_user", "accepted"]);
      return {
        type: "ssh.login",
        time,
        host,
        result,
        user: this.#pick(USERS),
        address: this.#address(),
        port: 1024 + Math.floor(this.#random() * 60000),
        method: "password",
      };
    }
    const status = this.#pick(STATUSES);
    return {
      type: "http.hit",
      time,
      host,
      remote_addr: this.#address(),
      method: this.#random() < 0.9 ? "GET" : "POST",
      path: this.#pick(PATHS),
      protocol: "HTTP/1.1",
      status,
      body_bytes_sent: status === 304 ? 0 : Math.floor(this.#random() * 50_000),
      request_time: Math.round(this.#random() ** 3 * 2000) / 1000,
      http_user_agent: this.#pick(AGENTS),
    };
  }
}
