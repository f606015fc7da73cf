/**
 * The dashboard's flags, and its `--listen` address.
 *
 * @module
 */
import { type FlagSpec, UsageError } from "@eventstorm/core/cli";

/**
 * The dashboard's own flags; `eventstorm sink dashboard` has every sink's too
 * (`SINK_FLAGS`: `--from`, `--topic`, `--buffer`, `--stats-interval`, …).
 *
 * @example
 * ```ts
 * import { DASHBOARD_FLAGS } from "@eventstorm/sink-dashboard";
 * Object.keys(DASHBOARD_FLAGS).includes("listen"); // true
 * ```
 */
export const DASHBOARD_FLAGS = {
  listen: {
    type: "string",
    value: "HOST:PORT",
    default: "127.0.0.1:8080",
    help: "where to serve the page (port 0 picks one); off loopback --token is required",
  },
  token: {
    type: "string",
    value: "SECRET",
    help: "required as ?token= by the page and its WebSocket (16 characters or more)",
  },
  db: {
    type: "string",
    value: "PATH",
    help: "an event store file (eventstorm sink store) to open the charts with its past",
  },
  history: {
    type: "string",
    value: "DURATION",
    default: "1h",
    help: "how far back the charts go (at most 7d; per second for 15 min, per minute for a day, " +
      "per 10 min beyond)",
  },
  window: {
    type: "string",
    value: "DURATION",
    default: "1m",
    help: "window of the top lists (paths, clients, offenders)",
  },
} as const satisfies Record<string, FlagSpec>;

/**
 * What `--listen` says.
 *
 * @example
 * ```ts
 * import { type ListenAddress, parseListen } from "@eventstorm/sink-dashboard";
 * const address: ListenAddress = parseListen("127.0.0.1:8080");
 * ```
 */
export interface ListenAddress {
  /** Host name or address, without brackets. */
  hostname: string;
  /** Port, 0 for any. */
  port: number;
}

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces). Throws
 * {@linkcode UsageError} otherwise.
 *
 * @example
 * ```ts
 * import { parseListen } from "@eventstorm/sink-dashboard";
 * parseListen("127.0.0.1:8080"); // { hostname: "127.0.0.1", port: 8080 }
 * parseListen("[::1]:0"); // { hostname: "::1", port: 0 }
 * ```
 */
export function parseListen(text: string): ListenAddress {
  const match = text.trim().match(/^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]*)):(\d{1,5})$/);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new UsageError(`--listen must be HOST:PORT like 127.0.0.1:8080, got '${text}'`);
  }
  const hostname = match[1] ?? (match[2] === "" ? "0.0.0.0" : match[2]);
  return { hostname, port };
}
