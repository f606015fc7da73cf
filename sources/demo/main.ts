/**
 * `eventstorm source demo`: realistic generated events at a steady rate.
 *
 * @module
 */
import { Emitter } from "@eventstorm/core";
import {
  type Command,
  commandCurve,
  CURVE_CLIENT_FLAGS,
  helpText,
  integerFlag,
  listFlag,
  parseFlags,
  runCommand,
  shutdownSignal,
  stringFlag,
  TO_FLAG,
  waitingNotice,
  warnUnresolvableHosts,
} from "@eventstorm/core/cli";
import { runDemoSource } from "./run.ts";

/** The `eventstorm source demo` command line.
 *
 * @example
 * ```ts
 * import { command } from "@eventstorm/source-demo/main";
 * command.name; // "eventstorm source demo"
 * ```
 */
export const command: Command = {
  name: "eventstorm source demo",
  summary: "generate realistic HTTP, SSH and host events at a steady rate",
  flags: {
    to: TO_FLAG,
    ...CURVE_CLIENT_FLAGS,
    rate: { type: "string", value: "N", default: "1000", help: "events per second" },
    limit: { type: "string", value: "N", help: "stop after N events" },
    host: { type: "string", value: "NAME", help: "host for the source's own events" },
  },
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
  const rate = integerFlag(parsed.values, "rate", { min: 1, max: 10_000_000 })!;
  const limit = integerFlag(parsed.values, "limit", { min: 1 });
  const to = listFlag(parsed.values, "to");
  const output = await Emitter.open({
    endpoints: to,
    host: stringFlag(parsed.values, "host"),
    curve: commandCurve("source demo", parsed.values, to),
    onWaiting: waitingNotice("source demo", to),
  });
  const signal = shutdownSignal();
  console.error(`source demo: ${rate} events/s → ${to.join(", ")}`);
  warnUnresolvableHosts("source demo", to);
  const emitted = await runDemoSource({ rate, output, limit, signal });
  await output.close();
  const stats = output.stats();
  console.error(
    `demo: ${emitted} events emitted, ${stats.eventsSent} sent, ${stats.dropped} dropped`,
  );
  return 0;
}

if (import.meta.main) await runCommand(() => command.main(Deno.args));
