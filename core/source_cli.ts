/**
 * The command line every file source shares (nginx, postfix, sshd...): common
 * flags, checkpoint location, stats line, graceful shutdown. A source supplies
 * its own flags and a parser factory.
 *
 * @module
 */
import { resolve } from "node:path";
import { probeWritable } from "./checkpoint.ts";
import { parseDuration } from "./duration.ts";
import { Emitter, waitingNotice } from "./emitter.ts";
import { localHostname } from "./event.ts";
import { endpointsFlag, parseEndpoints, warnUnresolvableHosts } from "./endpoint.ts";
import {
  CURVE_CLIENT_FLAGS,
  curveFromFlags,
  type CurveOptions,
  warnPlaintextBinds,
} from "./curve/options.ts";
import {
  type Command,
  type FlagSpec,
  type FlagValues,
  helpText,
  integerFlag,
  parseFlags,
  PRINT_FLAG,
  shutdownSignal,
  TO_FLAG,
  UsageError,
} from "./flags.ts";
import type { LineParser } from "./line_parser.ts";
import { LineSource, type LineSourceStats, type OutputResume } from "./line_source.ts";
import type { EventOutput } from "./output.ts";
import { PrintOutput } from "./print_output.ts";
import {
  type Counters,
  formatBytes,
  formatStatsLine,
  statsIntervalFlag,
  type StatsLineSpec,
} from "./stats.ts";
import { expandGlobs } from "./tail/mod.ts";
import { reportStatsDuring, SOURCE_STATS_FLAGS, statsToFlag } from "./stats_to.ts";

/**
 * What a file source supplies: its name, flags and how to build its parser from
 * their values, typed by those flags (give them `as const`).
 *
 * @example
 * ```ts
 * import type { FileSourceSpec } from "@eventstorm/core/source";
 * const app: FileSourceSpec = {
 *   name: "app",
 *   summary: "application log lines",
 *   makeParser: () => ({ parse: (line, ctx) => [{ type: "app.line", time: ctx.readAt, host: ctx.host, line }] }),
 * };
 * const flags = { utc: { type: "boolean", help: "times are UTC" } } as const;
 * const utcApp: FileSourceSpec<typeof flags> = {
 *   name: "utc-app",
 *   summary: "application log lines in UTC",
 *   flags,
 *   makeParser: (values) => {
 *     const utc: boolean = values.utc;
 *     return { parse: (line, ctx) => [{ type: "app.line", time: ctx.readAt, host: ctx.host, line, utc }] };
 *   },
 * };
 * ```
 */
export interface FileSourceSpec<F extends Record<string, FlagSpec> = Record<string, FlagSpec>> {
  /** Source name, as in `eventstorm source NAME`; also names the checkpoint file. */
  name: string;
  /** One-line summary. */
  summary: string;
  /** The source's own flags (they must not reuse a common flag's name). */
  flags?: F;
  /** Examples and notes for `--help`. */
  epilog?: string;
  /** Type of events for `--unparsed` lines (default `NAME.unparsed`). */
  unparsedType?: string;
  /**
   * Builds the parser from the values of its own flags and the `--file`
   * arguments (throw `UsageError` for bad values).
   */
  makeParser(values: FlagValues<F> & { file: string[] }): LineParser | Promise<LineParser>;
}

/** Flags every file source has.
 *
 * @example
 * ```ts
 * import { FILE_SOURCE_FLAGS } from "@eventstorm/core/source";
 * Object.keys(FILE_SOURCE_FLAGS).includes("from-start"); // true
 * ```
 */
export const FILE_SOURCE_FLAGS = {
  file: {
    type: "string",
    multiple: true,
    value: "PATH",
    help: "log file to follow; globs allowed (*, ?, **, [..], {a,b}; quote them)",
  },
  "from-start": {
    type: "boolean",
    help: "read what the files already hold first (default: start at their end)",
  },
  once: {
    type: "boolean",
    help: "read the files (also .gz) from the start to their end, then exit once a receiver " +
      "has been handed every event (see Backfill below)",
  },
  to: TO_FLAG,
  ...CURVE_CLIENT_FLAGS,
  print: PRINT_FLAG,
  host: {
    type: "string",
    value: "NAME",
    help:
      "host of every event, even where the log line names one [default: the line's host, else hostname]",
  },
  checkpoint: {
    type: "string",
    value: "PATH",
    help: "checkpoint file [default: under $XDG_STATE_HOME or ~/.local/state/eventstorm; " +
      "none with --print]",
  },
  "no-checkpoint": { type: "boolean", help: "keep no checkpoint (a restart starts over)" },
  unparsed: {
    type: "boolean",
    help: "send lines the parser does not understand as NAME.unparsed events (field line)",
  },
  "max-line-bytes": {
    type: "string",
    value: "N",
    default: "65536",
    help: "longer lines are cut there (and counted)",
  },
  "poll-interval": {
    type: "string",
    value: "DURATION",
    default: "250ms",
    help: "how often files are checked for new lines",
  },
  ...SOURCE_STATS_FLAGS,
} as const satisfies Record<string, FlagSpec>;

/** What `--help` says of `--once` for every file source. */
const BACKFILL_HELP = `Backfill (--once): the source exits once every event is in a receiver's
(router's or sink's) libzmq queue: handed over, not yet stored. Exit code 1
when any event was dropped unsent (too large, or no receiver took it), when
a stalled receiver took nothing more before the close timeout (the events
libzmq may have discarded are "unconfirmed at close"; the next run reads
them again), or when no receiver subscribed for 5s (it then gives up, and what it held is
dropped); else 0, also when a signal stops it with nothing dropped.
It reads as fast as the receiver takes events (a few hundred thousand
lines/s): a sink that stores more slowly holds the rest in its buffer
(sink --buffer, default 100000 events, and --buffer-bytes, 64MiB), then
stops reading (--when-full block, the default) while the router queues for
it (--sink-hwm) and loses beyond that, counted as "lost" in the sink's stats.
For a larger backfill, run the router with --when-full block: it then waits
for the sink instead, and this source waits for the router (the slowest sink
paces all of them meanwhile).`;

/**
 * The command of a file source: its own flags and the common ones, run by
 * {@linkcode runFileSourceMain}. A file source's `main.ts` exports it as `command`.
 *
 * @example
 * ```ts
 * import { fileSourceCommand } from "@eventstorm/core/source";
 * const command = fileSourceCommand({
 *   name: "app",
 *   summary: "app logs",
 *   makeParser: () => ({ parse: () => [] }),
 * });
 * command.name; // "eventstorm source app"
 * ```
 */
export function fileSourceCommand<F extends Record<string, FlagSpec>>(
  source: FileSourceSpec<F>,
): Command {
  for (const name of Object.keys(source.flags ?? {})) {
    if (name in FILE_SOURCE_FLAGS) {
      throw new Error(`source ${source.name}: flag --${name} is already a common flag`);
    }
  }
  return {
    name: `eventstorm source ${source.name}`,
    summary: source.summary,
    flags: { ...FILE_SOURCE_FLAGS, ...source.flags },
    epilog: source.epilog === undefined ? BACKFILL_HELP : `${source.epilog}\n\n${BACKFILL_HELP}`,
    main: (args) => runFileSourceMain(args, source),
  };
}

/**
 * Where a source keeps its checkpoint by default: one file per source name and
 * set of `--file` arguments (so changing them starts a new checkpoint), under
 * `$XDG_STATE_HOME/eventstorm` or `~/.local/state/eventstorm`.
 *
 * @example
 * ```ts
 * import { defaultCheckpointPath } from "@eventstorm/core/source";
 * defaultCheckpointPath("nginx", ["/var/log/nginx/access.log"]);
 * // e.g. "/home/me/.local/state/eventstorm/nginx-3f2a9c1d0b4e7a65.json"
 * ```
 */
export function defaultCheckpointPath(name: string, files: readonly string[]): string {
  const env = (key: string) => {
    try {
      return Deno.env.get(key);
    } catch {
      return undefined; // No --allow-env: fall back to the working directory.
    }
  };
  const home = env("HOME") ?? env("USERPROFILE");
  const base = env("XDG_STATE_HOME") ||
    (home ? `${home}/.local/state` : resolve(".state"));
  const key = files.map((file) => resolve(file)).sort().join("\n");
  return `${base}/eventstorm/${name}-${hash64(key)}.json`;
}

/**
 * The checkpoint file that `--checkpoint` and `--no-checkpoint` ask for: the one
 * named, none with `--no-checkpoint`, none with `--print` unless named (looking
 * must not move the real checkpoint on), else {@linkcode defaultCheckpointPath}
 * of `name` and `keys`. The file is checked before the source starts, because a
 * checkpoint that cannot be written would make every restart start over.
 *
 * @throws {UsageError} when both flags are given or the file cannot be written.
 *
 * @example
 * ```ts
 * import { checkpointFromFlags } from "@eventstorm/core/source";
 * const values = { checkpoint: undefined, "no-checkpoint": false, print: true };
 * await checkpointFromFlags("app", values, ["/var/log/app.log"]); // undefined
 * ```
 */
export async function checkpointFromFlags(
  name: string,
  values: { checkpoint?: string; "no-checkpoint": boolean; print: boolean },
  keys: readonly string[],
): Promise<string | undefined> {
  const explicit = values.checkpoint;
  if (explicit !== undefined && values["no-checkpoint"]) {
    throw new UsageError("--checkpoint and --no-checkpoint exclude each other");
  }
  if (values["no-checkpoint"] || (explicit === undefined && values.print)) return undefined;
  const path = explicit ?? defaultCheckpointPath(name, keys);
  await checkpointWritable(path, "give --checkpoint FILE in a writable place, or --no-checkpoint");
  return path;
}

/**
 * Throws a {@linkcode UsageError} naming `path`, the system's reason and `hint`
 * when a checkpoint cannot be written there.
 *
 * @example
 * ```ts
 * import { checkpointWritable } from "@eventstorm/core/source";
 * await checkpointWritable(`${await Deno.makeTempDir()}/cp.json`, "set state_dir");
 * ```
 */
export async function checkpointWritable(path: string, hint: string): Promise<void> {
  try {
    await probeWritable(path);
  } catch (error) {
    throw new UsageError(
      `checkpoint ${path} cannot be written (${(error as Error).message}); ${hint}`,
    );
  }
}

/** What `--print`, `--to`, `--host` and CURVE gave a source: see {@linkcode sourceOutput}. */
export interface SourceOutputOptions {
  /** `--print`: JSON lines on stdout instead of publishing. */
  print: boolean;
  /** `--to`: the endpoints to publish to. */
  to: readonly string[];
  /** The host of events that name none. */
  host: string;
  /** The CURVE client options, if any. */
  curve?: CurveOptions;
}

/**
 * The values of the flags every source has, as {@linkcode parseFlags} gives
 * them (`--print` only where the source has one).
 *
 * @example
 * ```ts
 * import type { SourceFlagValues } from "@eventstorm/core/source";
 * const values: SourceFlagValues = {
 *   to: [">tcp://127.0.0.1:5555"],
 *   "curve-server": [],
 *   "curve-secret": undefined,
 *   "stats-interval": "10s",
 *   "stats-to": "none",
 * };
 * ```
 */
export type SourceFlagValues =
  & FlagValues<typeof CURVE_CLIENT_FLAGS>
  & FlagValues<Pick<typeof SOURCE_STATS_FLAGS, "stats-interval" | "stats-to">>
  & FlagValues<{ to: typeof TO_FLAG }>
  & { host?: string; print?: boolean };

/** What the flags every source has say: see {@linkcode sourceFlags}. */
export interface SourceFlags extends SourceOutputOptions {
  /** `--host` as given: overrides the host events would carry (undefined: not given). */
  hostOverride: string | undefined;
  /** `--stats-interval` in ms (0: no stats line). */
  statsIntervalMs: number;
  /** `--stats-to`, undefined for none. */
  statsTo: string | undefined;
}

/**
 * Reads and checks the flags every source has, the same way in each: where its
 * events go (`--print`, `--to` and CURVE, checked even with `--print` so a typo
 * shows before the flag is needed), their host (`--host`, else this machine's
 * name) and the stats line. Throws a UsageError for a bad value.
 *
 * @example
 * ```ts
 * import { sourceFlags } from "@eventstorm/core/source";
 * const flags = sourceFlags({
 *   to: [">tcp://127.0.0.1:5555"],
 *   "curve-server": [],
 *   "curve-secret": undefined,
 *   "stats-interval": "10s",
 *   "stats-to": "none",
 * });
 * flags.statsIntervalMs; // 10000
 * ```
 */
export function sourceFlags(values: SourceFlagValues): SourceFlags {
  return {
    print: values.print ?? false,
    to: endpointsFlag(values, "to"),
    curve: curveFromFlags(values),
    host: values.host ?? localHostname(),
    hostOverride: values.host,
    statsIntervalMs: statsIntervalFlag(values),
    statsTo: statsToFlag(values),
  };
}

/**
 * Says on stderr, once a source starts, what its publishing may trip on: host
 * names that do not resolve, and binds without CURVE. Nothing with `--print`.
 *
 * @example
 * ```ts
 * import { sourceFlags, warnSourceOutput } from "@eventstorm/core/source";
 * const flags = sourceFlags({
 *   to: [">tcp://127.0.0.1:5555"],
 *   "curve-server": [],
 *   "curve-secret": undefined,
 *   "stats-interval": "10s",
 *   "stats-to": "none",
 * });
 * warnSourceOutput("source app", flags);
 * ```
 */
export function warnSourceOutput(label: string, flags: SourceFlags): void {
  if (flags.print) return;
  warnUnresolvableHosts(label, flags.to);
  warnPlaintextBinds(label, flags.to.flatMap((text) => parseEndpoints(text)), flags.curve);
}

/**
 * Opens where a source's events go: a {@linkcode PrintOutput} on stdout with
 * `--print`, else an {@linkcode Emitter} publishing to `--to` that says on stderr
 * while nobody subscribes. Each resumes the stream id and positions it is given
 * (from a checkpoint).
 *
 * @example
 * ```ts
 * import { sourceOutput } from "@eventstorm/core/source";
 * const open = sourceOutput("source app", { print: true, to: [], host: "web1" });
 * const output = await open({});
 * await output.close();
 * ```
 */
export function sourceOutput(
  label: string,
  options: SourceOutputOptions,
): (resume: OutputResume) => EventOutput | Promise<EventOutput> {
  if (options.print) return (resume) => new PrintOutput(resume);
  const to = [...options.to];
  return (resume) =>
    Emitter.open({
      endpoints: to,
      host: options.host,
      curve: options.curve,
      onWaiting: waitingNotice(label, to),
      sendHwm: SOURCE_SEND_HWM,
      ...resume,
    });
}

/**
 * Messages a source lets libzmq queue for its router (`ZMQ_SNDHWM`), where an
 * {@linkcode Emitter} lets 1000 by default. A file or journald source waits and reads
 * on later, and one that cannot wait (syslog) holds its backlog in the emitter's own
 * queue, bounded in bytes (64 MiB): a deeper libzmq queue only held more memory
 * while the router pushed back, up to 1000 messages of 256 KiB (a source grew to
 * 250-320 MB behind a router with `--when-full block` and small queues of its own),
 * and 64 keep a router as busy (`deno task bench e2e` with 16, 64 and 1000: the same
 * rate within the machine's noise).
 *
 * @example
 * ```ts
 * import { SOURCE_SEND_HWM } from "@eventstorm/core/source";
 * import { Emitter } from "@eventstorm/core";
 * const emitter = await Emitter.open({ endpoints: ">tcp://127.0.0.1:5555", sendHwm: SOURCE_SEND_HWM });
 * await emitter.close();
 * ```
 */
export const SOURCE_SEND_HWM = 64;

/**
 * The end of a source's start line: where its events go and its checkpoint.
 *
 * @example
 * ```ts
 * import { destinationText } from "@eventstorm/core/source";
 * destinationText({ print: false, to: [">tcp://r:5555"] }, "/s/cp.json");
 * // "→ >tcp://r:5555 (checkpoint /s/cp.json)"
 * ```
 */
export function destinationText(
  options: Pick<SourceOutputOptions, "print" | "to">,
  checkpointPath?: string,
): string {
  return `→ ${options.print ? "stdout" : options.to.join(", ")}` +
    (checkpointPath ? ` (checkpoint ${checkpointPath})` : "");
}

/** FNV-1a, 64 bits, as hex: stable short names, not security. */
function hash64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    h = ((h ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

/**
 * The counters of a line source as flat stats fields (snake case, like every
 * component's `eventstorm.stats`).
 *
 * @example
 * ```ts ignore
 * import { sourceCounters } from "@eventstorm/core/source";
 * const counters = sourceCounters(source.stats(), source.output);
 * ```
 */
export function sourceCounters(stats: LineSourceStats, output?: EventOutput): Counters {
  return {
    files: stats.filesWatched,
    lines: stats.linesRead,
    bytes: stats.bytesRead,
    events: stats.events,
    unparsed: stats.linesUnparsed,
    parser_errors: stats.parserErrors,
    rejected: stats.eventsRejected,
    too_long: stats.linesTooLong,
    rotations: stats.rotations,
    truncations: stats.truncations,
    deletions: stats.deletions,
    read_errors: stats.readErrors,
    checkpoints: stats.checkpoints,
    checkpoint_errors: stats.checkpointErrors,
    ...outputCounters(output),
  };
}

/**
 * One readable stats line for a source that makes events itself (demo, metrics):
 * its rate, then `events`, `sent`, `dropped` and any other counter by name.
 *
 * @example
 * ```ts
 * import { formatEventsLine } from "@eventstorm/core/source";
 * formatEventsLine("demo", { events: 2000, sent: 2000, dropped: 0 }, { events: 0 }, 1000);
 * // "source demo: 2.00k ev/s; events 2000, sent 2000, dropped 0"
 * ```
 */
export function formatEventsLine(
  name: string,
  current: Counters,
  previous: Counters,
  elapsedMs: number,
): string {
  // The rate of `events` reads `ev/s`, as on every other event rate (router, sinks, tap).
  const ev = (counters: Counters) =>
    counters.events === undefined ? counters : { ...counters, ev: counters.events };
  return formatStatsLine(`source ${name}`, EVENTS_LINE, ev(current), ev(previous), elapsedMs);
}

/**
 * What a source's output did with its events, the same fields in every source:
 * `sent` (handed to libzmq), `dropped` (given up on) and, of those,
 * `dropped_oversized` (too large or too deep to encode), and `unconfirmed`: of
 * those sent, the events libzmq may have discarded when a close ran out of time
 * with the receiver stalled (no receiver can count them; a file source reads
 * them again at its next start, its checkpoint having stopped before them).
 * Printing sends nothing.
 *
 * @example
 * ```ts ignore
 * import { outputCounters } from "@eventstorm/core/source";
 * const { sent, dropped } = outputCounters(emitter);
 * ```
 */
export function outputCounters(output?: EventOutput): Counters {
  if (!(output instanceof Emitter)) {
    return { sent: 0, dropped: 0, dropped_oversized: 0, unconfirmed: 0 };
  }
  const stats = output.stats();
  const oversized = stats.oversized + stats.unencodable;
  return {
    sent: stats.eventsSent,
    dropped: stats.dropped + oversized,
    dropped_oversized: oversized,
    unconfirmed: stats.unconfirmed,
  };
}

const FILE_SOURCE_LINE: StatsLineSpec = {
  rate: "lines",
  always: [
    ["lines", (c) => `lines ${c.lines ?? 0} (${formatBytes(c.bytes ?? 0)})`],
    ["events", "events"],
    ["unparsed", "unparsed"],
    ["too_long", "too long"],
    ["rotations", "rotations"],
    ["truncations", "truncations"],
    ["files", "files"],
  ],
  ifAny: [
    ["dropped", "dropped"],
    ["dropped_oversized", "of them too large or too deep"],
    ["unconfirmed", "unconfirmed at close"],
    ["deletions", "deleted files"],
    ["parser_errors", "parser errors"],
    ["rejected", "rejected events"],
    ["read_errors", "read errors"],
    ["checkpoint_errors", "checkpoint errors"],
  ],
};

const EVENTS_LINE: StatsLineSpec = {
  // `events` under the name of its unit: see formatEventsLine.
  rate: "ev",
  always: [["events", "events"], ["sent", "sent"], ["dropped", "dropped"]],
  ifAny: [
    ["dropped_oversized", "of them too large or too deep"],
    ["unconfirmed", "unconfirmed at close"],
    ["samples", "samples"],
  ],
};

/**
 * One readable stats line for a file source.
 *
 * @example
 * ```ts
 * import { formatSourceLine } from "@eventstorm/core/source";
 * formatSourceLine("nginx", { lines: 2000, events: 1990, unparsed: 10, files: 1 }, { lines: 0 }, 1000);
 * // "source nginx: 2.00k lines/s; lines 2000 (0B), events 1990, unparsed 10, too long 0, ..."
 * ```
 */
export function formatSourceLine(
  name: string,
  current: Counters,
  previous: Counters,
  elapsedMs: number,
): string {
  return formatStatsLine(`source ${name}`, FILE_SOURCE_LINE, current, previous, elapsedMs);
}

/**
 * Runs a file source command with `args`; resolves with the exit code once
 * stopped by SIGINT/SIGTERM (or at the end of the input with `--once`): 0, or 1
 * when a `--once` run dropped events or found no receiver. Usage problems throw
 * `UsageError` (exit code 2 under `runCommand`).
 *
 * @example
 * ```ts ignore
 * import { runCommand } from "@eventstorm/core/cli";
 * import { runFileSourceMain } from "@eventstorm/core/source";
 * await runCommand(() =>
 *   runFileSourceMain(Deno.args, {
 *     name: "app",
 *     summary: "application log lines as app.line events",
 *     makeParser: () => ({
 *       parse: (line, ctx) => [{ type: "app.line", time: ctx.readAt, host: ctx.host, line }],
 *     }),
 *   })
 * );
 * ```
 */
export async function runFileSourceMain<F extends Record<string, FlagSpec>>(
  args: string[],
  fileSource: FileSourceSpec<F>,
): Promise<number> {
  const spec = fileSourceCommand(fileSource);
  const parsed = parseFlags(args, spec);
  if (parsed.help) {
    console.log(helpText(spec));
    return 0;
  }
  // One parse of the common flags and the source's own (no name in both, as
  // fileSourceCommand checks): each side reads its own, typed by its specs.
  const values = parsed.values as FlagValues<typeof FILE_SOURCE_FLAGS>;
  const files = values.file;
  if (files.length === 0) {
    throw new UsageError(`${spec.name}: --file is required (a path or a quoted glob)`);
  }
  const once = values.once;
  const maxLineBytes = integerFlag(values, "max-line-bytes", { min: 256, max: 64 << 20 });
  const pollIntervalMs = parseDuration(values["poll-interval"], "poll-interval");
  if (pollIntervalMs < 10) throw new UsageError("--poll-interval must be at least 10ms");
  const common = sourceFlags(values);
  const { print, to, host, hostOverride, curve, statsIntervalMs, statsTo } = common;
  // The parser checks its own flags (--escape, --timeout): before any word on files.
  const parser = await fileSource.makeParser({ ...parsed.values as FlagValues<F>, file: files });
  const checkpointPath = await checkpointFromFlags(fileSource.name, values, files);
  const matched = await expandGlobs(files);
  if (matched.length === 0) {
    if (once) throw new UsageError(`${spec.name}: no file matches ${files.join(", ")}`);
    console.error(`source ${fileSource.name}: no file matches ${files.join(", ")} yet; waiting`);
  }
  // With --once, a receiver that never comes (or goes away) must not keep a
  // backfill waiting for ever: after RECEIVER_WAIT_MS without one, it stops.
  const stop = shutdownSignal();
  const noReceiver = new AbortController();
  let watchdog: ReturnType<typeof setInterval> | undefined;
  const openOutput = sourceOutput(`source ${fileSource.name}`, common);
  const source = new LineSource({
    paths: files,
    fromStart: values["from-start"] || once,
    once,
    pollIntervalMs,
    maxLineBytes,
    parser,
    host,
    hostOverride,
    unparsedType: values.unparsed
      ? fileSource.unparsedType ?? `${fileSource.name}.unparsed`
      : undefined,
    checkpointPath,
    signal: once && !print ? AbortSignal.any([stop, noReceiver.signal]) : stop,
    onStarted: () => {
      console.error(
        `source ${fileSource.name}: ${once ? "reading" : "following"} ${files.join(", ")} ` +
          destinationText({ print, to }, checkpointPath),
      );
      warnSourceOutput(`source ${fileSource.name}`, common);
    },
    output: async (resume) => {
      const output = await openOutput(resume);
      if (once && output instanceof Emitter) {
        watchdog = watchReceivers(output, stop, () => {
          console.error(
            `source ${fileSource.name}: no receiver subscribed at ${to.join(", ")} for ` +
              `${RECEIVER_WAIT_MS / 1000}s; giving up (--once)`,
          );
          noReceiver.abort();
        });
      }
      return output;
    },
  });
  try {
    await reportStatsDuring({
      component: `source-${fileSource.name}`,
      intervalMs: statsIntervalMs,
      snapshot: () => sourceCounters(source.stats(), source.output),
      format: (current, previous, elapsed) =>
        formatSourceLine(fileSource.name, current, previous, elapsed),
      statsTo,
      curve,
    }, () => source.run());
  } finally {
    clearInterval(watchdog);
  }
  if (!once) return 0;
  // A backfill run by cron learns from the exit code that it did not all go.
  const { dropped, unconfirmed } = outputCounters(source.output);
  if (dropped > 0 || unconfirmed > 0 || noReceiver.signal.aborted) {
    console.error(
      `source ${fileSource.name}: --once: ${dropped} ${dropped === 1 ? "event" : "events"} ` +
        "dropped unsent" +
        (noReceiver.signal.aborted ? " (no receiver)" : "") +
        (unconfirmed > 0
          ? `, up to ${unconfirmed} sent unconfirmed (the receiver took nothing more before ` +
            "the close timeout; the next run reads them again)"
          : "") +
        "; exit code 1",
    );
    return 1;
  }
  return 0;
}

/**
 * How long `--once` waits for a receiver to subscribe before it gives up: as
 * long as an emitter's close timeout waits for one.
 */
const RECEIVER_WAIT_MS = 5000;

/**
 * Calls `onGone` once nobody has subscribed to `emitter` for
 * {@linkcode RECEIVER_WAIT_MS}, unless `stop` aborts first.
 */
function watchReceivers(
  emitter: Emitter,
  stop: AbortSignal,
  onGone: () => void,
): ReturnType<typeof setInterval> {
  let seen = Date.now();
  const timer = setInterval(() => {
    if (stop.aborted) clearInterval(timer);
    else if (emitter.stats().subscriptions > 0) seen = Date.now();
    else if (Date.now() - seen >= RECEIVER_WAIT_MS) {
      clearInterval(timer);
      onGone();
    }
  }, 100);
  return timer;
}
