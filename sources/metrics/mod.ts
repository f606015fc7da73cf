/**
 * Host metrics as eventstorm events: `host.cpu`, `host.memory`, `host.disk`,
 * `host.load` and `host.net`, read from `/proc` and `statfs(2)` on Linux.
 *
 * Each family has a pure parser for the kernel's text (`parseProcStat`,
 * `parseMeminfo`, `parseMountinfo`, `parseLoadavg`, `parseNetDev`), a reader for
 * the live files, and {@linkcode MetricsSampler} ties them together into events.
 *
 * @example
 * ```ts ignore
 * import { MetricsSampler } from "@eventstorm/source-metrics";
 * using sampler = new MetricsSampler();
 * await sampler.prime();
 * await new Promise((r) => setTimeout(r, 1000));
 * console.log(await sampler.sample());
 * ```
 *
 * @module
 */
export * from "./cpu.ts";
export * from "./memory.ts";
export * from "./disk.ts";
export * from "./load.ts";
export * from "./net.ts";
export * from "./sampler.ts";
export { sampleMetrics } from "./source.ts";
export { metricsCounters, type SampleCounts } from "./stats.ts";
export { METRICS_FLAGS, metricsIntervalFlag } from "./config.ts";
