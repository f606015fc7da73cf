/**
 * The eventstorm router: an XSUB/XPUB forwarder with topic allow/deny,
 * subscription propagation, loss accounting and stats.
 *
 * @example
 * ```ts ignore
 * import { Router, ROUTER_COMMAND, routerConfigFromFlags } from "@eventstorm/router";
 * import { parseFlags } from "@eventstorm/core/cli";
 * const router = new Router(routerConfigFromFlags(parseFlags([], ROUTER_COMMAND).values));
 * await router.run();
 * ```
 *
 * @module
 */
export * from "./config.ts";
export * from "./filter.ts";
export * from "./stats.ts";
export * from "./router.ts";
