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
import { ROUTER_COMMAND, type RouterConfig, routerConfigFromFlags } from "./config.ts";
import { deniedAllows } from "./filter.ts";
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
  for (const line of curveLines(config, router.curveServer())) console.error(line);
  for (const line of policyLines(config)) console.error(line);
  warnPlaintextBinds("router", endpoints, config.curve);
  warnPerFrameLimit("router", endpoints);
  warnUnresolvableHosts("router", [...config.sources, ...config.sinks]);
  await router.run(shutdownSignal());
  return 0;
}

/** A warning when --allow and --deny leave no topic that can pass. */
export function policyLines(config: Pick<RouterConfig, "allow" | "deny">): string[] {
  const denied = deniedAllows(config.allow, config.deny);
  if (denied.length === 0 || denied.length < config.allow.length) return [];
  return [
    `router: warning: every --allow prefix is denied (${denied.join(", ")}): no topic can pass`,
  ];
}

/**
 * What the router says at start about CURVE: as a server (it binds), who is
 * admitted; as a client only (it binds nothing), that it admits nobody itself.
 */
export function curveLines(
  config: RouterConfig,
  server: { keys: number | undefined } | undefined,
): string[] {
  if (!config.curve) return [];
  if (server === undefined) {
    const lines = ["router: CURVE on, as a client of --curve-server (no endpoint binds)"];
    if (config.allowKeys !== undefined) {
      lines.push(
        "router: warning: --allow-keys has no effect: no endpoint binds, so no client comes",
      );
    }
    return lines;
  }
  if (server.keys === undefined) {
    return [
      "router: CURVE on; no --allow-keys, so any client that knows the server key is admitted",
    ];
  }
  if (server.keys === 0) {
    return [
      `router: warning: CURVE on; admitting 0 keys: ${config.allowKeys} holds no public ` +
      "certificate, so every client will be refused until one is added there",
    ];
  }
  return [
    `router: CURVE on; admitting ${server.keys} key${server.keys === 1 ? "" : "s"} ` +
    `(the public certificates in ${config.allowKeys}, re-read when it changes)`,
  ];
}

if (import.meta.main) await runCommand(() => command.main(Deno.args));
