/**
 * `eventstorm source metrics`: host CPU, memory, disk, load and network as events
 * every `--interval`.
 *
 * @module
 */
import type { EventOutput } from "@eventstorm/core";
import {
  type Command,
  helpText,
  parseFlags,
  reportStatsDuring,
  runCommand,
  shutdownSignal,
  type StatsDuringOptions,
} from "@eventstorm/core/cli";
import {
  destinationText,
  formatEventsLine,
  sourceFlags,
  sourceOutput,
  warnSourceOutput,
} from "@eventstorm/core/source";
import { MetricsSampler } from "./sampler.ts";
import { METRICS_FLAGS, metricsIntervalFlag } from "./config.ts";
import { sampleMetrics } from "./source.ts";
import { metricsCounters } from "./stats.ts";

/** The `eventstorm source metrics` command line.
 *
 * @example
 * ```ts
 * import { command } from "@eventstorm/source-metrics/main";
 * command.name; // "eventstorm source metrics"
 * ```
 */
export const command: Command<typeof METRICS_FLAGS> = {
  name: "eventstorm source metrics",
  summary: "host.cpu, host.memory, host.disk, host.load and host.net events from /proc",
  flags: METRICS_FLAGS,
  epilog: `Examples:
  eventstorm source metrics --interval 5s --to '>tcp://router:5555'
  eventstorm source metrics --once --print`,
  main: metricsMain,
};

/**
 * Runs the metrics source with `args`; resolves with the exit code once stopped by
 * SIGINT/SIGTERM (or after one sample with `--once`).
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/source-metrics/main";
 * Deno.exit(await command.main(["--once", "--print"]));
 * ```
 */
async function metricsMain(args: string[]): Promise<number> {
  const parsed = parseFlags(args, command);
  if (parsed.help) {
    console.log(helpText(command));
    return 0;
  }
  const interval = metricsIntervalFlag(parsed.values);
  const once = parsed.values.once;
  const common = sourceFlags(parsed.values);
  const { host, curve, statsIntervalMs, statsTo } = common;
  const signal = shutdownSignal();
  const output: EventOutput = await sourceOutput("source metrics", common)({});
  console.error(
    `source metrics: ${once ? "one sample" : `every ${parsed.values.interval}`} ` +
      destinationText(common),
  );
  warnSourceOutput("source metrics", common);
  const reported = new Set<string>();
  using sampler = new MetricsSampler({
    host,
    onError: (kind, error) => {
      // A broken mount fails every interval; once is enough to know.
      const line = `warning: host.${kind}: ${error.message}`;
      if (!reported.has(line)) console.error(line);
      reported.add(line);
    },
  });
  const counts = { samples: 0, events: 0 };
  const reportOptions: StatsDuringOptions = {
    component: "source-metrics",
    intervalMs: statsIntervalMs,
    snapshot: () => metricsCounters(counts, output),
    format: (current, previous, elapsed) => formatEventsLine("metrics", current, previous, elapsed),
    statsTo,
    curve,
  };
  await reportStatsDuring(reportOptions, async () => {
    try {
      await sampleMetrics({
        sampler,
        output,
        intervalMs: interval,
        once,
        signal,
        counts,
      });
    } finally {
      await output.close();
    }
  });
  return 0;
}

if (import.meta.main) await runCommand(() => command.main(Deno.args));
