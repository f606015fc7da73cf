/**
 * One place that reads all host metrics and turns them into events.
 *
 * @module
 */
import { type Event, localHostname } from "@eventstorm/core";
import { type CpuTimes, cpuUsage, readCpuTimes } from "./cpu.ts";
import { type DiskUsage, readDiskUsage } from "./disk.ts";
import { readLoad } from "./load.ts";
import { readMemory } from "./memory.ts";
import { type InterfaceCounters, netRates, readNetCounters } from "./net.ts";

/** The metric families; each becomes the event type `host.<kind>`. */
export type MetricKind = "cpu" | "memory" | "disk" | "load" | "net";

/** Every metric family, in the order events are produced.
 *
 * @example
 * ```ts
 * import { METRIC_KINDS } from "@eventstorm/source-metrics";
 * console.log(METRIC_KINDS.map((kind) => `host.${kind}`));
 * ```
 */
export const METRIC_KINDS: readonly MetricKind[] = ["cpu", "memory", "disk", "load", "net"];

/** Options of {@linkcode MetricsSampler}. */
export interface MetricsSamplerOptions {
  /** `host` of every event; this machine's name by default. */
  host?: string;
  /** Which families to read; all by default. */
  kinds?: readonly MetricKind[];
  /** Where `/proc` is; for tests. */
  procRoot?: string;
  /** Clock for event times. */
  now?: () => Date;
  /** Monotonic clock in ms that rates are measured with; `performance.now` unless testing. */
  monotonic?: () => number;
  /**
   * Told when a family could not be read. A failed family is skipped for that
   * sample; the others still report.
   */
  onError?: (kind: MetricKind, error: Error) => void;
}

/**
 * Reads host metrics and returns them as events: `host.cpu`, `host.memory`,
 * `host.load` (one each), `host.disk` (one per mount, field `mount`) and `host.net`
 * (one per interface, field `interface`). CPU and network are rates, so they need a
 * previous reading: call `prime()` first, or the first `sample()` lacks them.
 *
 * @example
 * ```ts ignore
 * import { MetricsSampler } from "@eventstorm/source-metrics";
 * using sampler = new MetricsSampler({ host: "web1" });
 * await sampler.prime();
 * await new Promise((r) => setTimeout(r, 1000));
 * for (const event of await sampler.sample()) console.log(event.type);
 * ```
 */
export class MetricsSampler implements Disposable {
  #host: string;
  #kinds: ReadonlySet<MetricKind>;
  #procRoot: string;
  #now: () => Date;
  #monotonic: () => number;
  #onError: (kind: MetricKind, error: Error) => void;
  #cpu?: CpuTimes;
  #net?: { counters: Map<string, InterfaceCounters>; at: number };
  #diskDisabled = false;
  #errors = 0;

  /** Creates a sampler; nothing is read until `prime()` or `sample()`. */
  constructor(options: MetricsSamplerOptions = {}) {
    this.#host = options.host ?? localHostname();
    this.#kinds = new Set(options.kinds ?? METRIC_KINDS);
    this.#procRoot = options.procRoot ?? "/proc";
    this.#now = options.now ?? (() => new Date());
    this.#monotonic = options.monotonic ?? (() => performance.now());
    this.#onError = options.onError ?? (() => {});
  }

  /** How many times a family or a mount failed to read so far. */
  get errors(): number {
    return this.#errors;
  }

  /** Takes the baseline readings that CPU and network rates are measured against. */
  async prime(): Promise<void> {
    await Promise.all([
      this.#kinds.has("cpu") && this.#guard("cpu", async () => {
        this.#cpu = await readCpuTimes(this.#procRoot);
      }),
      this.#kinds.has("net") && this.#guard("net", async () => {
        this.#net = { counters: await readNetCounters(this.#procRoot), at: this.#monotonic() };
      }),
    ]);
  }

  /** Reads every family once and returns the events, all stamped with one time. */
  async sample(): Promise<Event[]> {
    const time = this.#now();
    // Envelope first, so printed lines start with what they are.
    const make = (kind: MetricKind, fields: object): Event => ({
      type: `host.${kind}`,
      time,
      host: this.#host,
      ...fields,
    });
    const parts = await Promise.all(METRIC_KINDS.map(async (kind) => {
      if (!this.#kinds.has(kind)) return [];
      const events = await this.#guard(kind, async (): Promise<Event[]> => {
        switch (kind) {
          case "cpu": {
            const times = await readCpuTimes(this.#procRoot);
            const usage = this.#cpu && cpuUsage(this.#cpu, times);
            this.#cpu = times;
            return usage ? [make(kind, usage)] : [];
          }
          case "memory":
            return [make(kind, await readMemory(this.#procRoot))];
          case "load":
            return [make(kind, await readLoad(this.#procRoot))];
          case "disk":
            return (await this.#disks()).map((usage) => make(kind, usage));
          case "net": {
            const counters = await readNetCounters(this.#procRoot);
            const at = this.#monotonic();
            const before = this.#net;
            this.#net = { counters, at };
            if (!before) return [];
            return netRates(before.counters, counters, (at - before.at) / 1000)
              .map((rates) => make(kind, rates));
          }
        }
      });
      return events ?? [];
    }));
    return parts.flat();
  }

  async #disks(): Promise<DiskUsage[]> {
    if (this.#diskDisabled) return [];
    if (Deno.permissions.querySync({ name: "sys", kind: "statfs" }).state !== "granted") {
      // Without the permission there is no way to measure space; say so once, not every sample.
      this.#diskDisabled = true;
      throw new Error("disk metrics need --allow-sys=statfs");
    }
    return await readDiskUsage({
      procRoot: this.#procRoot,
      onError: (_mount, error) => this.#report("disk", error),
    });
  }

  async #guard<T>(kind: MetricKind, read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      this.#report(kind, error);
      return undefined;
    }
  }

  #report(kind: MetricKind, error: unknown): void {
    this.#errors++;
    this.#onError(kind, error instanceof Error ? error : new Error(String(error)));
  }

  /** Releases what sampling holds (today nothing: kept so callers can `using` it). */
  close(): void {}

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
