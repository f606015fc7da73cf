/**
 * `eventstorm source journald`: follows the systemd journal (journalctl -o export
 * --follow) and routes sshd and Postfix entries to their parsers.
 *
 * @example
 * ```sh
 * deno run -A sources/journald/main.ts --unit ssh.service --unit postfix@-.service \
 *   --to '>tcp://127.0.0.1:5555'
 * deno run -A sources/journald/main.ts --directory /var/log/journal/remote --once --print
 * ```
 *
 * @module
 */
import { Emitter, localHostname } from "@eventstorm/core";
import {
  defaultCheckpointPath,
  type EventOutput,
  outputCounters,
  type OutputResume,
  PrintOutput,
} from "@eventstorm/core/source";
import {
  type Command,
  commandCurve,
  CURVE_CLIENT_FLAGS,
  endpointsFlag,
  type Flags,
  type FlagSpec,
  formatCount,
  helpText,
  listFlag,
  openStatsPublisher,
  parseFlags,
  rate,
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
import { postfixSource } from "@eventstorm/source-postfix/main";
import { sshdSource } from "@eventstorm/source-sshd/main";
import { JournalRouter } from "./router.ts";
import { JournaldSource, type JournaldSourceStats } from "./source.ts";

/** The journald source's flags. */
export const JOURNALD_FLAGS: Record<string, FlagSpec> = {
  unit: { type: "string", multiple: true, value: "UNIT", help: "only this unit (repeatable)" },
  identifier: {
    type: "string",
    multiple: true,
    value: "ID",
    help: "only this syslog identifier, like sshd or postfix/smtpd (repeatable)",
  },
  directory: { type: "string", value: "DIR", help: "read the journal files in DIR" },
  file: { type: "string", multiple: true, value: "PATH", help: "read this journal file" },
  "from-start": {
    type: "boolean",
    help: "without a checkpoint, read the whole journal first (default: new entries only)",
  },
  once: { type: "boolean", help: "read to the end of the journal and exit" },
  generic: { type: "boolean", help: "send entries of other programs as journald.message events" },
  journalctl: { type: "string", value: "PATH", default: "journalctl", help: "journalctl to run" },
  to: TO_FLAG,
  ...CURVE_CLIENT_FLAGS,
  print: { type: "boolean", help: "print events as JSON lines on stdout instead of publishing" },
  host: { type: "string", value: "NAME", help: "host of every event [default: the entry's]" },
  checkpoint: {
    type: "string",
    value: "PATH",
    help:
      "checkpoint file (journal cursor) [default: under ~/.local/state/eventstorm; none with --print]",
  },
  "no-checkpoint": { type: "boolean", help: "keep no checkpoint" },
  "stats-interval": STATS_INTERVAL_FLAG,
  "stats-to": statsToFlagSpec("none"),
  timeout: postfixSource.flags!.timeout,
  "deferred-timeout": postfixSource.flags!["deferred-timeout"],
};

/** The command line of `eventstorm source journald`. */
export const command: Command = {
  name: "eventstorm source journald",
  summary: "the systemd journal: sshd and Postfix entries, with a cursor checkpoint",
  flags: JOURNALD_FLAGS,
  epilog: "Examples:\n" +
    "  eventstorm source journald --unit ssh.service --unit postfix@-.service\n" +
    "  eventstorm source journald --directory /var/log/journal/remote --once --print",
  main: journaldMain,
};

/**
 * The source the flags ask for.
 *
 * @example
 * ```ts ignore
 * import { journaldSource } from "@eventstorm/source-journald/main";
 * const { source, router } = await journaldSource(values, { host: "me", output, signal });
 * ```
 */
export async function journaldSource(
  values: Flags,
  options: {
    host: string;
    output: (
      resume: OutputResume,
    ) => import("@eventstorm/core").EventOutput | Promise<import("@eventstorm/core").EventOutput>;
    checkpointPath?: string;
    signal?: AbortSignal;
  },
): Promise<{ source: JournaldSource; router: JournalRouter }> {
  if (stringFlag(values, "directory") !== undefined && listFlag(values, "file").length > 0) {
    throw new UsageError("--directory and --file exclude each other");
  }
  const router = new JournalRouter({
    postfix: await postfixSource.makeParser({
      timeout: "1h",
      "deferred-timeout": "5d",
      ...values,
      utc: true,
    }),
    sshd: await sshdSource.makeParser({ utc: true }),
    generic: values.generic === true,
  });
  const hostOverride = stringFlag(values, "host");
  const source = new JournaldSource({
    router,
    output: options.output,
    host: hostOverride ?? options.host,
    hostOverride,
    units: listFlag(values, "unit"),
    identifiers: listFlag(values, "identifier"),
    directory: stringFlag(values, "directory"),
    files: listFlag(values, "file"),
    fromStart: values["from-start"] === true,
    once: values.once === true,
    journalctl: stringFlag(values, "journalctl"),
    checkpointPath: options.checkpointPath,
    signal: options.signal,
  });
  return { source, router };
}

/**
 * The stats fields of a journald source.
 *
 * @example
 * ```ts ignore
 * journaldCounters(source.stats(), router.stats.ignored, source.output);
 * ```
 */
export function journaldCounters(
  s: JournaldSourceStats,
  ignored: number,
  output?: EventOutput,
): Record<string, number> {
  return {
    entries: s.entries,
    events: s.events,
    unparsed: s.unparsed,
    ignored,
    parser_errors: s.parserErrors,
    rejected: s.rejected,
    bad_fields: s.badFields,
    restarts: s.restarts,
    checkpoints: s.checkpoints,
    ...outputCounters(output),
  };
}

/**
 * One readable stats line of a journald source.
 *
 * @example
 * ```ts
 * import { formatJournaldLine } from "@eventstorm/source-journald/main";
 * formatJournaldLine("journald", { entries: 10, events: 4 }, {}, 1000);
 * ```
 */
export function formatJournaldLine(
  name: string,
  current: Record<string, number>,
  previous: Record<string, number>,
  elapsedMs: number,
): string {
  const n = (key: string) => current[key] ?? 0;
  return `source ${name}: ${formatCount(rate(n("entries"), previous.entries ?? 0, elapsedMs))} ` +
    `entries/s; entries ${n("entries")}, events ${n("events")}, unparsed ${n("unparsed")}, ` +
    `ignored ${n("ignored")}, journalctl restarts ${n("restarts")}` +
    (n("dropped") > 0 ? `, dropped ${n("dropped")}` : "") +
    (n("bad_fields") > 0 ? `, bad fields ${n("bad_fields")}` : "") +
    (n("parser_errors") > 0 ? `, parser errors ${n("parser_errors")}` : "");
}

/**
 * Runs `eventstorm source journald ARGS`.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/source-journald/main";
 * await command.main(["--unit", "ssh.service", "--print"]);
 * ```
 */
async function journaldMain(args: string[]): Promise<number> {
  const parsed = parseFlags(args, command);
  if (parsed.help) {
    console.log(helpText(command));
    return 0;
  }
  const values = parsed.values;
  const print = values.print === true;
  const to = endpointsFlag(values, "to");
  const curve = print ? undefined : commandCurve("source journald", values, to);
  const statsTo = statsToFlag(values);
  const statsIntervalMs = statsIntervalFlag(values);
  const host = stringFlag(values, "host") ?? localHostname();
  const explicit = stringFlag(values, "checkpoint");
  if (explicit !== undefined && values["no-checkpoint"] === true) {
    throw new UsageError("--checkpoint and --no-checkpoint exclude each other");
  }
  const key = [
    ...listFlag(values, "unit").map((u) => `unit:${u}`),
    ...listFlag(values, "identifier").map((i) => `id:${i}`),
    `dir:${stringFlag(values, "directory") ?? ""}`,
    ...listFlag(values, "file"),
  ];
  const checkpointPath = values["no-checkpoint"] === true
    ? undefined
    : explicit ?? (print ? undefined : defaultCheckpointPath("journald", key));
  const { source, router } = await journaldSource(values, {
    host,
    checkpointPath,
    signal: shutdownSignal(),
    output: print ? (resume) => new PrintOutput(resume) : (resume) =>
      Emitter.open({
        endpoints: to,
        host,
        curve,
        onWaiting: waitingNotice("source journald", to),
        ...resume,
      }),
  });
  console.error(
    `source journald: ${values.once === true ? "reading" : "following"} the journal → ` +
      `${print ? "stdout" : to.join(", ")}` +
      (checkpointPath ? ` (checkpoint ${checkpointPath})` : ""),
  );
  if (!print) warnUnresolvableHosts("source journald", to);
  const stats = await openStatsPublisher(statsTo, curve);
  const reporter = new StatsReporter({
    component: "source-journald",
    intervalMs: statsIntervalMs,
    publish: stats?.publish,
    snapshot: () =>
      journaldCounters(
        source.stats(),
        router.stats.ignored,
        source.output,
      ),
    format: (current, previous, elapsed) =>
      formatJournaldLine("journald", current, previous, elapsed),
  });
  try {
    await reporter.during(() => source.run());
  } finally {
    await stats?.close();
  }
  return 0;
}

if (import.meta.main) await runCommand(() => command.main(Deno.args));
