/**
 * `eventstorm source metrics`: host CPU, memory, disk, load and network as events
 * every `--interval`.
 *
 * @module
 */
import { Emitter, type EventOutput, localHostname } from "@eventstorm/core";
import {
  type Command,
  commandCurve,
  CURVE_CLIENT_FLAGS,
  helpText,
  listFlag,
  openStatsPublisher,
  parseDuration,
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
  UsageError,
  waitingNotice,
  warnUnresolvableHosts,
} from "@eventstorm/core/cli";
import {
  flushUnlessStopped,
  formatEventsLine,
  outputCounters,
  PrintOutput,
} from "@eventstorm/core/source";
import { sleep } from "@eventstorm/core/internal";
import { MetricsSampler } from "./sampler.ts";

/** The `eventstorm source metrics` command line.
 *
 * @example
 * ```ts
 * import { command } from "@eventstorm/source-metrics/main";
 * command.name; // "eventstorm source metrics"
 * ```
 */
export const command: Command = {
  name: "eventstorm source metrics",
  summary: "host.cpu, host.memory, host.disk, host.load and host.net events from /proc",
  flags: {
    interval: { type: "string", value: "DURATION", default: "10s", help: "time between samples" },
    to: TO_FLAG,
    ...CURVE_CLIENT_FLAGS,
    print: { type: "boolean", help: "print events as JSON lines on stdout instead of publishing" },
    host: { type: "string", value: "NAME", help: "host field of the events [default: hostname]" },
    once: { type: "boolean", help: "take one sample (rates over one second) and exit" },
    "stats-interval": STATS_INTERVAL_FLAG,
    "stats-to": statsToFlagSpec("none"),
  },
  epilog: `Examples:
  eventstorm source metrics --interval 5s --to '>tcp://router:5555'
  eventstorm source metrics --once --print`,
  main: metricsMain,
};

// Rates need two readings; the first report comes this soon, not a whole interval later.
const FIRST_SAMPLE_MS = 1000;
const MIN_INTERVAL_MS = 100;

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
  const interval = parseDuration(stringFlag(parsed.values, "interval")!, "interval");
  if (interval < MIN_INTERVAL_MS) {
    throw new UsageError(`--interval must be at least ${MIN_INTERVAL_MS}ms`);
  }
  const host = stringFlag(parsed.values, "host") ?? localHostname();
  const once = parsed.values.once === true;
  const signal = shutdownSignal();
  const to = listFlag(parsed.values, "to");
  const statsIntervalMs = statsIntervalFlag(parsed.values);
  const statsTo = statsToFlag(parsed.values);
  const curve = parsed.values.print === true
    ? undefined
    : commandCurve("source metrics", parsed.values, to);
  const output: EventOutput = parsed.values.print === true
    ? new PrintOutput()
    : await Emitter.open({
      endpoints: to,
      host,
      curve,
      onWaiting: waitingNotice("source metrics", to),
    });
  console.error(
    `source metrics: ${once ? "one sample" : `every ${stringFlag(parsed.values, "interval")}`} → ` +
      (parsed.values.print === true ? "stdout" : to.join(", ")),
  );
  if (parsed.values.print !== true) warnUnresolvableHosts("source metrics", to);
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
  let samples = 0;
  let events = 0;
  const stats = await openStatsPublisher(statsTo, curve);
  const reporter = new StatsReporter({
    component: "source-metrics",
    intervalMs: statsIntervalMs,
    snapshot: () => ({ events, ...outputCounters(output), samples }),
    format: (current, previous, elapsed) => formatEventsLine("metrics", current, previous, elapsed),
    publish: stats?.publish,
  });
  try {
    await reporter.during(async () => {
      try {
        await sampleMetrics({
          sampler,
          output,
          intervalMs: interval,
          once,
          signal,
          onSample: (count) => {
            samples++;
            events += count;
          },
        });
      } finally {
        await output.close();
      }
    });
  } finally {
    await stats?.close();
  }
  return 0;
}

/**
 * Samples every `intervalMs` on schedule (after a stall, missed ticks are skipped
 * rather than sent in a burst), sending to `output`, until `signal` aborts (or
 * after one sample with `once`); resolves with the number of samples.
 *
 * @example
 * ```ts ignore
 * import { PrintOutput } from "@eventstorm/core/source";
 * import { MetricsSampler, sampleMetrics } from "@eventstorm/source-metrics";
 * using sampler = new MetricsSampler({ host: "me" });
 * await sampleMetrics({ sampler, output: new PrintOutput(), intervalMs: 10_000, signal: AbortSignal.timeout(30_000) });
 * ```
 */
export async function sampleMetrics(options: {
  sampler: MetricsSampler;
  output: EventOutput;
  intervalMs: number;
  signal: AbortSignal;
  once?: boolean;
  /** Called after each sample with the number of events it made. */
  onSample?: (events: number) => void;
}): Promise<void> {
  const { sampler, output, intervalMs: interval, signal, once } = options;
  await sampler.prime();
  let next = performance.now() + (once ? FIRST_SAMPLE_MS : Math.min(FIRST_SAMPLE_MS, interval));
  while (await sleep(next - performance.now(), signal)) {
    const events = await sampler.sample();
    for (const event of events) output.send(event);
    options.onSample?.(events.length);
    await flushUnlessStopped(output, signal);
    if (once) break;
    // Keep to the schedule; after a stall, skip missed ticks instead of bursting.
    next += interval;
    const now = performance.now();
    if (next <= now) next += Math.ceil((now - next) / interval) * interval;
  }
}

if (import.meta.main) await runCommand(() => command.main(Deno.args));
