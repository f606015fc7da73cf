/**
 * Load averages and process counts from `/proc/loadavg`.
 *
 * @module
 */

/** The run-queue averages and process counts. */
export interface LoadAverage {
  /** Average over 1 minute. */
  load1: number;
  /** Average over 5 minutes. */
  load5: number;
  /** Average over 15 minutes. */
  load15: number;
  /** Runnable tasks right now. */
  running: number;
  /** All tasks (processes and threads). */
  procs: number;
}

/**
 * Parses `/proc/loadavg` (`0.31 0.12 0.05 1/91 4946`). Throws a `SyntaxError` on
 * anything else.
 *
 * @example
 * ```ts
 * import { parseLoadavg } from "@eventstorm/source-metrics";
 * console.log(parseLoadavg("0.31 0.12 0.05 1/91 4946\n").procs); // 91
 * ```
 */
export function parseLoadavg(text: string): LoadAverage {
  const match = text.trim().match(/^(\d+\.\d+) (\d+\.\d+) (\d+\.\d+) (\d+)\/(\d+)(?: \d+)?$/);
  if (!match) throw new SyntaxError(`unexpected /proc/loadavg: '${text.trim().slice(0, 80)}'`);
  return {
    load1: Number(match[1]),
    load5: Number(match[2]),
    load15: Number(match[3]),
    running: Number(match[4]),
    procs: Number(match[5]),
  };
}

/**
 * Reads and parses `/proc/loadavg` (under `procRoot`, for tests).
 *
 * @example
 * ```ts ignore
 * import { readLoad } from "@eventstorm/source-metrics";
 * console.log((await readLoad()).load1);
 * ```
 */
export async function readLoad(procRoot = "/proc"): Promise<LoadAverage> {
  return parseLoadavg(await Deno.readTextFile(`${procRoot}/loadavg`));
}
