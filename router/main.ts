/**
 * `eventstorm router`: the router as a command.
 *
 * @module
 */
import {
  type Command,
  helpText,
  parseEndpoints,
  parseFlags,
  runCommand,
  shutdownSignal,
  warnPerFrameLimit,
  warnPlaintextBinds,
  warnUnresolvableHosts,
} from "@eventstorm/core/cli";
import { ROUTER_COMMAND, routerConfigFromFlags } from "./config.ts";
import { Router } from "./router.ts";

/**
 * The router's command: its flags, its help and how it runs.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/router/main";
 * Deno.exit(await command.main(["--allow", "http."]));
 * ```
 */
export const command: Command = { ...ROUTER_COMMAND, main: routerMain };

async function routerMain(args: string[]): Promise<number> {
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
  warnPerFrameLimit("router", endpoints);
  warnUnresolvableHosts("router", [...config.sources, ...config.sinks]);
  await router.run(shutdownSignal());
  return 0;
}

if (import.meta.main) await runCommand(() => command.main(Deno.args));
