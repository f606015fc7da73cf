/**
 * The dashboard as a sink backend: what the runner delivers feeds the
 * aggregator, a tick each second pushes the new frame to every open page.
 *
 * @module
 */
import type { CollectorStats, Event, WireMessage } from "@eventstorm/core";
import { parseEventId, type SinkBackend, type WriteResult } from "@eventstorm/core/sink";
import { StoreReader } from "@eventstorm/sink-store/reader";
import { DashboardAggregator, type DashboardAggregatorOptions, type Frame } from "./aggregator.ts";
import { loadHistory } from "./history.ts";
import { DEFAULT_ROLLUP, type RollupLevel } from "./rollup.ts";
import { DashboardServer } from "./server.ts";

const encoder = new TextEncoder();
const COMMA = encoder.encode(",");
const CLOSE = encoder.encode("]}");

/**
 * History from a store at the resolution the page keeps it: the oldest part in
 * frames of the coarsest level, each younger part in the next finer level's
 * (with the default levels: ten minutes beyond a day, minutes for the last
 * day), split on the coarser level's lines so each frame is one interval.
 */
function historyFrames(
  store: StoreReader,
  since: number,
  until: number,
  levels: readonly RollupLevel[],
): Frame[] {
  const frames: Frame[] = [];
  let from = since;
  for (let k = levels.length - 1; k >= 1; k--) {
    const { stepMs, afterMs } = levels[k];
    const line = until - afterMs;
    const split = Math.max(from, line - (((line % stepMs) + stepMs) % stepMs));
    if (split > from) {
      frames.push(...loadHistory(store, { since: from, until: split, every: stepMs }));
    }
    from = split;
  }
  frames.push(...loadHistory(store, { since: from, until, every: levels[0]?.stepMs ?? 60_000 }));
  return frames;
}

/**
 * Options of {@linkcode DashboardBackend.open}.
 *
 * @example
 * ```ts
 * import type { DashboardBackendOptions } from "@eventstorm/sink-dashboard";
 * const options: DashboardBackendOptions = { port: 8080, db: "eventstorm.db", topics: ["http."] };
 * ```
 */
export interface DashboardBackendOptions {
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
  /** The topic prefixes received, shown on the page. */
  topics?: string[];
  /** More aggregator limits. */
  limits?: Omit<DashboardAggregatorOptions, "windowMs" | "historyMs">;
  /** Told about history loading. Default: stderr. */
  log?: (line: string) => void;
}

/**
 * The dashboard's {@linkcode SinkBackend}: `writeMessages` (or `write`) feeds the
 * aggregator synchronously, so the runner's buffer stays empty unless the
 * process itself falls behind; `start` begins the ticks with the collector's
 * counters (the sources panel's losses); `counters` adds `clients` (pages
 * connected now) and `frames` (frames kept for new pages); `close` stops the
 * ticks and closes the server and every page's connection.
 *
 * @example
 * ```ts ignore
 * import { SinkRunner } from "@eventstorm/core/sink";
 * import { DashboardBackend } from "@eventstorm/sink-dashboard";
 * const backend = await DashboardBackend.open({ port: 0 });
 * console.log(backend.url);
 * const runner = new SinkRunner(backend, { collector: { endpoints: ">tcp://127.0.0.1:5556" } });
 * await runner.run(AbortSignal.timeout(10_000));
 * ```
 */
export class DashboardBackend implements SinkBackend {
  /** `dashboard`. */
  readonly name = "dashboard";
  /** The aggregator (for tests and benchmarks). */
  readonly aggregator: DashboardAggregator;
  readonly #server: DashboardServer;
  readonly #token: string | undefined;
  readonly #tickMs: number;
  readonly #config: string;
  #wire: (() => CollectorStats) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #ticks = 0;
  // Made at most once a tick, whatever the number of requests.
  #state: string | undefined;
  #helloHead: Uint8Array | undefined;

  /**
   * Loads the history from `db` (throws when it is not a store) and binds the
   * server (throws `Deno.errors.AddrInUse` and the like); ticks wait for `start`.
   */
  // deno-lint-ignore require-await -- async so that a failure rejects, never throws
  static async open(options: DashboardBackendOptions = {}): Promise<DashboardBackend> {
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
      const frames = historyFrames(
        store,
        aggregator.startedAt - historyMs,
        aggregator.startedAt,
        options.limits?.rollup ?? DEFAULT_ROLLUP,
      );
      aggregator.addHistory(frames);
      log(
        `dashboard: ${frames.length} history frames from ${options.db} in ${
          Math.round(performance.now() - started)
        } ms`,
      );
    }
    let backend: DashboardBackend | undefined = undefined;
    const server = DashboardServer.listen({
      hostname: options.hostname,
      port: options.port,
      token: options.token,
      hello: () => backend!.#helloMessage(),
    });
    backend = new DashboardBackend(aggregator, server, options);
    return backend;
  }

  private constructor(
    aggregator: DashboardAggregator,
    server: DashboardServer,
    options: DashboardBackendOptions,
  ) {
    this.aggregator = aggregator;
    this.#server = server;
    this.#token = options.token;
    this.#tickMs = options.tickMs ?? 1000;
    this.#config = JSON.stringify({
      startedAt: aggregator.startedAt,
      historyMs: options.historyMs ?? 3_600_000,
      windowMs: options.windowMs ?? 60_000,
      tickMs: this.#tickMs,
      history: options.db !== undefined,
      topics: options.topics ?? [],
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

  /** Frames pushed (ticks). */
  get ticks(): number {
    return this.#ticks;
  }

  /** Pages connected now. */
  get clients(): number {
    return this.#server.clients;
  }

  /** Updates held back from pages that were behind. */
  get skipped(): number {
    return this.#server.skipped;
  }

  /** Starts the ticks; `wire` gives the losses per source and the totals. */
  start(wire: () => CollectorStats): void {
    this.#wire = wire;
    this.#schedule();
  }

  /**
   * Aggregates undecoded messages: `http.hit` bodies are read field by field,
   * other topics decoded. Documents it cannot read are refused (dropped, rejected).
   */
  writeMessages(messages: WireMessage[]): Promise<WriteResult> {
    const before = this.aggregator.rejected;
    for (let i = 0; i < messages.length; i++) this.aggregator.addMessage(messages[i]);
    return Promise.resolve({ rejected: this.aggregator.rejected - before });
  }

  /** Aggregates decoded events, a run of one type and stream at a time. */
  write(events: Event[]): Promise<WriteResult> {
    let from = 0;
    while (from < events.length) {
      const topic = events[from].type;
      const source = parseEventId(events[from]._id)?.source;
      let to = from + 1;
      while (
        to < events.length && events[to].type === topic &&
        parseEventId(events[to]._id)?.source === source
      ) to++;
      this.aggregator.addBatch({ topic, source, events: events.slice(from, to) });
      from = to;
    }
    return Promise.resolve({});
  }

  /** `clients` and `frames`, besides the runner's counters. */
  counters(): { clients: number; frames: number } {
    return { clients: this.#server.clients, frames: this.aggregator.frameCount };
  }

  /** Stops the ticks, closes every page's connection and the server. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#server.close();
  }

  /**
   * The hello as UTF-8 chunks: the frames' blocks are shared with every other
   * request (and from tick to tick while they do not change), the head (config
   * and tables) is made once per tick; nothing is built per request but the
   * list of chunks.
   */
  #helloMessage(): Uint8Array[] {
    if (this.#helloHead === undefined) {
      this.#helloHead = encoder.encode(
        `{"type":"hello","config":${this.#config},"state":${this.#stateJson()},"frames":[`,
      );
    }
    const chunks = [this.#helloHead];
    for (const block of this.aggregator.framesChunks()) {
      if (chunks.length > 1) chunks.push(COMMA);
      chunks.push(block);
    }
    chunks.push(CLOSE);
    return chunks;
  }

  #stateJson(): string {
    return this.#state ??= JSON.stringify(this.aggregator.state());
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
    const frame = this.aggregator.tick(Date.now(), this.#wire?.());
    this.#ticks++;
    this.#state = undefined;
    this.#helloHead = undefined;
    if (this.#server.clients === 0) return;
    const rollups = this.aggregator.rollups;
    const rollup = rollups.length === 0
      ? ""
      : `,"rollup":[${
        rollups.map((change) => `{"from":${change.from},"to":${change.to},"frame":${change.frame}}`)
          .join(",")
      }]`;
    this.#server.broadcast(
      `{"type":"frame","frame":${JSON.stringify(frame)},"state":${this.#stateJson()}${rollup}}`,
    );
  }
}
