/**
 * The live dashboard in a process of one's own: a {@linkcode SinkRunner} feeding
 * a {@linkcode DashboardBackend}, as `eventstorm sink dashboard` runs it.
 *
 * @module
 */
import type { CollectorOptions } from "@eventstorm/core";
import { SinkRunner, type SinkRunnerOptions } from "@eventstorm/core/sink";
import type { DashboardAggregator } from "./aggregator.ts";
import { DashboardBackend, type DashboardBackendOptions } from "./backend.ts";

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
export interface DashboardOptions extends Omit<DashboardBackendOptions, "topics"> {
  /** Where to receive from and which topics. */
  collector: CollectorOptions;
  /** The sink runner's buffer, batches and shutdown; its defaults otherwise. */
  runner?: Omit<SinkRunnerOptions, "collector">;
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
  /** Events dropped unaggregated: the runner's buffer full, or still held at shutdown. */
  dropped: number;
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

/**
 * A running dashboard. Receiving never waits for a page: aggregation is
 * synchronous per batch, and under a flood the runner hands the event loop a
 * turn every few milliseconds so the tick timer and the HTTP server keep their pace.
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
  /** The backend (its aggregator for tests and benchmarks). */
  readonly backend: DashboardBackend;
  readonly #runner: SinkRunner;
  readonly #endpoint: () => string;
  readonly #stop = new AbortController();
  readonly #running: Promise<unknown>;

  /** Loads history, binds the server, opens the collector and starts receiving. */
  static async start(options: DashboardOptions): Promise<Dashboard> {
    const log = options.log ?? ((line: string) => console.error(line));
    const backend = await DashboardBackend.open({
      ...options,
      topics: options.collector.topics,
    });
    // A viewer gains nothing from a deep queue, and each queued message may be large.
    const runner = new SinkRunner(backend, {
      log,
      ...options.runner,
      collector: { receiveHwm: 100, ...options.collector },
    });
    let collector;
    try {
      collector = await runner.open();
    } catch (error) {
      await backend.close();
      throw error;
    }
    return new Dashboard(backend, runner, () => collector.boundEndpoint(), log);
  }

  private constructor(
    backend: DashboardBackend,
    runner: SinkRunner,
    endpoint: () => string,
    log: (line: string) => void,
  ) {
    this.backend = backend;
    this.#runner = runner;
    this.#endpoint = endpoint;
    this.#running = runner.run(this.#stop.signal).catch((error) =>
      log(`dashboard: receiving failed: ${(error as Error).message ?? error}`)
    );
  }

  /** The aggregator (for tests and benchmarks). */
  get aggregator(): DashboardAggregator {
    return this.backend.aggregator;
  }

  /** The page's address, with the token when there is one. */
  get url(): string {
    return this.backend.url;
  }

  /** The bound port. */
  get port(): number {
    return this.backend.port;
  }

  /**
   * Where the collector listens when it binds (`tcp://127.0.0.1:41234` for
   * `@tcp://127.0.0.1:*`), so senders can connect to a port the kernel picked.
   */
  boundEndpoint(): string {
    return this.#endpoint();
  }

  /** The counters. */
  stats(): DashboardStats {
    const runner = this.#runner.stats();
    return {
      events: this.aggregator.events,
      lost: runner.lostOnWire,
      malformed: runner.malformed,
      rejected: runner.rejectedOnWire + this.aggregator.rejected,
      dropped: runner.droppedFull + runner.droppedShutdown,
      ticks: this.backend.ticks,
      clients: this.backend.clients,
      skipped: this.backend.skipped,
      frames: this.aggregator.frameCount,
    };
  }

  /**
   * Stops receiving (taking in what is already on its way and aggregating it),
   * closes every page's connection and the server.
   */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }
}
