/**
 * `eventstorm router`: the router as a command.
 *
 * @module
 */
import {
  helpText,
  parseFlags,
  runCommand,
  shutdownSignal,
  warnUnresolvableHosts,
} from "@eventstorm/core";
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
  warnUnresolvableHosts("router", [...config.sources, ...config.sinks]);
  await router.run(shutdownSignal());
  return 0;
}

if (import.meta.main) await runCommand(() => routerMain(Deno.args));
