/**
 * CPU use from `/proc/stat`: cumulative jiffies per state, turned into percentages
 * of the time between two samples.
 *
 * @module
 */
import { round2 } from "./_round.ts";

/** Cumulative CPU time per state since boot, in clock ticks, summed over all CPUs. */
export interface CpuTimes {
  /** Normal processes in user mode (includes guest time). */
  user: number;
  /** Niced processes in user mode (includes guest_nice time). */
  nice: number;
  /** Kernel mode. */
  system: number;
  /** Idle. */
  idle: number;
  /** Idle while waiting for I/O. */
  iowait: number;
  /** Servicing hardware interrupts. */
  irq: number;
  /** Servicing soft interrupts. */
  softirq: number;
  /** Taken by the hypervisor for other guests. */
  steal: number;
  /** Number of `cpuN` lines, that is, online CPUs. */
  cpus: number;
}

/** CPU use between two samples, each state as a percentage of elapsed CPU time. */
export interface CpuUsage {
  /** User mode, including guests. */
  user_percent: number;
  /** Niced user mode. */
  nice_percent: number;
  /** Kernel mode. */
  system_percent: number;
  /** Waiting for I/O. */
  iowait_percent: number;
  /** Hardware interrupts. */
  irq_percent: number;
  /** Soft interrupts. */
  softirq_percent: number;
  /** Stolen by the hypervisor. */
  steal_percent: number;
  /** Idle. */
  idle_percent: number;
  /** Everything but idle and iowait: the share of time the CPUs did work. */
  busy_percent: number;
  /** Online CPUs. */
  cpus: number;
}

const STATES = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"] as const;

/**
 * Parses the aggregate `cpu` line of `/proc/stat`. Throws a `SyntaxError` when the
 * text has no usable `cpu` line.
 *
 * @example
 * ```ts
 * import { parseProcStat } from "@eventstorm/source-metrics";
 * const times = parseProcStat("cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 10 0 5 80 5 0 0 0 0 0\n");
 * console.log(times.idle, times.cpus); // 80 1
 * ```
 */
export function parseProcStat(text: string): CpuTimes {
  let aggregate: number[] | undefined;
  let cpus = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("cpu ")) {
      aggregate = line.trim().split(/\s+/).slice(1).map(Number);
    } else if (/^cpu\d+\s/.test(line)) {
      cpus++;
    }
  }
  // Kernels before 2.6.11 lack steal (and older ones iowait/irq): missing columns are 0.
  if (!aggregate || aggregate.length < 4 || aggregate.some((n) => !Number.isFinite(n) || n < 0)) {
    throw new SyntaxError("/proc/stat has no valid 'cpu' line");
  }
  const times = { cpus } as CpuTimes;
  STATES.forEach((state, i) => times[state] = aggregate[i] ?? 0);
  return times;
}

/**
 * Percentages of CPU time spent in each state between two samples, or `undefined`
 * when no time passed between them. A counter that went backwards (iowait does on
 * some tickless kernels) counts as zero rather than as a negative share.
 *
 * @example
 * ```ts
 * import { cpuUsage, parseProcStat } from "@eventstorm/source-metrics";
 * const a = parseProcStat("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1\n");
 * const b = parseProcStat("cpu  150 0 75 900 75 0 0 0 0 0\ncpu0 1\n");
 * console.log(cpuUsage(a, b)?.busy_percent); // 37.5
 * ```
 */
export function cpuUsage(before: CpuTimes, after: CpuTimes): CpuUsage | undefined {
  const delta = {} as Record<(typeof STATES)[number], number>;
  let total = 0;
  for (const state of STATES) {
    delta[state] = Math.max(0, after[state] - before[state]);
    total += delta[state];
  }
  if (total === 0) return undefined;
  const percent = (n: number) => round2((n / total) * 100);
  return {
    user_percent: percent(delta.user),
    nice_percent: percent(delta.nice),
    system_percent: percent(delta.system),
    iowait_percent: percent(delta.iowait),
    irq_percent: percent(delta.irq),
    softirq_percent: percent(delta.softirq),
    steal_percent: percent(delta.steal),
    idle_percent: percent(delta.idle),
    busy_percent: percent(total - delta.idle - delta.iowait),
    cpus: after.cpus,
  };
}

/**
 * Reads and parses `/proc/stat` (under `procRoot`, for tests).
 *
 * @example
 * ```ts ignore
 * import { readCpuTimes } from "@eventstorm/source-metrics";
 * console.log((await readCpuTimes()).cpus);
 * ```
 */
export async function readCpuTimes(procRoot = "/proc"): Promise<CpuTimes> {
  return parseProcStat(await Deno.readTextFile(`${procRoot}/stat`));
}
