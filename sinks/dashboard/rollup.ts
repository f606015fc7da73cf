/**
 * The dashboard's kept frames, coarser with age, as a time-series store keeps
 * its tiers: the ticks themselves for the last minutes, then one frame a
 * minute, then one every ten minutes, so a week of history is a few thousand
 * frames, not 604,800.
 *
 * @module
 */
import type { Frame, HostFrame } from "./frame.ts";
import { LogHistogram } from "./histogram.ts";

/**
 * One level of coarser frames: frames older than `afterMs` (behind the newest)
 * are merged into one frame per `stepMs`.
 *
 * @example
 * ```ts
 * import type { RollupLevel } from "@eventstorm/sink-dashboard";
 * const minutes: RollupLevel = { stepMs: 60_000, afterMs: 15 * 60_000 };
 * ```
 */
export interface RollupLevel {
  /** Length of this level's frames, ms: a multiple of the previous level's. */
  stepMs: number;
  /** Frames this far behind the newest (and older) are shown at this level, ms. */
  afterMs: number;
}

/**
 * The levels the dashboard keeps by default: ticks for 15 minutes (what the
 * page's shortest ranges show), minutes for a day, ten minutes beyond (a week
 * is then 1,008 of them, about what a chart is wide in pixels).
 *
 * @example
 * ```ts
 * import { DEFAULT_ROLLUP } from "@eventstorm/sink-dashboard";
 * DEFAULT_ROLLUP.map((level) => level.stepMs); // [60000, 600000]
 * ```
 */
export const DEFAULT_ROLLUP: readonly RollupLevel[] = Object.freeze([
  Object.freeze({ stepMs: 60_000, afterMs: 15 * 60_000 }),
  Object.freeze({ stepMs: 600_000, afterMs: 24 * 3_600_000 }),
]);

/**
 * Frames that a rollup merged into one: the page removes its frames with
 * `from <= t < to` and puts `frame` (JSON text) in their place.
 *
 * @example
 * ```ts
 * import type { FrameRollupChange } from "@eventstorm/sink-dashboard";
 * const change: FrameRollupChange = { from: 0, to: 59_001, frame: '{"t":0,"dt":60}' };
 * ```
 */
export interface FrameRollupChange {
  /** Time of the first frame merged, epoch ms. */
  from: number;
  /** Just past the time of the last frame merged, epoch ms. */
  to: number;
  /** The merged frame as JSON text. */
  frame: string;
}

/**
 * Options of {@linkcode FrameRollup}.
 *
 * @example
 * ```ts
 * import { FrameRollup, type FrameRollupOptions } from "@eventstorm/sink-dashboard";
 * const options: FrameRollupOptions = { historyMs: 7 * 86_400_000, maxKeys: 64 };
 * const frames = new FrameRollup(options);
 * ```
 */
export interface FrameRollupOptions {
  /** How far behind the newest frame frames are kept, ms. */
  historyMs: number;
  /** Coarser levels, finest first. Default {@linkcode DEFAULT_ROLLUP}. */
  levels?: readonly RollupLevel[];
  /**
   * Topics, sources (losses) and hosts a merged frame tells apart; further
   * topics count as `other`, further sources only in `lostAll`, further hosts
   * are left out. Default 64.
   */
  maxKeys?: number;
}

/** Latency of frames without a histogram: each percentile weighted by timed requests. */
interface Weighted {
  weight: number;
  sums: [number, number, number];
}

interface Entry {
  t: number;
  dt: number;
  /** 0 for a tick, k for a frame of `levels[k - 1]`. */
  level: number;
  json: string;
  /** Holds ticks, whose latencies every coarser level's histogram has counted. */
  live: boolean;
  /** The latency of what it holds that came without a histogram (a store's history). */
  history: Weighted | undefined;
}

/** The histogram of one level's current bucket, and the percentiles of closed ones. */
interface LevelLatency {
  bucket: number;
  histogram: LogHistogram;
  closed: Map<number, Weighted>;
}

interface Block {
  members: Entry[];
  bytes: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * Keeps the frames the page is sent, oldest first, each level coarser than the
 * one before: ticks (as given to {@linkcode FrameRollup.add}) until
 * `levels[0].afterMs` old, then one frame per `levels[0].stepMs`, and so on.
 * Frames are held as JSON text; a frame older than `historyMs` is dropped.
 *
 * Merging is exact for every count (events per topic, losses, malformed, HTTP
 * requests, status classes and bytes, mail and SSH figures): a merged frame
 * holds the sums, and `dt` the seconds its frames covered, so a rate stays
 * count / `dt`. Latency percentiles of merged ticks come from a histogram of
 * every timed request of the interval (within the {@linkcode LogHistogram}'s
 * 0.5%), not from the ticks' own percentiles. What is approximate: percentiles
 * of frames from a store (which come without a histogram) merge as the mean of
 * each percentile weighted by requests; host metrics are the mean of the values
 * reported, weighted by time; and past `maxKeys` topics, sources or hosts a
 * merged frame keeps the first ones (topics beyond under `other`, losses
 * beyond in `lostAll` only).
 *
 * @example
 * ```ts
 * import { FrameRollup, type Frame } from "@eventstorm/sink-dashboard";
 * const frames = new FrameRollup({ historyMs: 7 * 86_400_000 });
 * const tick = (t: number): Frame => ({
 *   t, dt: 1, topics: { "http.hit": 10 }, lost: {}, lostAll: 0, bad: 0,
 *   http: { requests: 10, status: [0, 10, 0, 0, 0, 0], bytes: 0, latencyMs: null },
 *   mail: { delivered: 0, deferred: 0, bounced: 0, rejected: 0 },
 *   ssh: { failed: 0, invalid: 0, accepted: 0 }, hosts: {},
 * });
 * for (let second = 0; second < 3600; second++) frames.add(tick(second * 1000));
 * frames.size; // 945: 45 minutes, then 900 seconds
 * ```
 */
export class FrameRollup {
  readonly #historyMs: number;
  readonly #levels: readonly RollupLevel[];
  readonly #maxKeys: number;
  #entries: Entry[] = [];
  readonly #latency: LevelLatency[];
  readonly #cuts: number[];
  #blocks = new Map<string, Block>();

  /** An empty store of frames; throws a `RangeError` for levels that do not nest. */
  constructor(options: FrameRollupOptions) {
    this.#historyMs = options.historyMs;
    const levels = options.levels ?? DEFAULT_ROLLUP;
    let previous: RollupLevel = { stepMs: 1, afterMs: 0 };
    for (const level of levels) {
      if (
        !(level.stepMs > 0) || !Number.isInteger(level.stepMs) ||
        level.stepMs % previous.stepMs !== 0 || !(level.afterMs > previous.afterMs)
      ) {
        throw new RangeError(
          "rollup levels need whole steps, each a multiple of the one before, and later afterMs",
        );
      }
      previous = level;
    }
    this.#levels = levels;
    this.#maxKeys = options.maxKeys ?? 64;
    this.#latency = levels.map(() => ({
      bucket: -Infinity,
      histogram: new LogHistogram(),
      closed: new Map(),
    }));
    this.#cuts = levels.map(() => -Infinity);
  }

  /** Frames kept. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Keeps a tick, ending at `frame.t + frame.dt` (the newest time known);
   * `latency` is its requests' histogram (with the default
   * {@linkcode LogHistogram} options), counted into every level's interval.
   * Merges what has aged into a coarser level and drops what fell out of the
   * history; returns what it merged, for pages that hold the frames already.
   */
  add(frame: Frame, latency?: LogHistogram): FrameRollupChange[] {
    this.#insert(this.#entry(frame, 0, true));
    for (let k = 0; k < this.#levels.length; k++) {
      const step = this.#levels[k].stepMs;
      const open = this.#latency[k];
      const bucket = floor(frame.t, step);
      if (bucket !== open.bucket) {
        this.#close(open);
        open.bucket = bucket;
      }
      if (latency !== undefined) open.histogram.merge(latency);
    }
    const now = frame.t + frame.dt * 1000;
    const changes: FrameRollupChange[] = [];
    for (let k = 0; k < this.#levels.length; k++) {
      const level = this.#levels[k];
      const cut = floor(now - level.afterMs, level.stepMs);
      if (cut === this.#cuts[k]) continue;
      this.#cuts[k] = cut;
      this.#rollUp(k + 1, cut, changes);
      // Percentiles of intervals with nothing left to merge into.
      for (const bucket of this.#latency[k].closed.keys()) {
        if (bucket + level.stepMs <= cut) this.#latency[k].closed.delete(bucket);
      }
    }
    const horizon = frame.t - this.#historyMs;
    let drop = 0;
    while (drop < this.#entries.length && this.#entries[drop].t < horizon) drop++;
    if (drop > 0) this.#entries.splice(0, drop);
    return changes;
  }

  /**
   * Keeps frames from before the ticks (from a store: their percentiles come
   * without a histogram); a frame as long as a level's step is kept at that
   * level, a shorter one as a tick. They are merged and dropped with the ticks.
   */
  addHistory(frames: readonly Frame[]): void {
    for (const frame of [...frames].sort((a, b) => a.t - b.t)) {
      let level = 0;
      while (
        level < this.#levels.length && this.#levels[level].stepMs <= Math.round(frame.dt * 1000)
      ) level++;
      this.#insert(this.#entry(frame, level, false));
    }
  }

  /** Every frame kept as JSON text, oldest first. */
  json(): string[] {
    return this.#entries.map((entry) => entry.json);
  }

  /**
   * Every frame kept, oldest first, as UTF-8 JSON in blocks to be joined with
   * commas. A block holds the frames of one interval of the next level; blocks
   * whose frames have not changed are the same `Uint8Array` from call to call,
   * so what a request costs is only the blocks that changed (the newest
   * minute's, mostly), and concurrent requests share the rest.
   */
  chunks(): Uint8Array[] {
    const blocks = new Map<string, Block>();
    const out: Uint8Array[] = [];
    const entries = this.#entries;
    let i = 0;
    while (i < entries.length) {
      const key = this.#blockKey(entries[i]);
      let j = i + 1;
      while (j < entries.length && this.#blockKey(entries[j]) === key) j++;
      const cached = this.#blocks.get(key);
      let block: Block;
      if (cached !== undefined && sameMembers(cached.members, entries, i, j)) block = cached;
      else {
        const members = entries.slice(i, j);
        block = { members, bytes: encoder.encode(members.map((e) => e.json).join(",")) };
      }
      blocks.set(key, block);
      out.push(block.bytes);
      i = j;
    }
    this.#blocks = blocks;
    return out;
  }

  #blockKey(entry: Entry): string {
    const next = this.#levels[entry.level];
    const last = this.#levels.at(-1)?.stepMs ?? 60_000;
    const span = next?.stepMs ?? (entry.level === 0 ? 60_000 : 16 * last);
    return `${entry.level}:${floor(entry.t, span)}`;
  }

  #entry(frame: Frame, level: number, live: boolean): Entry {
    const latency = frame.http.latencyMs;
    const timed = frame.http.requests;
    return {
      t: frame.t,
      dt: frame.dt,
      level,
      json: JSON.stringify(frame),
      live,
      history: live || latency === null || !(timed > 0) ? undefined : {
        weight: timed,
        sums: [latency[0] * timed, latency[1] * timed, latency[2] * timed],
      },
    };
  }

  /** Puts `entry` in time order (ticks come last, so this is mostly a push). */
  #insert(entry: Entry): void {
    const entries = this.#entries;
    let at = entries.length;
    while (at > 0 && entries[at - 1].t > entry.t) at--;
    if (at === entries.length) entries.push(entry);
    else entries.splice(at, 0, entry);
  }

  #close(open: LevelLatency): void {
    const histogram = open.histogram;
    if (histogram.count > 0) {
      const count = histogram.count;
      open.closed.set(open.bucket, {
        weight: count,
        sums: [50, 95, 99].map((p) => histogram.percentile(p)! * 1000 * count) as [
          number,
          number,
          number,
        ],
      });
    }
    histogram.reset();
  }

  /** Merges the frames finer than `level` of each interval that ends by `cut`. */
  #rollUp(level: number, cut: number, changes: FrameRollupChange[]): void {
    const step = this.#levels[level - 1].stepMs;
    const entries = this.#entries;
    let i = 0;
    while (i < entries.length && entries[i].t < cut) {
      if (entries[i].level >= level) {
        i++;
        continue;
      }
      const bucket = floor(entries[i].t, step);
      // Sorted by time: every later frame is in this interval or a later one.
      if (bucket + step > cut) break;
      let j = i + 1;
      while (
        j < entries.length && entries[j].level < level && floor(entries[j].t, step) === bucket
      ) j++;
      const members = entries.slice(i, j);
      const merged = this.#merge(members, level, bucket);
      entries.splice(i, j - i, merged);
      changes.push({
        from: members[0].t,
        to: members[members.length - 1].t + 1,
        frame: merged.json,
      });
      i++;
    }
  }

  #merge(members: Entry[], level: number, bucket: number): Entry {
    const frames = members.map((entry) => JSON.parse(entry.json) as Frame);
    const topics = new Map<string, number>();
    const lost = new Map<string, number>();
    const hosts = new Map<string, Record<keyof HostFrame, [sum: number, seconds: number]>>();
    const status: Frame["http"]["status"] = [0, 0, 0, 0, 0, 0];
    const merged: Frame = {
      t: frames[0].t,
      dt: 0,
      topics: {},
      lost: {},
      lostAll: 0,
      bad: 0,
      http: { requests: 0, status, bytes: 0, latencyMs: null },
      mail: { delivered: 0, deferred: 0, bounced: 0, rejected: 0 },
      ssh: { failed: 0, invalid: 0, accepted: 0 },
      hosts: {},
    };
    const max = this.#maxKeys;
    for (const frame of frames) {
      merged.dt += frame.dt;
      merged.lostAll += frame.lostAll;
      merged.bad += frame.bad;
      merged.http.requests += frame.http.requests;
      merged.http.bytes += frame.http.bytes;
      for (let i = 0; i < 6; i++) status[i] += frame.http.status[i];
      merged.mail.delivered += frame.mail.delivered;
      merged.mail.deferred += frame.mail.deferred;
      merged.mail.bounced += frame.mail.bounced;
      merged.mail.rejected += frame.mail.rejected;
      merged.ssh.failed += frame.ssh.failed;
      merged.ssh.invalid += frame.ssh.invalid;
      merged.ssh.accepted += frame.ssh.accepted;
      for (const [topic, count] of Object.entries(frame.topics)) {
        const key = topics.has(topic) || topics.size < max ? topic : "other";
        topics.set(key, (topics.get(key) ?? 0) + count);
      }
      for (const [source, count] of Object.entries(frame.lost)) {
        if (lost.has(source) || lost.size < max) lost.set(source, (lost.get(source) ?? 0) + count);
      }
      for (const [host, metrics] of Object.entries(frame.hosts)) {
        let sums = hosts.get(host);
        if (sums === undefined) {
          if (hosts.size >= max) continue;
          hosts.set(host, sums = { cpu: [0, 0], mem: [0, 0], disk: [0, 0] });
        }
        for (const metric of ["cpu", "mem", "disk"] as const) {
          const value = metrics[metric];
          if (typeof value !== "number") continue;
          sums[metric][0] += value * frame.dt;
          sums[metric][1] += frame.dt;
        }
      }
    }
    // Maps turned into own properties: a topic or host may be called `__proto__`.
    merged.topics = Object.fromEntries(topics);
    merged.lost = Object.fromEntries(lost);
    merged.hosts = Object.fromEntries(
      [...hosts].map(([host, sums]) => {
        const metrics: HostFrame = {};
        for (const metric of ["cpu", "mem", "disk"] as const) {
          const [sum, seconds] = sums[metric];
          if (seconds > 0) metrics[metric] = Math.round((sum / seconds) * 100) / 100;
        }
        return [host, metrics];
      }),
    );

    let history: Weighted | undefined;
    for (const member of members) {
      if (member.history === undefined) continue;
      history ??= { weight: 0, sums: [0, 0, 0] };
      history.weight += member.history.weight;
      for (let i = 0; i < 3; i++) history.sums[i] += member.history.sums[i];
    }
    const live = members.some((member) => member.live);
    let fromTicks: Weighted | undefined;
    if (live) {
      const open = this.#latency[level - 1];
      if (open.bucket === bucket) {
        this.#close(open);
        open.bucket = -Infinity;
      }
      fromTicks = open.closed.get(bucket);
      open.closed.delete(bucket);
    }
    const weight = (fromTicks?.weight ?? 0) + (history?.weight ?? 0);
    if (weight > 0) {
      merged.http.latencyMs = [0, 1, 2].map((i) =>
        Number(
          (((fromTicks?.sums[i] ?? 0) + (history?.sums[i] ?? 0)) / weight).toPrecision(3),
        )
      ) as [number, number, number];
    }
    return {
      t: merged.t,
      dt: merged.dt,
      level,
      json: JSON.stringify(merged),
      live,
      history,
    };
  }
}

function floor(time: number, step: number): number {
  return time - (((time % step) + step) % step);
}

function sameMembers(members: Entry[], entries: Entry[], from: number, to: number): boolean {
  if (members.length !== to - from) return false;
  for (let i = 0; i < members.length; i++) if (members[i] !== entries[from + i]) return false;
  return true;
}
