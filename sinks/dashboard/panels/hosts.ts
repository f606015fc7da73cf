/**
 * The hosts panel: each host's latest CPU, memory, fullest disk, load and
 * network rates, as a table row and per frame.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import type { HostFrame, HostRow } from "../frame.ts";

const MAX_MOUNTS = 16;
const MAX_INTERFACES = 16;

/** The fields this panel reads (docs/events.md), checked against the catalogue. */
export const HOST_READS = {
  "host.cpu": ["busy_percent"],
  "host.memory": ["used_percent"],
  "host.disk": ["used_percent", "mount"],
  "host.load": ["load1"],
  "host.net": ["interface", "rx_bytes_per_s", "tx_bytes_per_s"],
} as const;

interface HostState {
  row: HostRow;
  disks: Map<string, number>;
  net: Map<string, [number, number]>;
}

/** Options of {@linkcode HostsPanel}. */
export interface HostsPanelOptions {
  /** Hosts tracked; the least recently seen is forgotten first. */
  maxHosts: number;
  /** Cuts a string from an event to the dashboard's key length. */
  key: (text: string) => string;
  /** Clock; epoch ms. */
  now: () => number;
}

/** Accumulates `host.*` events, keyed by host name in maps (a host may be called `constructor`). */
export class HostsPanel {
  readonly #options: HostsPanelOptions;
  readonly #hosts = new Map<string, HostState>();
  #frames = new Map<string, HostFrame>();

  /** A panel with no hosts yet. */
  constructor(options: HostsPanelOptions) {
    this.#options = options;
  }

  /** Accounts one `host.*` event of type `topic`. */
  metric(topic: string, event: Event): void {
    const state = this.#state(event.host);
    if (state === undefined) return;
    const row = state.row;
    switch (topic) {
      case "host.cpu": {
        const busy = finite(event.busy_percent);
        if (busy === undefined) return;
        row.cpu = busy;
        this.#frame(row.host).cpu = busy;
        return;
      }
      case "host.memory": {
        const used = finite(event.used_percent);
        if (used === undefined) return;
        row.mem = used;
        this.#frame(row.host).mem = used;
        return;
      }
      case "host.disk": {
        const used = finite(event.used_percent);
        if (used === undefined || typeof event.mount !== "string") return;
        const mount = this.#options.key(event.mount);
        if (!state.disks.has(mount) && state.disks.size >= MAX_MOUNTS) return;
        state.disks.set(mount, used);
        let fullest: [string, number] | undefined;
        for (const entry of state.disks) if (!fullest || entry[1] > fullest[1]) fullest = entry;
        row.disk = fullest![1];
        row.diskMount = fullest![0];
        this.#frame(row.host).disk = row.disk;
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
        const key = this.#options.key(name);
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

  /** The frame's figures per host, as own properties; the next frame starts empty. */
  frame(): Record<string, HostFrame> {
    const frame = Object.fromEntries(this.#frames);
    this.#frames = new Map();
    return frame;
  }

  /** One row per host, by name. */
  rows(): HostRow[] {
    return [...this.#hosts.values()].map((state) => ({ ...state.row }))
      .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  }

  #state(name: unknown): HostState | undefined {
    if (typeof name !== "string") return undefined;
    const host = this.#options.key(name);
    let state = this.#hosts.get(host);
    if (state === undefined) {
      if (this.#hosts.size >= this.#options.maxHosts) this.#forgetOldest();
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
    state.row.seen = this.#options.now();
    return state;
  }

  #forgetOldest(): void {
    let oldest: string | undefined;
    let oldestSeen = Infinity;
    for (const [key, other] of this.#hosts) {
      if (other.row.seen < oldestSeen) {
        oldest = key;
        oldestSeen = other.row.seen;
      }
    }
    this.#hosts.delete(oldest!);
    this.#frames.delete(oldest!);
  }

  #frame(host: string): HostFrame {
    let frame = this.#frames.get(host);
    if (frame === undefined) {
      frame = {};
      this.#frames.set(host, frame);
    }
    return frame;
  }
}

function finite(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}
