/**
 * What the dashboard sends the page: one frame per tick, and the tables.
 *
 * @module
 */
import type { TopRow } from "./top_n.ts";

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
