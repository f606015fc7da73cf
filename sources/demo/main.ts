/**
 * `eventstorm source demo`: realistic generated events at a steady rate.
 *
 * @module
 */
import { formatEventsLine, outputCounters } from "@eventstorm/core/source";
import { Emitter } from "@eventstorm/core";
import {
  type Command,
  commandCurve,
  CURVE_CLIENT_FLAGS,
  helpText,
  integerFlag,
  listFlag,
  openStatsPublisher,
  parseFlags,
  runCommand,
  shutdownSignal,
  STATS_INTERVAL_FLAG,
  statsIntervalFlag,
  StatsReporter,
  statsToFlag,
  statsToFlagSpec,
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
    "stats-interval": STATS_INTERVAL_FLAG,
    "stats-to": statsToFlagSpec("none"),
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
  const statsIntervalMs = statsIntervalFlag(parsed.values);
  const statsTo = statsToFlag(parsed.values);
  const curve = commandCurve("source demo", parsed.values, to);
  const output = await Emitter.open({
    endpoints: to,
    host: stringFlag(parsed.values, "host"),
    curve,
    onWaiting: waitingNotice("source demo", to),
  });
  const stats = await openStatsPublisher(statsTo, curve);
  const reporter = new StatsReporter({
    component: "source-demo",
    intervalMs: statsIntervalMs,
    snapshot: () => ({ events: output.stats().events, ...outputCounters(output) }),
    format: (current, previous, elapsed) => formatEventsLine("demo", current, previous, elapsed),
    publish: stats?.publish,
  });
  const signal = shutdownSignal();
  console.error(`source demo: ${rate} events/s → ${to.join(", ")}`);
  warnUnresolvableHosts("source demo", to);
  try {
    // The final line comes after the close, so that it counts what the close sent.
    await reporter.during(async () => {
      await runDemoSource({ rate, output, limit, signal });
      await output.close();
    });
  } finally {
    await stats?.close();
  }
  return 0;
}

if (import.meta.main) await runCommand(() => command.main(Deno.args));
