/**
 * Command-line mechanics every eventstorm component shares: flag parsing and
 * `--help` text, typed flag readers, exit codes ({@linkcode runCommand}: 2 for a
 * {@linkcode UsageError}), graceful shutdown, endpoint and duration flags, the
 * CURVE client flags, and the periodic stats line.
 *
 * @example A command with one flag
 * ```ts
 * import { type CommandSpec, helpText, parseFlags, runCommand, stringFlag } from "@eventstorm/core/cli";
 *
 * const spec: CommandSpec = {
 *   name: "hello",
 *   summary: "Greets someone.",
 *   flags: { name: { type: "string", help: "whom to greet", value: "NAME" } },
 * };
 * if (import.meta.main) {
 *   await runCommand(() => {
 *     const parsed = parseFlags(Deno.args, spec);
 *     if (parsed.help) console.log(helpText(spec));
 *     else console.log(`hello ${stringFlag(parsed.values, "name") ?? "world"}`);
 *     return Promise.resolve(0);
 *   });
 * }
 * ```
 *
 * @module
 */
export {
  type Command,
  type CommandSpec,
  type Flags,
  type FlagSpec,
  FROM_FLAG,
  helpText,
  integerFlag,
  listFlag,
  type ParsedFlags,
  parseFlags,
  runCommand,
  shutdownSignal,
  stringFlag,
  TO_FLAG,
  topicFlag,
  topicPrefixesFlag,
  UsageError,
} from "../flags.ts";
export { formatDuration, parseDuration } from "../duration.ts";
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
  type StatsDuringOptions,
  type StatsPublisher,
  statsToFlag,
  statsToFlagSpec,
} from "../stats_to.ts";
export {
  commandCurve,
  CURVE_CLIENT_FLAGS,
  curveFromFlags,
  serverKeyFrom,
  warnPlaintextBinds,
} from "../curve/options.ts";
