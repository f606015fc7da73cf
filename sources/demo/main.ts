/**
 * `eventstorm source demo`: realistic generated events at a steady rate.
 *
 * @module
 */
import {
  formatEventsLine,
  sourceFlags,
  sourceOutput,
  warnSourceOutput,
} from "@eventstorm/core/source";
import {
  type Command,
  helpText,
  parseFlags,
  reportStatsDuring,
  runCommand,
  shutdownSignal,
  type StatsDuringOptions,
} from "@eventstorm/core/cli";
import { DEMO_FLAGS, demoConfigFromFlags } from "./config.ts";
import { runDemoSource } from "./source.ts";
import { demoCounters } from "./stats.ts";

/** The `eventstorm source demo` command line.
 *
 * @example
 * ```ts
 * import { command } from "@eventstorm/source-demo/main";
 * command.name; // "eventstorm source demo"
 * ```
 */
export const command: Command<typeof DEMO_FLAGS> = {
  name: "eventstorm source demo",
  summary: "generate realistic HTTP, SSH and host events at a steady rate",
  flags: DEMO_FLAGS,
  main: demoMain,
};

/**
 * Runs the demo source with `args`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/source-demo/main";
 * await command.main(["--rate", "500", "--limit", "1000"]);
 * ```
 */
async function demoMain(args: string[]): Promise<number> {
  const parsed = parseFlags(args, command);
  if (parsed.help) {
    console.log(helpText(command));
    return 0;
  }
  const { rate, limit } = demoConfigFromFlags(parsed.values);
  const common = sourceFlags(parsed.values);
  const { to, curve, statsIntervalMs, statsTo } = common;
  const output = await sourceOutput("source demo", common)({});
  const reportOptions: StatsDuringOptions = {
    component: "source-demo",
    intervalMs: statsIntervalMs,
    snapshot: () => demoCounters(output),
    format: (current, previous, elapsed) => formatEventsLine("demo", current, previous, elapsed),
    statsTo,
    curve,
  };
  const signal = shutdownSignal();
  console.error(`source demo: ${rate} ev/s → ${to.join(", ")}`);
  warnSourceOutput("source demo", common);
  // The final line comes after the close, so that it counts what the close sent.
  await reportStatsDuring(reportOptions, async () => {
    await runDemoSource({ rate, output, limit, signal });
    await output.close();
  });
  return 0;
}

if (import.meta.main) await runCommand(() => command.main(Deno.args));
