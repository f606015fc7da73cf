/**
 * The live dashboard: a collector feeding the aggregator, a tick each second
 * pushing the new frame to every open page.
 *
 * @module
 */
import { Collector, type CollectorOptions } from "@eventstorm/core";
import { StoreReader } from "@eventstorm/sink-store/reader";
import { DashboardAggregator, type DashboardAggregatorOptions } from "./aggregator.ts";
import { loadHistory } from "./history.ts";
import { DashboardServer } from "./server.ts";

/**
 * Options of {@linkcode Dashboard.start}.
 *
 * @example
 * ```ts
 * import type { DashboardOptions } from "@eventstorm/sink-dashboard";
 * const options: DashboardOptions = {
 *   collector: { endpoints: ">tcp://127.0.0.1:5556", topics: ["http.", "ssh."] },
 *   port: 8080,
 *   db: "eventstorm.db",
 * };
 * ```
 */
export interface DashboardOptions {
  /** Where to receive from and which topics. */
  collector: CollectorOptions;
  /** Address to serve on. Default `127.0.0.1`. */
  hostname?: string;
  /** Port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Token the page and WebSocket require; mandatory off loopback. */
  token?: string;
  /** A store file whose last `historyMs` the charts open with. */
  db?: string;
  /** How far back the charts go, ms. Default one hour. */
  historyMs?: number;
  /** Window of the top lists, ms. Default 60 s. */
  windowMs?: number;
  /** Frame length, ms. Default 1000. */
  tickMs?: number;
  /** More aggregator limits. */
  limits?: Omit<DashboardAggregatorOptions, "windowMs" | "historyMs">;
  /** Told about history loading and failures. Default: stderr. */
  log?: (line: string) => void;
}

/**
 * Counters of a running {@linkcode Dashboard}.
 *
 * @example
 * ```ts
 * import type { DashboardStats } from "@eventstorm/sink-dashboard";
 * const line = (s: DashboardStats) => `${s.events} events, ${s.lost} lost, ${s.clients} pages`;
 * ```
 */
export interface DashboardStats {
  /** Events aggregated. */
  events: number;
  /** Events lost on the wire. */
  lost: number;
  /** Malformed messages dropped on the wire. */
  malformed: number;
  /** Documents rejected one by one (bad envelope, type not the topic, too deep). */
  rejected: number;
  /** Frames pushed (ticks). */
  ticks: number;
  /** Pages connected now. */
  clients: number;
  /** Updates held back from pages that were behind. */
  skipped: number;
  /** Frames kept for new pages. */
  frames: number;
}

/** How long the receive loop may run before it lets timers and sockets have a turn. */
const SLICE_MS = 25;

/**
 * A running dashboard. Receiving never waits for a page: aggregation is
 * synchronous per batch, and under a flood the receive loop yields every few
 * milliseconds so the tick timer and the HTTP server keep their pace.
 *
 * @example
 * ```ts ignore
 * import { Dashboard } from "@eventstorm/sink-dashboard";
 * const dashboard = await Dashboard.start({
 *   collector: { endpoints: ">tcp://127.0.0.1:5556" },
 *   port: 0,
 * });
 * console.log(dashboard.url);
 * await dashboard.close();
 * ```
 */
export class Dashboard {
  /** The aggregator (for tests and benchmarks). */
  readonly aggregator: DashboardAggregator;
  readonly #collector: Collector;
  readonly #server: DashboardServer;
  readonly #token: string | undefined;
  readonly #tickMs: number;
  readonly #log: (line: string) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #receiving: Promise<void> | undefined;
  #closed = false;
  #ticks = 0;
  #config: string;

  /** Opens the collector, loads history, binds the server and starts receiving. */
  static async start(options: DashboardOptions): Promise<Dashboard> {
    const log = options.log ?? ((line: string) => console.error(line));
    const historyMs = options.historyMs ?? 3_600_000;
    const aggregator = new DashboardAggregator({
      ...options.limits,
      windowMs: options.windowMs,
      historyMs,
    });
    if (options.db !== undefined) {
      const started = performance.now();
      using store = StoreReader.open(options.db);
      const frames = loadHistory(store, {
        since: aggregator.startedAt - historyMs,
        until: aggregator.startedAt,
        every: historyMs > 6 * 3_600_000 ? 600_000 : 60_000,
      });
      aggregator.addHistory(frames);
      log(
        `dashboard: ${frames.length} history frames from ${options.db} in ${
          Math.round(performance.now() - started)
        } ms`,
      );
    }
    // A viewer gains nothing from a deep queue, and each queued message may be large.
    const collector = await Collector.open({ receiveHwm: 100, ...options.collector });
    let server: DashboardServer;
    try {
      server = DashboardServer.listen({
        hostname: options.hostname,
        port: options.port,
        token: options.token,
        hello: () => dashboard.#helloMessage(),
      });
    } catch (error) {
      await collector.close();
      throw error;
    }
    const dashboard = new Dashboard(aggregator, collector, server, options, log);
    dashboard.#start();
    return dashboard;
  }

  private constructor(
    aggregator: DashboardAggregator,
    collector: Collector,
    server: DashboardServer,
    options: DashboardOptions,
    log: (line: string) => void,
  ) {
    this.aggregator = aggregator;
    this.#collector = collector;
    this.#server = server;
    this.#token = options.token;
    this.#tickMs = options.tickMs ?? 1000;
    this.#log = log;
    this.#config = JSON.stringify({
      startedAt: aggregator.startedAt,
      historyMs: options.historyMs ?? 3_600_000,
      windowMs: options.windowMs ?? 60_000,
      tickMs: this.#tickMs,
      history: options.db !== undefined,
      topics: options.collector.topics ?? [],
    });
  }

  /** The page's address, with the token when there is one. */
  get url(): string {
    const base = this.#server.url;
    return this.#token === undefined ? base : `${base}?token=${encodeURIComponent(this.#token)}`;
  }

  /** The bound port. */
  get port(): number {
    return this.#server.port;
  }

  /**
   * Where the collector listens when it binds (`tcp://127.0.0.1:41234` for
   * `@tcp://127.0.0.1:*`), so senders can connect to a port the kernel picked.
   */
  boundEndpoint(): string {
    return this.#collector.boundEndpoint();
  }

  /** The counters. */
  stats(): DashboardStats {
    const wire = this.#collector.stats();
    return {
      events: this.aggregator.events,
      lost: wire.lost,
      malformed: Object.values(wire.malformed).reduce((sum: number, n) => sum + (n ?? 0), 0),
      rejected: wire.rejectedEvents + this.aggregator.rejected,
      ticks: this.#ticks,
      clients: this.#server.clients,
      skipped: this.#server.skipped,
      frames: this.aggregator.frameCount,
    };
  }

  #helloMessage(): string {
    return `{"type":"hello","config":${this.#config},"state":${
      JSON.stringify(this.aggregator.state())
    },"frames":[${this.aggregator.framesJson().join(",")}]}`;
  }

  #start(): void {
    this.#schedule();
    this.#receiving = this.#receive();
  }

  #schedule(): void {
    if (this.#closed) return;
    // Ticks land on whole seconds, so frames line up with the clock on the page.
    const wait = this.#tickMs - (Date.now() % this.#tickMs);
    this.#timer = setTimeout(() => {
      this.#tick();
      this.#schedule();
    }, wait);
  }

  #tick(): void {
    const frame = this.aggregator.tick(Date.now(), this.#collector.stats());
    this.#ticks++;
    if (this.#server.clients === 0) return;
    this.#server.broadcast(
      `{"type":"frame","frame":${JSON.stringify(frame)},"state":${
        JSON.stringify(this.aggregator.state())
      }}`,
    );
  }

  async #receive(): Promise<void> {
    let sliceStart = performance.now();
    try {
      // Undecoded: the aggregator reads http.hit bodies field by field, several
      // times faster than decoding every event into an object.
      for await (const message of this.#collector.messages()) {
        this.aggregator.addMessage(message);
        if (performance.now() - sliceStart > SLICE_MS) {
          // A busy socket never makes the loop wait: give timers and the server a turn.
          await new Promise((resolve) => setTimeout(resolve, 0));
          sliceStart = performance.now();
        }
      }
    } catch (error) {
      if (!this.#closed) {
        this.#log(`dashboard: receiving failed: ${(error as Error).message ?? error}`);
      }
    }
  }

  /** Stops receiving, closes every page's connection and the server. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#collector.close();
    await this.#receiving;
    await this.#server.close();
  }
}
