/**
 * `eventstorm agent --config FILE`: one process per host running every input of
 * a TOML config; SIGHUP reloads it.
 *
 * @example
 * ```sh
 * deno run -A agent/main.ts --config /etc/eventstorm/agent.toml
 * deno run -A agent/main.ts --config agent.toml --check
 * ```
 *
 * @module
 */
import {
  type BooleanFlagSpec,
  type Command,
  helpText,
  openStatsPublisher,
  parseFlags,
  runCommand,
  shutdownSignal,
  type StringFlagSpec,
  UsageError,
} from "@eventstorm/core/cli";
import { Agent, checkConfig } from "./agent.ts";
import { ConfigError, loadConfig, loadConfigProblems } from "./config.ts";

/** The agent's command line. */
export const command: Command<{ config: StringFlagSpec; check: BooleanFlagSpec }> = {
  name: "eventstorm agent",
  summary: "run every input of a TOML config in one process (SIGHUP reloads it)",
  flags: {
    config: { type: "string", short: "c", value: "FILE", help: "the config file (TOML)" },
    check: { type: "boolean", help: "check the config (and what it names) and exit" },
  },
  epilog: "Example config:\n" +
    '  to = ">tcp://router.example:5555"\n' +
    "  [inputs.web]\n" +
    '  type = "nginx"\n' +
    '  file = ["/var/log/nginx/access.log"]\n' +
    '  nginx_conf = "/etc/nginx/nginx.conf"\n' +
    "  [inputs.syslog]\n" +
    '  type = "syslog"\n' +
    '  listen = ["udp://127.0.0.1:5514"]\n' +
    "Input keys are the flags of `eventstorm source TYPE --help` with _ for -;\n" +
    "${VAR} is replaced by the environment variable VAR.",
  main: agentMain,
};

/**
 * Runs `eventstorm agent ARGS` until SIGINT/SIGTERM.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/agent/main";
 * await command.main(["--config", "agent.toml", "--check"]);
 * ```
 */
async function agentMain(args: string[]): Promise<number> {
  const parsed = parseFlags(args, command);
  if (parsed.help) {
    console.log(helpText(command));
    return 0;
  }
  const path = parsed.values.config;
  if (path === undefined) throw new UsageError("eventstorm agent: --config FILE is required");
  // Every mistake on a line of its own, then exit 2.
  const report = (problems: string[]) => {
    for (const problem of problems) console.error(`error: ${problem}`);
    return 2;
  };
  const configProblems = (error: unknown) => {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  };
  if (parsed.values.check) {
    let loaded;
    try {
      loaded = await loadConfigProblems(path);
    } catch (error) {
      return report(configProblems(error));
    }
    const { config, problems } = loaded;
    // The inputs without a mistake so far are built and probed too.
    await checkConfig(config, undefined, { probe: true })
      .catch((error) => problems.push(...configProblems(error)));
    if (problems.length > 0) return report(problems);
    console.log(
      `${path}: ok, ${config.inputs.length} input(s): ` +
        config.inputs.map((i) => `${i.name} (${i.type})`).join(", "),
    );
    return 0;
  }
  let config;
  try {
    config = await loadConfig(path);
  } catch (error) {
    return report(configProblems(error));
  }
  const stats = await openStatsPublisher(config.statsTo, config.curve);
  const agent = new Agent({ statsIntervalMs: config.statsIntervalMs, publish: stats?.publish });
  try {
    await agent.apply(config);
  } catch (error) {
    await agent.stop();
    await stats?.close();
    return report(configProblems(error));
  }
  if (config.inputs.length === 0) console.error(`agent: ${path} has no inputs; waiting for SIGHUP`);
  // The stats publisher and its timer are made once: a reload says so rather than ignore a change.
  const statsSettings = JSON.stringify([config.statsIntervalMs, config.statsTo]);
  const reload = async () => {
    try {
      const next = await loadConfig(path);
      const { started, stopped, kept } = await agent.apply(next);
      const statsChanged = JSON.stringify([next.statsIntervalMs, next.statsTo]) !== statsSettings;
      console.error(
        `agent: reloaded ${path}: started [${started.join(", ")}], stopped [${
          stopped.join(", ")
        }], ` +
          `unchanged [${kept.join(", ")}]` +
          (statsChanged ? "; stats_interval and stats_to apply at the next start" : ""),
      );
    } catch (error) {
      const reasons = error instanceof ConfigError
        ? error.problems
        : [error instanceof Error ? error.message : String(error)];
      for (const reason of reasons) {
        console.error(`agent: reload failed, the running config stays: ${reason}`);
      }
    }
  };
  const onHup = () => void reload();
  Deno.addSignalListener("SIGHUP", onHup);
  const signal = shutdownSignal();
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  Deno.removeSignalListener("SIGHUP", onHup);
  await agent.stop();
  await stats?.close();
  return 0;
}

if (import.meta.main) await runCommand(() => command.main(Deno.args));
