/**
 * The live dashboard sink: receives events, aggregates them once a second
 * (events per topic, losses on the wire per source, HTTP status classes,
 * latency percentiles and bytes, top paths and clients, mail outcomes, SSH
 * failures and offenders, host CPU, memory and disk) and pushes the aggregates
 * over a WebSocket to a page drawn with uPlot. `eventstorm sink dashboard` is in
 * `./main`.
 *
 * @example
 * ```ts ignore
 * import { Dashboard } from "@eventstorm/sink-dashboard";
 * const dashboard = await Dashboard.start({
 *   collector: { endpoints: ">tcp://127.0.0.1:5556" },
 *   port: 8080,
 *   db: "eventstorm.db",
 * });
 * console.log(dashboard.url); // http://127.0.0.1:8080/
 * ```
 *
 * @module
 */
export {
  DashboardAggregator,
  type DashboardAggregatorOptions,
  type DashboardState,
  type Frame,
  type HostFrame,
  type HostRow,
  type HttpFrame,
  type MailFrame,
  type SourceRow,
  type SshFrame,
} from "./aggregator.ts";
export { Dashboard, type DashboardOptions, type DashboardStats } from "./dashboard.ts";
export { DashboardBackend, type DashboardBackendOptions } from "./backend.ts";
export { DashboardServer, type DashboardServerOptions, isLoopback, ListenError } from "./server.ts";
export { ConnectionGuard, type ConnectionGuardOptions } from "./guard.ts";
export { loadHistory, type LoadHistoryOptions } from "./history.ts";
export { LogHistogram, type LogHistogramOptions } from "./histogram.ts";
export {
  DEFAULT_ROLLUP,
  FrameRollup,
  type FrameRollupChange,
  type FrameRollupOptions,
  type RollupLevel,
} from "./rollup.ts";
export { type TopRow, WindowedTopN, type WindowedTopNOptions } from "./top_n.ts";
export { type Asset, ASSETS } from "./assets.ts";
export { type HttpHitFields, scanHttpHits, type ScanResult } from "./http_scan.ts";
export { DASHBOARD_FLAGS, type ListenAddress, parseListen } from "./config.ts";
