/**
 * Network interface counters from `/proc/net/dev`, turned into per-second rates.
 *
 * @module
 */
import { round2 } from "./_round.ts";

/** Cumulative counters of one interface since it came up. */
export interface InterfaceCounters {
  /** Bytes received. */
  rx_bytes: number;
  /** Packets received. */
  rx_packets: number;
  /** Receive errors. */
  rx_errors: number;
  /** Received packets dropped. */
  rx_drops: number;
  /** Bytes sent. */
  tx_bytes: number;
  /** Packets sent. */
  tx_packets: number;
  /** Transmit errors. */
  tx_errors: number;
  /** Packets dropped on transmit. */
  tx_drops: number;
}

/** One interface's traffic between two samples, plus its running totals. */
export interface InterfaceRates {
  /** Interface name, like `eth0`. */
  interface: string;
  /** Seconds between the two samples, to the millisecond. */
  interval_s: number;
  /** Bytes received per second. */
  rx_bytes_per_s: number;
  /** Bytes sent per second. */
  tx_bytes_per_s: number;
  /** Packets received per second. */
  rx_packets_per_s: number;
  /** Packets sent per second. */
  tx_packets_per_s: number;
  /** Receive errors during the interval. */
  rx_errors: number;
  /** Transmit errors during the interval. */
  tx_errors: number;
  /** Receive drops during the interval. */
  rx_drops: number;
  /** Transmit drops during the interval. */
  tx_drops: number;
  /** Bytes received since the interface came up. */
  rx_bytes_total: number;
  /** Bytes sent since the interface came up. */
  tx_bytes_total: number;
  /** Packets received since the interface came up. */
  rx_packets_total: number;
  /** Packets sent since the interface came up. */
  tx_packets_total: number;
  /** Receive errors since the interface came up. */
  rx_errors_total: number;
  /** Transmit errors since the interface came up. */
  tx_errors_total: number;
  /** Receive drops since the interface came up. */
  rx_drops_total: number;
  /** Transmit drops since the interface came up. */
  tx_drops_total: number;
}

const COUNTERS = [
  "rx_bytes",
  "rx_packets",
  "rx_errors",
  "rx_drops",
  "tx_bytes",
  "tx_packets",
  "tx_errors",
  "tx_drops",
] as const;

/**
 * Parses `/proc/net/dev` into counters by interface name. Lines that do not have
 * the 16 numeric columns are skipped.
 *
 * @example
 * ```ts
 * import { parseNetDev } from "@eventstorm/source-metrics";
 * const text = "Inter-| Receive | Transmit\n face |bytes packets|bytes packets\n" +
 *   "  eth0: 1000 10 0 0 0 0 0 0 500 5 0 0 0 0 0 0\n";
 * console.log(parseNetDev(text).get("eth0")?.rx_bytes); // 1000
 * ```
 */
export function parseNetDev(text: string): Map<string, InterfaceCounters> {
  const interfaces = new Map<string, InterfaceCounters>();
  for (const line of text.split("\n")) {
    // The name and the first number can touch when the counter is wide ("eth0:123").
    const match = line.match(/^\s*([^\s:]+):\s*(.*)$/);
    if (!match) continue;
    const columns = match[2].trim().split(/\s+/).map(Number);
    if (columns.length < 16 || columns.some((n) => !Number.isFinite(n) || n < 0)) continue;
    interfaces.set(match[1], {
      rx_bytes: columns[0],
      rx_packets: columns[1],
      rx_errors: columns[2],
      rx_drops: columns[3],
      tx_bytes: columns[8],
      tx_packets: columns[9],
      tx_errors: columns[10],
      tx_drops: columns[11],
    });
  }
  return interfaces;
}

/**
 * Per-second rates for each interface present in both samples. An interface whose
 * counters went backwards was reset (re-created, driver reloaded) and is left out
 * until the next pair of samples; so is an interface that just appeared.
 *
 * @example
 * ```ts
 * import { netRates } from "@eventstorm/source-metrics";
 * const zero = { rx_bytes: 0, rx_packets: 0, rx_errors: 0, rx_drops: 0, tx_bytes: 0, tx_packets: 0, tx_errors: 0, tx_drops: 0 };
 * const before = new Map([["eth0", zero]]);
 * const after = new Map([["eth0", { ...zero, rx_bytes: 2048 }]]);
 * console.log(netRates(before, after, 2)[0].rx_bytes_per_s); // 1024
 * ```
 */
export function netRates(
  before: Map<string, InterfaceCounters>,
  after: Map<string, InterfaceCounters>,
  seconds: number,
): InterfaceRates[] {
  if (!(seconds > 0)) return [];
  const rates: InterfaceRates[] = [];
  for (const [name, now] of after) {
    const then = before.get(name);
    if (!then || COUNTERS.some((counter) => now[counter] < then[counter])) continue;
    const delta = (counter: (typeof COUNTERS)[number]) => now[counter] - then[counter];
    rates.push({
      interface: name,
      interval_s: Math.round(seconds * 1000) / 1000,
      rx_bytes_per_s: round2(delta("rx_bytes") / seconds),
      tx_bytes_per_s: round2(delta("tx_bytes") / seconds),
      rx_packets_per_s: round2(delta("rx_packets") / seconds),
      tx_packets_per_s: round2(delta("tx_packets") / seconds),
      rx_errors: delta("rx_errors"),
      tx_errors: delta("tx_errors"),
      rx_drops: delta("rx_drops"),
      tx_drops: delta("tx_drops"),
      rx_bytes_total: now.rx_bytes,
      tx_bytes_total: now.tx_bytes,
      rx_packets_total: now.rx_packets,
      tx_packets_total: now.tx_packets,
      rx_errors_total: now.rx_errors,
      tx_errors_total: now.tx_errors,
      rx_drops_total: now.rx_drops,
      tx_drops_total: now.tx_drops,
    });
  }
  return rates;
}

/**
 * Reads and parses `/proc/net/dev` (under `procRoot`, for tests).
 *
 * @example
 * ```ts ignore
 * import { readNetCounters } from "@eventstorm/source-metrics";
 * console.log([...(await readNetCounters()).keys()]);
 * ```
 */
export async function readNetCounters(procRoot = "/proc"): Promise<Map<string, InterfaceCounters>> {
  return parseNetDev(await Deno.readTextFile(`${procRoot}/net/dev`));
}
