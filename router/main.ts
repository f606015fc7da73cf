/**
 * `eventstorm router`: the router as a command.
 *
 * @module
 */
import {
  helpText,
  parseEndpoints,
  parseFlags,
  runCommand,
  shutdownSignal,
  warnPlaintextBinds,
  warnUnresolvableHosts,
} from "@eventstorm/core/cli";
import { ROUTER_COMMAND, routerConfigFromFlags } from "./config.ts";
import { Router } from "./router.ts";

/**
 * Runs the router command with `args`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * import { routerMain } from "@eventstorm/router";
 * Deno.exit(await routerMain(["--allow", "http."]));
 * ```
 */
export async function routerMain(args: string[]): Promise<number> {
  const parsed = parseFlags(args, ROUTER_COMMAND);
  if (parsed.help) {
    console.log(helpText(ROUTER_COMMAND));
    return 0;
  }
  const config = routerConfigFromFlags(parsed.values);
  const router = new Router(config);
  const bound = router.boundEndpoints();
  console.error(`router: sources ${bound.sources}, sinks ${bound.sinks}`);
  const endpoints = [...config.sources, ...config.sinks].flatMap((text) => parseEndpoints(text));
  if (config.curve) {
    console.error(
      config.allowKeys === undefined
        ? "router: CURVE on; no --allow-keys, so any client that knows the server key is admitted"
        : `router: CURVE on; admitting the keys in ${config.allowKeys}`,
    );
  }
  warnPlaintextBinds("router", endpoints, config.curve);
  warnUnresolvableHosts("router", [...config.sources, ...config.sinks]);
  await router.run(shutdownSignal());
  return 0;
}

if (import.meta.main) await runCommand(() => routerMain(Deno.args));
