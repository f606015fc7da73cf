/**
 * Memory and swap from `/proc/meminfo`.
 *
 * @module
 */
import { round2 } from "./_round.ts";

/** Memory and swap use, in bytes. */
export interface MemoryUsage {
  /** Usable RAM. */
  total_bytes: number;
  /** Memory that new work could get without swapping (the kernel's estimate). */
  available_bytes: number;
  /** `total - available`: what is really taken, page cache not counted. */
  used_bytes: number;
  /** `used / total` in percent. */
  used_percent: number;
  /** Completely unused RAM. */
  free_bytes: number;
  /** Raw block-device buffers. */
  buffers_bytes: number;
  /** Page cache (excluding swap cache). */
  cached_bytes: number;
  /** Swap size; 0 without swap. */
  swap_total_bytes: number;
  /** Unused swap. */
  swap_free_bytes: number;
  /** Swap in use. */
  swap_used_bytes: number;
  /** `swap used / swap total` in percent; 0 without swap. */
  swap_used_percent: number;
}

/**
 * Parses `/proc/meminfo`. Throws a `SyntaxError` when `MemTotal` is missing.
 *
 * @example
 * ```ts
 * import { parseMeminfo } from "@eventstorm/source-metrics";
 * const m = parseMeminfo("MemTotal: 1000 kB\nMemFree: 200 kB\nMemAvailable: 600 kB\n");
 * console.log(m.used_percent); // 40
 * ```
 */
export function parseMeminfo(text: string): MemoryUsage {
  const kb = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = line.match(/^([\w()]+):\s+(\d+)(?:\s+kB)?\s*$/);
    if (match) kb.set(match[1], Number(match[2]) * 1024);
  }
  const total = kb.get("MemTotal");
  if (total === undefined) throw new SyntaxError("/proc/meminfo has no MemTotal line");
  const free = kb.get("MemFree") ?? 0;
  const buffers = kb.get("Buffers") ?? 0;
  const cached = kb.get("Cached") ?? 0;
  // MemAvailable appeared in Linux 3.14; before it, free + buffers + cache is the
  // usual approximation.
  const available = Math.min(total, kb.get("MemAvailable") ?? free + buffers + cached);
  const used = total - available;
  const swapTotal = kb.get("SwapTotal") ?? 0;
  const swapFree = Math.min(swapTotal, kb.get("SwapFree") ?? 0);
  const swapUsed = swapTotal - swapFree;
  return {
    total_bytes: total,
    available_bytes: available,
    used_bytes: used,
    used_percent: total > 0 ? round2((used / total) * 100) : 0,
    free_bytes: free,
    buffers_bytes: buffers,
    cached_bytes: cached,
    swap_total_bytes: swapTotal,
    swap_free_bytes: swapFree,
    swap_used_bytes: swapUsed,
    swap_used_percent: swapTotal > 0 ? round2((swapUsed / swapTotal) * 100) : 0,
  };
}

/**
 * Reads and parses `/proc/meminfo` (under `procRoot`, for tests).
 *
 * @example
 * ```ts ignore
 * import { readMemory } from "@eventstorm/source-metrics";
 * console.log((await readMemory()).used_percent);
 * ```
 */
export async function readMemory(procRoot = "/proc"): Promise<MemoryUsage> {
  return parseMeminfo(await Deno.readTextFile(`${procRoot}/meminfo`));
}
