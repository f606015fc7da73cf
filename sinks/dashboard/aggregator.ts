/**
 * Per-second aggregates of an event stream, for the dashboard: everything the
 * page draws is computed here, so the browser never sees a raw event.
 *
 * @module
 */
import type { CollectorStats, Event } from "@eventstorm/core";
import type { WireMessage } from "@eventstorm/core";
import { decodeEvents } from "@eventstorm/core/protocol";
import { LogHistogram } from "./histogram.ts";
import { type HttpHitFields, scanHttpHits } from "./http_scan.ts";
import { type TopRow, WindowedTopN } from "./top_n.ts";

/**
 * HTTP figures of one frame.
 *
 * @example
 * ```ts
 * import type { HttpFrame } from "@eventstorm/sink-dashboard";
 * const http: HttpFrame = { requests: 3, status: [0, 2, 0, 1, 0, 0], bytes: 900, latencyMs: [12, 40, 40] };
 * ```
 */
export interface HttpFrame {
  /** Requests. */
  requests: number;
  /** Requests by status class: 1xx, 2xx, 3xx, 4xx, 5xx, and no/odd status. */
  status: [number, number, number, number, number, number];
  /** Sum of `body_bytes_sent`. */
  bytes: number;
  /** p50, p95, p99 of `request_time` in milliseconds; null without timed requests. */
  latencyMs: [number, number, number] | null;
}

/**
 * Mail figures of one frame.
 *
 * @example
 * ```ts
 * import type { MailFrame } from "@eventstorm/sink-dashboard";
 * const mail: MailFrame = { delivered: 12, deferred: 1, bounced: 0, rejected: 4 };
 * ```
 */
export interface MailFrame {
  /** Recipients delivered (`status: sent` in `smtp.transaction`). */
  delivered: number;
  /** Deferred delivery attempts (`smtp.deferred` events). */
  deferred: number;
  /** Recipients bounced or expired (in `smtp.transaction`). */
  bounced: number;
  /** Refusals (`smtp.reject` events). */
  rejected: number;
}

/**
 * SSH figures of one frame (attempts, `repeated` lines counted as many).
 *
 * @example
 * ```ts
 * import type { SshFrame } from "@eventstorm/sink-dashboard";
 * const ssh: SshFrame = { failed: 30, invalid: 12, accepted: 1 };
 * ```
 */
export interface SshFrame {
  /** `result: failed`. */
  failed: number;
  /** `result: invalid_user` or `not_allowed`. */
  invalid: number;
  /** `result: accepted`. */
  accepted: number;
}

/**
 * Latest host metrics received in one frame; fields absent when not reported in it.
 *
 * @example
 * ```ts
 * import type { HostFrame } from "@eventstorm/sink-dashboard";
 * const web1: HostFrame = { cpu: 37.5, mem: 61.2 };
 * ```
 */
export interface HostFrame {
  /** CPU busy %. */
  cpu?: number;
  /** Memory used %. */
  mem?: number;
  /** Used % of the fullest filesystem. */
  disk?: number;
}

/**
 * Aggregates of one interval: what the page plots. Counts, not rates: divide by `dt`.
 *
 * @example
 * ```ts
 * import { DashboardAggregator, type Frame } from "@eventstorm/sink-dashboard";
 * const frame: Frame = new DashboardAggregator().tick(Date.now());
 * const eventsPerSecond = Object.values(frame.topics).reduce((a, b) => a + b, 0) / frame.dt;
 * ```
 */
export interface Frame {
  /** Start of the interval, epoch milliseconds. */
  t: number;
  /** Length of the interval in seconds (1 when live, 60 for history from a store). */
  dt: number;
  /** Events received per topic (topics past the tracked maximum under `other`). */
  topics: Record<string, number>;
  /** Events lost on the wire per source label; only sources that lost some. */
  lost: Record<string, number>;
  /** Events lost on the wire in all, untracked sources included. */
  lostAll: number;
  /** Malformed messages and events with a bad envelope, dropped on the wire. */
  bad: number;
  /** HTTP (`http.hit`). */
  http: HttpFrame;
  /** Mail (`smtp.*`). */
  mail: MailFrame;
  /** SSH (`ssh.login`). */
  ssh: SshFrame;
  /** Host metrics (`host.*`) by host. */
  hosts: Record<string, HostFrame>;
}

/**
 * One row of the hosts table.
 *
 * @example
 * ```ts
 * import { DashboardAggregator, type HostRow } from "@eventstorm/sink-dashboard";
 * const rows: HostRow[] = new DashboardAggregator().state().hosts;
 * const busy = rows.filter((row) => (row.cpu ?? 0) > 90);
 * ```
 */
export interface HostRow {
  /** Host name. */
  host: string;
  /** CPU busy %. */
  cpu: number | null;
  /** Memory used %. */
  mem: number | null;
  /** Used % of the fullest filesystem. */
  disk: number | null;
  /** Mount point of the fullest filesystem. */
  diskMount: string | null;
  /** One-minute load average. */
  load1: number | null;
  /** Bytes received per second over all interfaces but loopback. */
  rxBytes: number | null;
  /** Bytes sent per second over all interfaces but loopback. */
  txBytes: number | null;
  /** When this host last reported, epoch ms. */
  seen: number;
}

/**
 * One row of the sources table: an emitting process and what the wire says of it.
 *
 * @example
 * ```ts
 * import { DashboardAggregator, type SourceRow } from "@eventstorm/sink-dashboard";
 * const rows: SourceRow[] = new DashboardAggregator().state().sources;
 * const lossy = rows.filter((row) => row.lost > 0);
 * ```
 */
export interface SourceRow {
  /** Readable label: the host of its events and the end of its id. */
  label: string;
  /** Source id in hexadecimal. */
  source: string;
  /** Its topics (at most 8). */
  topics: string[];
  /** Events received from it. */
  received: number;
  /** Events of it lost on the wire. */
  lost: number;
  /** Replayed events skipped. */
  duplicates: number;
  /** Malformed messages from it. */
  malformed: number;
}

/**
 * What the page shows besides the charts, as of the last tick.
 *
 * @example
 * ```ts
 * import { DashboardAggregator, type DashboardState } from "@eventstorm/sink-dashboard";
 * const state: DashboardState = new DashboardAggregator().state();
 * console.log(state.totals.events, state.top.paths);
 * ```
 */
export interface DashboardState {
  /** Time of the last tick, epoch ms. */
  now: number;
  /** When aggregation started, epoch ms. */
  startedAt: number;
  /** Length of the window of the top lists, ms. */
  windowMs: number;
  /** Counters since start. */
  totals: {
    events: number;
    lost: number;
    duplicates: number;
    malformed: number;
    rejected: number;
  };
  /** Top lists over the window. */
  top: {
    paths: TopRow[];
    clients: TopRow[];
    agents: TopRow[];
    sshAddresses: TopRow[];
  };
  /** Hosts that reported metrics, by name. */
  hosts: HostRow[];
  /** Emitting sources, most losses first. */
  sources: SourceRow[];
}

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
  /** Clock; epoch ms. */
  now?: () => number;
}

interface HostState {
  row: HostRow;
  disks: Map<string, number>;
  net: Map<string, [number, number]>;
}

interface SourceState {
  host: string | undefined;
  /** Cumulative lost as of the last tick, to turn into a per-frame count. */
  lostBefore: number;
  seen: number;
}

const OTHER_TOPIC = "other";
const MAX_RECIPIENTS = 10_000;
const MAX_MOUNTS = 16;
const MAX_INTERFACES = 16;

/**
 * Turns batches of events into one {@linkcode Frame} per tick plus a
 * {@linkcode DashboardState}. Memory is constant however long it runs and
 * whatever arrives: frames are kept for `historyMs` (as JSON text), topics,
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
  readonly #maxSources: number;
  readonly #maxHosts: number;
  readonly #maxKeyLength: number;
  readonly #clock: () => number;
  /** When the aggregator was created, in ms on its clock. */
  readonly startedAt: number;

  // The frame being filled.
  #frameStart: number;
  #topics = new Map<string, number>();
  #httpStatus: HttpFrame["status"] = [0, 0, 0, 0, 0, 0];
  #httpRequests = 0;
  #httpBytes = 0;
  readonly #latency = new LogHistogram();
  #mail: MailFrame = { delivered: 0, deferred: 0, bounced: 0, rejected: 0 };
  #ssh: SshFrame = { failed: 0, invalid: 0, accepted: 0 };
  #hostFrames = new Map<string, HostFrame>();

  // Known topics ever seen (bounded), so a frame names the same topics consistently.
  readonly #knownTopics = new Set<string>();
  readonly #paths: WindowedTopN;
  readonly #clients: WindowedTopN;
  readonly #agents: WindowedTopN;
  readonly #sshAddresses: WindowedTopN;
  readonly #hosts = new Map<string, HostState>();
  readonly #sources = new Map<string, SourceState>();

  // Frames as JSON text, oldest first, with their times for trimming.
  readonly #frames: string[] = [];
  readonly #frameTimes: number[] = [];
  #history: { json: string; t: number }[] = [];

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
    this.#maxSources = options.maxSources ?? 64;
    this.#maxHosts = options.maxHosts ?? 64;
    this.#maxKeyLength = options.maxKeyLength ?? 200;
    this.#clock = options.now ?? Date.now;
    const top = { windowMs: this.#windowMs, maxKeyLength: this.#maxKeyLength };
    this.#paths = new WindowedTopN(top);
    this.#clients = new WindowedTopN(top);
    this.#agents = new WindowedTopN(top);
    this.#sshAddresses = new WindowedTopN(top);
    this.startedAt = this.#clock();
    this.#frameStart = this.startedAt;
    for (const top of this.#tops()) top.rotate(this.startedAt);
  }

  #tops(): WindowedTopN[] {
    return [this.#paths, this.#clients, this.#agents, this.#sshAddresses];
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
      this.#sawSource(message.header.source.toString(), this.#firstHost);
    }
  }

  #firstHost: string | undefined;
  readonly #onHit = (hit: HttpHitFields): void => {
    this.#firstHost ??= hit.host;
    this.#hit(hit.status, hit.bytes, hit.requestTime, hit.path, hit.address, hit.agent);
  };

  /** Accounts the events of one received message. */
  addBatch(batch: { topic: string; source?: bigint; events: readonly Event[] }): void {
    const events = batch.events;
    if (events.length === 0) return;
    this.#countTopic(batch.topic, events.length);
    if (batch.source !== undefined) this.#sawSource(batch.source.toString(), events[0].host);
    this.#events += events.length;
    switch (batch.topic) {
      case "http.hit":
        for (let i = 0; i < events.length; i++) this.#http(events[i]);
        return;
      case "ssh.login":
        for (let i = 0; i < events.length; i++) this.#sshLogin(events[i]);
        return;
      case "smtp.transaction":
        for (let i = 0; i < events.length; i++) this.#transaction(events[i]);
        return;
      case "smtp.deferred":
        this.#mail.deferred += events.length;
        return;
      case "smtp.reject":
        this.#mail.rejected += events.length;
        return;
      case "host.cpu":
      case "host.memory":
      case "host.disk":
      case "host.load":
      case "host.net":
        for (let i = 0; i < events.length; i++) this.#hostMetric(batch.topic, events[i]);
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

  #sawSource(source: string, host: unknown): void {
    let state = this.#sources.get(source);
    if (state === undefined) {
      if (this.#sources.size >= this.#maxSources) this.#forgetOldestSource();
      state = { host: undefined, lostBefore: 0, seen: 0 };
      this.#sources.set(source, state);
    }
    if (state.host === undefined && typeof host === "string") state.host = this.#key(host);
    state.seen = this.#frameStart;
  }

  #forgetOldestSource(): void {
    let oldest: string | undefined;
    let oldestSeen = Infinity;
    for (const [key, state] of this.#sources) {
      if (state.seen < oldestSeen) {
        oldest = key;
        oldestSeen = state.seen;
      }
    }
    if (oldest !== undefined) this.#sources.delete(oldest);
  }

  #http(event: Event): void {
    this.#hit(
      event.status,
      event.body_bytes_sent,
      event.request_time,
      event.path,
      event.remote_addr,
      event.http_user_agent,
    );
  }

  #hit(
    status: unknown,
    bytes: unknown,
    time: unknown,
    path: unknown,
    address: unknown,
    agent: unknown,
  ): void {
    this.#httpRequests++;
    const statusClass = typeof status === "number" ? Math.floor(status / 100) : 0;
    this.#httpStatus[statusClass >= 1 && statusClass <= 5 ? statusClass - 1 : 5]++;
    if (typeof bytes === "number" && bytes > 0 && bytes < 1e15) this.#httpBytes += bytes;
    if (typeof time === "number") this.#latency.add(time);
    if (typeof path === "string") this.#paths.add(path);
    if (typeof address === "string") this.#clients.add(address);
    if (typeof agent === "string" && agent !== "") this.#agents.add(agent);
  }

  #sshLogin(event: Event): void {
    const repeated = event.repeated;
    const weight = typeof repeated === "number" && repeated >= 1 && repeated < 1e6 ? repeated : 1;
    switch (event.result) {
      case "accepted":
        this.#ssh.accepted += weight;
        return;
      case "failed":
        this.#ssh.failed += weight;
        break;
      case "invalid_user":
      case "not_allowed":
        this.#ssh.invalid += weight;
        break;
      default:
        return;
    }
    if (typeof event.address === "string") this.#sshAddresses.add(event.address, weight);
  }

  #transaction(event: Event): void {
    const recipients = event.recipients;
    if (!Array.isArray(recipients)) return;
    const count = Math.min(recipients.length, MAX_RECIPIENTS);
    for (let i = 0; i < count; i++) {
      const recipient = recipients[i];
      if (recipient === null || typeof recipient !== "object") continue;
      const status = (recipient as Record<string, unknown>).status;
      if (status === "sent") this.#mail.delivered++;
      else if (status === "bounced" || status === "expired") this.#mail.bounced++;
    }
  }

  #hostState(name: unknown): HostState | undefined {
    if (typeof name !== "string") return undefined;
    const host = this.#key(name);
    let state = this.#hosts.get(host);
    if (state === undefined) {
      if (this.#hosts.size >= this.#maxHosts) {
        let oldest: string | undefined;
        let oldestSeen = Infinity;
        for (const [key, other] of this.#hosts) {
          if (other.row.seen < oldestSeen) {
            oldest = key;
            oldestSeen = other.row.seen;
          }
        }
        this.#hosts.delete(oldest!);
        this.#hostFrames.delete(oldest!);
      }
      state = {
        row: {
          host,
          cpu: null,
          mem: null,
          disk: null,
          diskMount: null,
          load1: null,
          rxBytes: null,
          txBytes: null,
          seen: 0,
        },
        disks: new Map(),
        net: new Map(),
      };
      this.#hosts.set(host, state);
    }
    state.row.seen = this.#clock();
    return state;
  }

  #hostFrame(host: string): HostFrame {
    let frame = this.#hostFrames.get(host);
    if (frame === undefined) {
      frame = {};
      this.#hostFrames.set(host, frame);
    }
    return frame;
  }

  #hostMetric(topic: string, event: Event): void {
    const state = this.#hostState(event.host);
    if (state === undefined) return;
    const row = state.row;
    switch (topic) {
      case "host.cpu": {
        const busy = finite(event.busy_percent);
        if (busy === undefined) return;
        row.cpu = busy;
        this.#hostFrame(row.host).cpu = busy;
        return;
      }
      case "host.memory": {
        const used = finite(event.used_percent);
        if (used === undefined) return;
        row.mem = used;
        this.#hostFrame(row.host).mem = used;
        return;
      }
      case "host.disk": {
        const used = finite(event.used_percent);
        if (used === undefined || typeof event.mount !== "string") return;
        const mount = this.#key(event.mount);
        if (!state.disks.has(mount) && state.disks.size >= MAX_MOUNTS) return;
        state.disks.set(mount, used);
        let fullest: [string, number] | undefined;
        for (const entry of state.disks) if (!fullest || entry[1] > fullest[1]) fullest = entry;
        row.disk = fullest![1];
        row.diskMount = fullest![0];
        this.#hostFrame(row.host).disk = row.disk;
        return;
      }
      case "host.load": {
        const load = finite(event.load1);
        if (load !== undefined) row.load1 = load;
        return;
      }
      case "host.net": {
        const name = event.interface;
        if (typeof name !== "string" || name === "lo") return;
        const rx = finite(event.rx_bytes_per_s) ?? 0;
        const tx = finite(event.tx_bytes_per_s) ?? 0;
        const key = this.#key(name);
        if (!state.net.has(key) && state.net.size >= MAX_INTERFACES) return;
        state.net.set(key, [rx, tx]);
        let rxSum = 0, txSum = 0;
        for (const [r, t] of state.net.values()) {
          rxSum += r;
          txSum += t;
        }
        row.rxBytes = rxSum;
        row.txBytes = txSum;
        return;
      }
    }
  }

  #sourceLabel(source: string, state: SourceState | undefined): string {
    const hex = BigInt(source).toString(16).padStart(6, "0").slice(-6);
    return state?.host === undefined ? `source ${hex}` : `${state.host} (${hex})`;
  }

  /**
   * Closes the current frame at `now` and starts the next one. `wire` (the
   * collector's counters) gives the losses per source. Returns the frame, which
   * is also kept for {@linkcode DashboardAggregator.framesJson}.
   */
  tick(now: number = this.#clock(), wire?: CollectorStats): Frame {
    const dt = Math.max(0.001, (now - this.#frameStart) / 1000);
    // Keyed by data (source labels, host names): a Map, turned into own properties
    // at the end, so that `constructor` or `__proto__` is a key like any other.
    const lost = new Map<string, number>();
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
      const lostBySource = new Map<string, number>();
      for (const stream of wire.streams) {
        lostBySource.set(stream.source, (lostBySource.get(stream.source) ?? 0) + stream.lost);
      }
      for (const [source, total] of lostBySource) {
        let state = this.#sources.get(source);
        if (state === undefined) {
          if (total === 0) continue;
          // A source that only ever lost (every message gone) is still shown.
          if (this.#sources.size >= this.#maxSources) this.#forgetOldestSource();
          state = { host: undefined, lostBefore: 0, seen: now };
          this.#sources.set(source, state);
        }
        const delta = total - state.lostBefore;
        state.lostBefore = total;
        if (delta > 0) {
          const label = this.#sourceLabel(source, state);
          lost.set(label, (lost.get(label) ?? 0) + delta);
        }
      }
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
      http: {
        requests: this.#httpRequests,
        status: this.#httpStatus,
        bytes: this.#httpBytes,
        latencyMs: this.#latency.count === 0 ? null : [
          roundMs(this.#latency.percentile(50)!),
          roundMs(this.#latency.percentile(95)!),
          roundMs(this.#latency.percentile(99)!),
        ],
      },
      mail: this.#mail,
      ssh: this.#ssh,
      hosts: Object.fromEntries(this.#hostFrames),
    };
    this.#keepFrame(frame);
    this.#frameStart = now;
    this.#topics = new Map();
    this.#httpStatus = [0, 0, 0, 0, 0, 0];
    this.#httpRequests = 0;
    this.#httpBytes = 0;
    this.#latency.reset();
    this.#mail = { delivered: 0, deferred: 0, bounced: 0, rejected: 0 };
    this.#ssh = { failed: 0, invalid: 0, accepted: 0 };
    this.#hostFrames = new Map();
    for (const top of this.#tops()) top.rotate(now);
    this.#lastState = undefined;
    return frame;
  }

  #keepFrame(frame: Frame): void {
    this.#frames.push(JSON.stringify(frame));
    this.#frameTimes.push(frame.t);
    const horizon = frame.t - this.#historyMs;
    let drop = 0;
    while (drop < this.#frameTimes.length && this.#frameTimes[drop] < horizon) drop++;
    if (drop > 0) {
      this.#frames.splice(0, drop);
      this.#frameTimes.splice(0, drop);
    }
    while (this.#history.length > 0 && this.#history[0].t < horizon) this.#history.shift();
  }

  /**
   * Adds frames from before the start (from a store), shown first; those older
   * than `historyMs` before the newest live frame are dropped as time goes on.
   */
  addHistory(frames: readonly Frame[]): void {
    const history = frames
      .filter((frame) => frame.t < this.startedAt)
      .map((frame) => ({ json: JSON.stringify(frame), t: frame.t }));
    this.#history = [...this.#history, ...history].sort((a, b) => a.t - b.t);
  }

  /** Every kept frame as JSON text, oldest first: history, then live. */
  framesJson(): string[] {
    return [...this.#history.map((entry) => entry.json), ...this.#frames];
  }

  /** Number of frames kept (history and live). */
  get frameCount(): number {
    return this.#history.length + this.#frames.length;
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
    const sources: SourceRow[] = [];
    if (wire !== undefined) {
      const bySource = new Map<string, SourceRow>();
      for (const stream of wire.streams) {
        let row = bySource.get(stream.source);
        if (row === undefined) {
          const state = this.#sources.get(stream.source);
          if (state === undefined) continue;
          row = {
            label: this.#sourceLabel(stream.source, state),
            source: BigInt(stream.source).toString(16),
            topics: [],
            received: 0,
            lost: 0,
            duplicates: 0,
            malformed: 0,
          };
          bySource.set(stream.source, row);
        }
        if (row.topics.length < 8) row.topics.push(stream.topic);
        row.received += stream.received;
        row.lost += stream.lost;
        row.duplicates += stream.duplicates;
        row.malformed += stream.malformed;
      }
      sources.push(...bySource.values());
      sources.sort((a, b) => b.lost - a.lost || b.received - a.received);
    }
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
      top: {
        paths: this.#paths.top(this.#topN),
        clients: this.#clients.top(this.#topN),
        agents: this.#agents.top(this.#topN),
        sshAddresses: this.#sshAddresses.top(this.#topN),
      },
      hosts: [...this.#hosts.values()].map((state) => ({ ...state.row }))
        .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)),
      sources: sources.slice(0, 32),
    };
    return this.#lastState;
  }
}

function finite(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** Seconds to milliseconds, three significant digits are plenty for a chart. */
function roundMs(seconds: number): number {
  const ms = seconds * 1000;
  return ms === 0 ? 0 : Number(ms.toPrecision(3));
}
