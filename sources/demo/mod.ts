/**
 * The demo source: generated events for trying eventstorm without any logs.
 *
 * @example
 * ```ts
 * import { DemoEvents } from "@eventstorm/source-demo";
 * console.log(new DemoEvents({ seed: 7 }).next(new Date()));
 * ```
 *
 * @module
 */
export * from "./events.ts";
export * from "./source.ts";
export * from "./stats.ts";
export { DEMO_FLAGS, demoConfigFromFlags } from "./config.ts";
