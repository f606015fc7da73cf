/**
 * Per-second aggregates of an event stream, for the dashboard: everything the
 * page draws is computed here, so the browser never sees a raw event. Each panel
 * has its reducer in panels/; this routes events to them by topic and assembles
 * the frames.
 *
 * @module
 */
import type { CollectorStats, Event, WireMessage } from "@eventstorm/core";
import { decodeEvents } from "@eventstorm/core/protocol";
import type { DashboardState, Frame } from "./frame.ts";
import { type HttpHitFields, scanHttpHits } from "./http_scan.ts";
import { LogHistogram } from "./histogram.ts";
import { HostsPanel } from "./panels/hosts.ts";
import { HttpPanel } from "./panels/http.ts";
import { MailPanel } from "./panels/mail.ts";
import { SourcesPanel } from "./panels/sources.ts";
import { SshPanel } from "./panels/ssh.ts";
import { FrameRollup, type FrameRollupChange, type RollupLevel } from "./rollup.ts";

export type {
  DashboardState,
  Frame,
  HostFrame,
  HostRow,
  HttpFrame,
  MailFrame,
  SourceRow,
  SshFrame,
} from "./frame.ts";

const OTHER_TOPIC = "other";

/**
 * Options of {@linkcode DashboardAggregator}.
 *
 * @example
 * ```ts
 * import { DashboardAggregator, type DashboardAggregatorOptions } from "@eventstorm/sink-dashboard";
 * const options: DashboardAggregatorOptions = { windowMs: 300_000, historyMs: 900_000, topN: 20 };
 * const aggregator = new DashboardAggregator(options);
 * ```
 */
export interface DashboardAggregatorOptions {
  /** Window of the top lists, ms. Default 60 s. */
  windowMs?: number;
  /** How far back frames are kept, ms. Default one hour. */
  historyMs?: number;
  /** Rows of each top list. Default 10. */
  topN?: number;
  /** Topics told apart; later ones count as `other`. Default 64. */
  maxTopics?: number;
  /** Sources tracked; the least recently seen is forgotten first. Default 64. */
  maxSources?: number;
  /** Hosts tracked; the least recently seen is forgotten first. Default 64. */
  maxHosts?: number;
  /** Longer strings from events are cut to this many characters. Default 200. */
  maxKeyLength?: number;
  /**
   * Coarser levels frames are merged into as they age, finest first. Default
   * `DEFAULT_ROLLUP`: ticks for 15 minutes, minutes for a day, ten minutes beyond.
   */
  rollup?: readonly RollupLevel[];
  /** Clock; epoch ms. */
  now?: () => number;
}

/**
 * Turns batches of events into one {@linkcode Frame} per tick plus a
 * {@linkcode DashboardState}. Memory is constant however long it runs and
 * whatever arrives: frames are kept for `historyMs` (as JSON text), coarser
 * with age ({@linkcode FrameRollup}: a week is about 3,200 frames), topics,
 * sources and hosts are bounded maps, top lists are {@linkcode WindowedTopN},
 * percentiles come from a fixed {@linkcode LogHistogram}, and every string
 * taken from an event is cut to `maxKeyLength`.
 *
 * @example
 * ```ts
 * import { DashboardAggregator } from "@eventstorm/sink-dashboard";
 * const aggregator = new DashboardAggregator();
 * aggregator.addBatch({
 *   topic: "http.hit",
 *   events: [{ type: "http.hit", time: new Date(), host: "web1", status: 200, request_time: 0.012, path: "/" }],
 * });
 * const frame = aggregator.tick(Date.now());
 * frame.http.requests; // 1
 * aggregator.state().top.paths; // [["/", 1]]
 * ```
 */
export class DashboardAggregator {
  readonly #windowMs: number;
  readonly #historyMs: number;
  readonly #topN: number;
  readonly #maxTopics: number;
  readonly #maxKeyLength: number;
  readonly #clock: () => number;
  /** When the aggregator was created, in ms on its clock. */
  readonly startedAt: number;

  readonly #http: HttpPanel;
  readonly #mail = new MailPanel();
  readonly #ssh: SshPanel;
  readonly #hosts: HostsPanel;
  readonly #sources: SourcesPanel;

  // The frame being filled.
  #frameStart: number;
  #topics = new Map<string, number>();
  // Known topics ever seen (bounded), so a frame names the same topics consistently.
  readonly #knownTopics = new Set<string>();

  // Frames as JSON text, oldest first, coarser with age.
  readonly #frames: FrameRollup;
  // The tick's latencies on their way to the coarser levels' histograms.
  readonly #latency = new LogHistogram();
  #changes: FrameRollupChange[] = [];

  #events = 0;
  /** Documents the dashboard itself could not read or whose envelope was bad. */
  #rejected = 0;
  #rejectedBefore = 0;
  #wire: CollectorStats | undefined;
  #lostBefore = 0;
  #badBefore = 0;
  #lastState: DashboardState | undefined;

  /** Creates an aggregator; the first frame starts now. */
  constructor(options: DashboardAggregatorOptions = {}) {
    this.#windowMs = options.windowMs ?? 60_000;
    this.#historyMs = options.historyMs ?? 3_600_000;
    this.#topN = options.topN ?? 10;
    this.#maxTopics = options.maxTopics ?? 64;
    this.#maxKeyLength = options.maxKeyLength ?? 200;
    this.#clock = options.now ?? Date.now;
    const key = (text: string) => this.#key(text);
    const top = { windowMs: this.#windowMs, maxKeyLength: this.#maxKeyLength };
    this.#http = new HttpPanel(top);
    this.#ssh = new SshPanel(top);
    this.#hosts = new HostsPanel({ maxHosts: options.maxHosts ?? 64, key, now: this.#clock });
    this.#sources = new SourcesPanel({ maxSources: options.maxSources ?? 64, key });
    this.#frames = new FrameRollup({
      historyMs: this.#historyMs,
      levels: options.rollup,
      maxKeys: Math.max(this.#maxTopics, options.maxHosts ?? 64, options.maxSources ?? 64),
    });
    this.startedAt = this.#clock();
    this.#frameStart = this.startedAt;
    this.#http.rotate(this.startedAt);
    this.#ssh.rotate(this.startedAt);
  }

  #key(text: string): string {
    return text.length > this.#maxKeyLength ? text.slice(0, this.#maxKeyLength - 1) + "…" : text;
  }

  /**
   * Accounts one undecoded message (from `Collector.messages()`): `http.hit`
   * bodies are read field by field without building events, other topics are
   * decoded. Documents that cannot be read or have a bad envelope are counted
   * as rejected (shown with the wire's malformed count), never thrown.
   */
  addMessage(message: WireMessage): void {
    if (message.topic !== "http.hit") {
      let decoded;
      try {
        decoded = decodeEvents(message.body, { topic: message.topic });
      } catch {
        this.#rejected += message.count;
        return;
      }
      this.#rejected += decoded.rejected;
      this.addBatch({
        topic: message.topic,
        source: message.header?.source,
        events: decoded.events,
      });
      return;
    }
    this.#firstHost = undefined;
    const { events, rejected } = scanHttpHits(message.body, this.#onHit);
    this.#rejected += rejected;
    if (events === 0) return;
    this.#events += events;
    this.#countTopic(message.topic, events);
    if (message.header !== undefined) {
      this.#sources.saw(message.header.source.toString(), this.#firstHost, this.#frameStart);
    }
  }

  #firstHost: string | undefined;
  readonly #onHit = (hit: HttpHitFields): void => {
    this.#firstHost ??= hit.host;
    this.#http.hit(hit.status, hit.bytes, hit.requestTime, hit.path, hit.address, hit.agent);
  };

  /** Accounts the events of one received message. */
  addBatch(batch: { topic: string; source?: bigint; events: readonly Event[] }): void {
    const events = batch.events;
    if (events.length === 0) return;
    this.#countTopic(batch.topic, events.length);
    if (batch.source !== undefined) {
      this.#sources.saw(batch.source.toString(), events[0].host, this.#frameStart);
    }
    this.#events += events.length;
    switch (batch.topic) {
      case "http.hit":
        for (let i = 0; i < events.length; i++) this.#http.add(events[i]);
        return;
      case "ssh.login":
        for (let i = 0; i < events.length; i++) this.#ssh.login(events[i]);
        return;
      case "smtp.transaction":
        for (let i = 0; i < events.length; i++) this.#mail.transaction(events[i]);
        return;
      case "smtp.deferred":
        this.#mail.deferred(events.length);
        return;
      case "smtp.reject":
        this.#mail.rejected(events.length);
        return;
      case "host.cpu":
      case "host.memory":
      case "host.disk":
      case "host.load":
      case "host.net":
        for (let i = 0; i < events.length; i++) this.#hosts.metric(batch.topic, events[i]);
        return;
    }
  }

  /** Accounts one event (for callers that have no batches). */
  addEvent(event: Event): void {
    this.addBatch({ topic: event.type, events: [event] });
  }

  #countTopic(topic: string, count: number): void {
    if (!this.#knownTopics.has(topic)) {
      if (this.#knownTopics.size >= this.#maxTopics) topic = OTHER_TOPIC;
      else this.#knownTopics.add(topic);
    }
    this.#topics.set(topic, (this.#topics.get(topic) ?? 0) + count);
  }

  /**
   * Closes the current frame at `now` and starts the next one. `wire` (the
   * collector's counters) gives the losses per source. Returns the frame, which
   * is also kept for {@linkcode DashboardAggregator.framesJson}.
   */
  tick(now: number = this.#clock(), wire?: CollectorStats): Frame {
    const dt = Math.max(0.001, (now - this.#frameStart) / 1000);
    // Keyed by data (source labels, host names): Maps, turned into own properties
    // at the end, so that `constructor` or `__proto__` is a key like any other.
    let lost = new Map<string, number>();
    let lostAll = 0;
    let bad = 0;
    if (wire !== undefined) {
      this.#wire = wire;
      lostAll = Math.max(0, wire.lost - this.#lostBefore);
      this.#lostBefore = wire.lost;
      const badNow = wire.rejectedEvents +
        Object.values(wire.malformed).reduce((sum: number, n) => sum + (n ?? 0), 0);
      bad = Math.max(0, badNow - this.#badBefore);
      this.#badBefore = badNow;
      lost = this.#sources.lostSince(wire, now);
    }
    bad += this.#rejected - this.#rejectedBefore;
    this.#rejectedBefore = this.#rejected;
    const frame: Frame = {
      t: this.#frameStart,
      dt,
      topics: Object.fromEntries(this.#topics),
      lost: Object.fromEntries(lost),
      lostAll,
      bad,
      http: this.#http.frame(now, this.#latency),
      mail: this.#mail.frame(),
      ssh: this.#ssh.frame(now),
      hosts: this.#hosts.frame(),
    };
    this.#changes = this.#frames.add(frame, this.#latency);
    this.#latency.reset();
    this.#frameStart = now;
    this.#topics = new Map();
    this.#lastState = undefined;
    return frame;
  }

  /**
   * Adds frames from before the start (from a store), shown first; those older
   * than `historyMs` before the newest live frame are dropped as time goes on,
   * and they are merged into coarser frames with the live ones.
   */
  addHistory(frames: readonly Frame[]): void {
    this.#frames.addHistory(frames.filter((frame) => frame.t < this.startedAt));
  }

  /** Every kept frame as JSON text, oldest first: history, then live. */
  framesJson(): string[] {
    return this.#frames.json();
  }

  /**
   * Every kept frame as UTF-8 JSON in blocks, to be joined with commas: blocks
   * that did not change since the last call are the same arrays, so serving the
   * frames costs only the newest block and concurrent requests share the rest.
   */
  framesChunks(): Uint8Array[] {
    return this.#frames.chunks();
  }

  /** The frames the last tick merged into coarser ones, for pages that hold them. */
  get rollups(): readonly FrameRollupChange[] {
    return this.#changes;
  }

  /** Number of frames kept (history and live). */
  get frameCount(): number {
    return this.#frames.size;
  }

  /** Events accounted since start. */
  get events(): number {
    return this.#events;
  }

  /** Documents that could not be read or had a bad envelope (beyond the wire's own count). */
  get rejected(): number {
    return this.#rejected;
  }

  /** The tables and totals as of the last tick. */
  state(): DashboardState {
    if (this.#lastState !== undefined) return this.#lastState;
    const wire = this.#wire;
    const malformed = wire === undefined
      ? 0
      : Object.values(wire.malformed).reduce((sum: number, n) => sum + (n ?? 0), 0);
    this.#lastState = {
      now: this.#frameStart,
      startedAt: this.startedAt,
      windowMs: this.#windowMs,
      totals: {
        events: this.#events,
        lost: wire?.lost ?? 0,
        duplicates: wire?.duplicates ?? 0,
        malformed,
        rejected: (wire?.rejectedEvents ?? 0) + this.#rejected,
      },
      top: { ...this.#http.top(this.#topN), sshAddresses: this.#ssh.top(this.#topN) },
      hosts: this.#hosts.rows(),
      sources: wire === undefined ? [] : this.#sources.rows(wire).slice(0, 32),
    };
    return this.#lastState;
  }
}
