/**
 * Dashboard frames from the embedded store, so the charts open with the past.
 *
 * @module
 */
import { setField } from "@eventstorm/core/internal";
import type { StoreReader } from "@eventstorm/sink-store/reader";
import type { Frame } from "./aggregator.ts";

/**
 * Options of {@linkcode loadHistory}.
 *
 * @example
 * ```ts
 * import type { LoadHistoryOptions } from "@eventstorm/sink-dashboard";
 * const now = Date.now();
 * const options: LoadHistoryOptions = { since: now - 3_600_000, until: now, every: 60_000 };
 * ```
 */
export interface LoadHistoryOptions {
  /** Start of the range, epoch ms (inclusive). */
  since: number;
  /** End of the range, epoch ms (exclusive): the dashboard's start. */
  until: number;
  /** Bucket width, ms. Default one minute. */
  every?: number;
  /** Topics told apart, most events first. Default 64. */
  maxTopics?: number;
  /** Mail, SSH and host events read one by one at most (each kind). Default 1,000,000. */
  maxEvents?: number;
  /** Longer host names are cut to this many characters. Default 200. */
  maxKeyLength?: number;
}

/**
 * Frames of `every` ms (the last one shorter, ending at `until`) covering
 * `[since, until)`, computed from a store: events per topic, HTTP status classes,
 * bytes and exact percentiles of `request_time` through `aggregate()`, mail,
 * SSH and host metrics by reading those (low-volume) events. Frames have no
 * wire losses: the store does not know them. Empty buckets give empty frames.
 *
 * @example
 * ```ts
 * import { EventStore } from "@eventstorm/sink-store";
 * import { StoreReader } from "@eventstorm/sink-store/reader";
 * import { loadHistory } from "@eventstorm/sink-dashboard";
 * const store = EventStore.open(":memory:");
 * const now = Date.now();
 * store.insertBatch([{ type: "http.hit", time: new Date(now - 90_000), host: "web1", status: 200 }]);
 * const frames = loadHistory(StoreReader.of(store), { since: now - 3_600_000, until: now });
 * frames.reduce((sum, frame) => sum + frame.http.requests, 0); // 1
 * ```
 */
export function loadHistory(store: StoreReader, options: LoadHistoryOptions): Frame[] {
  const every = options.every ?? 60_000;
  const { since, until } = options;
  const maxEvents = options.maxEvents ?? 1_000_000;
  const maxKeyLength = options.maxKeyLength ?? 200;
  if (!(until > since) || !(every > 0)) return [];
  const frames = new Map<number, Frame>();
  const first = since - (((since % every) + every) % every);
  for (let t = first; t < until; t += every) {
    const start = Math.max(t, since);
    frames.set(t, emptyFrame(start, (Math.min(t + every, until) - start) / 1000));
  }
  const frameAt = (time: number) => frames.get(time - (((time % every) + every) % every));
  const range = { since, until, every, fill: false };

  const topics = store.aggregate({ ...range, by: "type", top: options.maxTopics ?? 64 });
  for (const row of topics.rows) {
    const frame = frameAt(row.time.getTime());
    if (frame !== undefined && typeof row.group === "string") {
      setField(frame.topics, row.group, row.values.count ?? 0);
    }
  }

  const http = store.aggregate({
    ...range,
    type: "http.hit",
    measures: [
      "count",
      "sum:body_bytes_sent",
      "p50:request_time",
      "p95:request_time",
      "p99:request_time",
    ],
  });
  for (const row of http.rows) {
    const frame = frameAt(row.time.getTime());
    if (frame === undefined) continue;
    const v = row.values;
    // count and sums are numbers; only min, max and percentiles may be bigints (int64 past 2^53).
    frame.http.requests = Number(v.count ?? 0);
    frame.http.bytes = Number(v["sum:body_bytes_sent"] ?? 0);
    const p50 = v["p50:request_time"];
    if (typeof p50 === "number") {
      frame.http.latencyMs = [p50, v["p95:request_time"]!, v["p99:request_time"]!].map((s) =>
        Number((Number(s) * 1000).toPrecision(3))
      ) as [number, number, number];
    }
  }
  // Every distinct status is a group: there are few of them.
  const statuses = store.aggregate({ ...range, type: "http.hit", by: "status", top: 1000 });
  for (const row of statuses.rows) {
    const frame = frameAt(row.time.getTime());
    if (frame === undefined) continue;
    const status = typeof row.group === "number" ? row.group : Number(row.group);
    const statusClass = Number.isFinite(status) ? Math.floor(status / 100) : 0;
    frame.http.status[statusClass >= 1 && statusClass <= 5 ? statusClass - 1 : 5] += Number(
      row.values.count ?? 0,
    );
  }

  let read = 0;
  for (const event of store.events({ type: "smtp.", since, until })) {
    if (++read > maxEvents) break;
    const frame = frameAt(event.time.getTime());
    if (frame === undefined) continue;
    if (event.type === "smtp.deferred") frame.mail.deferred++;
    else if (event.type === "smtp.reject") frame.mail.rejected++;
    else if (event.type === "smtp.transaction" && Array.isArray(event.recipients)) {
      for (const recipient of event.recipients) {
        const status = (recipient as Record<string, unknown> | null)?.status;
        if (status === "sent") frame.mail.delivered++;
        else if (status === "bounced" || status === "expired") frame.mail.bounced++;
      }
    }
  }

  read = 0;
  for (const event of store.events({ type: "ssh.login", since, until })) {
    if (++read > maxEvents) break;
    const frame = frameAt(event.time.getTime());
    if (frame === undefined) continue;
    const weight = typeof event.repeated === "number" && event.repeated >= 1 ? event.repeated : 1;
    if (event.result === "failed") frame.ssh.failed += weight;
    else if (event.result === "invalid_user" || event.result === "not_allowed") {
      frame.ssh.invalid += weight;
    } else if (event.result === "accepted") frame.ssh.accepted += weight;
  }

  read = 0;
  const disks = new Map<string, Map<string, number>>();
  for (const event of store.events({ type: "host.", since, until })) {
    if (++read > maxEvents) break;
    const frame = frameAt(event.time.getTime());
    if (
      frame === undefined || typeof event.used_percent !== "number" && event.type !== "host.cpu"
    ) {
      continue;
    }
    const host = event.host.length > maxKeyLength
      ? event.host.slice(0, maxKeyLength - 1) + "…"
      : event.host;
    // Host names are data: own properties only, so `constructor` or `__proto__`
    // never reaches a built-in.
    let slot = Object.hasOwn(frame.hosts, host) ? frame.hosts[host] : undefined;
    if (slot === undefined) {
      if (Object.keys(frame.hosts).length >= MAX_HOSTS) continue;
      slot = {};
      setField(frame.hosts, host, slot);
    }
    if (event.type === "host.cpu" && typeof event.busy_percent === "number") {
      slot.cpu = event.busy_percent;
    } else if (event.type === "host.memory") slot.mem = event.used_percent as number;
    else if (event.type === "host.disk" && typeof event.mount === "string") {
      let mounts = disks.get(host);
      if (mounts === undefined) disks.set(host, mounts = new Map());
      if (mounts.size < 16 || mounts.has(event.mount)) {
        mounts.set(event.mount, event.used_percent as number);
      }
      slot.disk = Math.max(...mounts.values());
    }
    if (Object.keys(slot).length === 0) delete frame.hosts[host];
  }
  return [...frames.values()];
}

const MAX_HOSTS = 64;

/**
 * A frame of nothing at `t` (ms) covering `dt` seconds.
 *
 * @example
 * ```ts ignore
 * emptyFrame(Date.now(), 60).http.requests; // 0
 * ```
 */
export function emptyFrame(t: number, dt: number): Frame {
  return {
    t,
    dt,
    topics: {},
    lost: {},
    lostAll: 0,
    bad: 0,
    http: { requests: 0, status: [0, 0, 0, 0, 0, 0], bytes: 0, latencyMs: null },
    mail: { delivered: 0, deferred: 0, bounced: 0, rejected: 0 },
    ssh: { failed: 0, invalid: 0, accepted: 0 },
    hosts: {},
  };
}
