/**
 * Command-line mechanics every eventstorm component shares: flag parsing and
 * `--help` text, flag values typed by their specs, exit codes ({@linkcode runCommand}: 2 for a
 * {@linkcode UsageError}), graceful shutdown, endpoint and duration flags, the
 * CURVE client flags, and the periodic stats line.
 *
 * @example A command with one flag
 * ```ts
 * import { type FlagSpec, helpText, parseFlags, runCommand } from "@eventstorm/core/cli";
 *
 * const spec = {
 *   name: "hello",
 *   summary: "Greets someone.",
 *   flags: {
 *     name: { type: "string", help: "whom to greet", value: "NAME", default: "world" },
 *   } as const satisfies Record<string, FlagSpec>,
 * };
 * if (import.meta.main) {
 *   await runCommand(() => {
 *     const parsed = parseFlags(Deno.args, spec);
 *     if (parsed.help) console.log(helpText(spec));
 *     else console.log(`hello ${parsed.values.name}`); // a string: the flag has a default
 *     return Promise.resolve(0);
 *   });
 * }
 * ```
 *
 * @module
 */
export {
  type BooleanFlagSpec,
  choiceFlag,
  type Command,
  type CommandSpec,
  type FlagSpec,
  type FlagValues,
  FROM_FLAG,
  helpText,
  integerFlag,
  type ListFlagSpec,
  parseByteSize,
  type ParsedFlags,
  parseFlags,
  PRINT_FLAG,
  runCommand,
  shutdownSignal,
  type StringFlagSpec,
  TO_FLAG,
  topicFlag,
  topicPrefixesFlag,
  UsageError,
} from "../flags.ts";
export {
  type DurationOptions,
  formatDuration,
  MAX_SPAN_MS,
  MAX_TIMER_MS,
  parseDuration,
} from "../duration.ts";
export {
  type Endpoint,
  endpointsFlag,
  formatEndpoint,
  parseEndpoints,
  unresolvableHosts,
  warnUnresolvableHosts,
} from "../endpoint.ts";
export {
  type Counters,
  formatBytes,
  formatCount,
  formatStatsLine,
  MIN_STATS_INTERVAL_MS,
  parseStatsInterval,
  rate,
  STATS_INTERVAL_FLAG,
  statsIntervalFlag,
  type StatsLineSpec,
  StatsReporter,
  type StatsReporterOptions,
} from "../stats.ts";
export { waitingNotice } from "../emitter.ts";
export {
  openStatsPublisher,
  reportStatsDuring,
  SINK_STATS_FLAGS,
  SOURCE_STATS_FLAGS,
  type StatsDuringOptions,
  type StatsFlags,
  type StatsPublisher,
  statsToFlag,
} from "../stats_to.ts";
export {
  commandCurve,
  CURVE_CLIENT_FLAGS,
  curveFromFlags,
  serverKeyFrom,
  warnPerFrameLimit,
  warnPlaintextBinds,
} from "../curve/options.ts";
