/**
 * The command line every sink shares: common flags, stats line and stats events,
 * graceful shutdown. A sink supplies its own flags and a backend factory.
 *
 * @module
 */
import { endpointsFlag, parseEndpoints, warnUnresolvableHosts } from "./endpoint.ts";
import {
  choiceFlag,
  type Command,
  type FlagSpec,
  type FlagValues,
  FROM_FLAG,
  helpText,
  integerFlag,
  type ListFlagSpec,
  parseByteSize,
  parseFlags,
  shutdownSignal,
  topicFlag,
  topicPrefixesFlag,
} from "./flags.ts";
import { parseDuration } from "./duration.ts";
import { reportStatsDuring, SINK_STATS_FLAGS, statsToFlag } from "./stats_to.ts";
import { SinkRunner, type WhenFull } from "./sink.ts";
import type { SinkBackend } from "./sink_backend.ts";
import { parseMember } from "./member.ts";
import {
  CURVE_CLIENT_FLAGS,
  curveFromFlags,
  type CurveOptions,
  warnPerFrameLimit,
  warnPlaintextBinds,
} from "./curve/options.ts";
import type { CollectorOptions } from "./collector.ts";
import { type Counters, formatCount, rate, statsIntervalFlag } from "./stats.ts";

/**
 * What a sink supplies: its name, flags and how to build its backend from
 * their values, typed by those flags (give them `as const`).
 *
 * @example
 * ```ts
 * import type { SinkSpec } from "@eventstorm/core/sink";
 * const flags = { verbose: { type: "boolean", help: "say more" } } as const;
 * const sink: SinkSpec<typeof flags> = {
 *   name: "null",
 *   summary: "discard events",
 *   flags,
 *   makeBackend: (values) => {
 *     const verbose: boolean = values.verbose;
 *     return Promise.resolve({
 *       name: "null",
 *       write: (events) => Promise.resolve(verbose ? console.log(events.length) : undefined),
 *       close: () => Promise.resolve(),
 *     });
 *   },
 * };
 * ```
 */
export interface SinkSpec<
  F extends Record<string, FlagSpec> = Record<string, FlagSpec>,
  B extends SinkBackend = SinkBackend,
> {
  /** Sink name, as in `eventstorm sink NAME` and the stats `component` (`sink-NAME`). */
  name: string;
  /** One-line summary. */
  summary: string;
  /** The sink's own flags. */
  flags: F;
  /** Examples and notes for `--help`. */
  epilog?: string;
  /**
   * Builds the backend from the parsed flags, its own and the common ones (throw
   * `UsageError` for bad values). It runs after the common flags are checked and
   * before the collector opens.
   */
  makeBackend(values: FlagValues<F> & FlagValues<typeof SINK_FLAGS>): Promise<B>;
  /** Messages libzmq queues for the sink before the sender side drops (default 1000). */
  receiveHwm?: number;
  /**
   * The `--when-full` default: `block` when absent, so a stalled backend pushes
   * back on the router (its losses beyond that are counted as `lost`) instead of
   * dropping here what its queues could have held.
   */
  whenFull?: WhenFull;
  /** The `--batch-size` default (1000): events per backend write. */
  batchSize?: number;
  /**
   * A line for stdout once the sink receives, for scripts that start it (the
   * dashboard's address); stdout carries nothing else.
   */
  announce?(backend: B): string;
}

/** Flags every receiver of a router's stream has: every sink and the dashboard.
 *
 * @example
 * ```ts
 * import { RECEIVER_FLAGS } from "@eventstorm/core/sink";
 * Object.keys(RECEIVER_FLAGS).includes("member"); // true
 * ```
 */
export const RECEIVER_FLAGS = {
  from: FROM_FLAG,
  ...CURVE_CLIENT_FLAGS,
  topic: topicFlag("topic prefix to receive") as ListFlagSpec,
  member: {
    type: "string",
    value: "I/N",
    help: "be member I of a group of N receivers sharing the stream; each takes whole streams",
  },
} as const satisfies Record<string, FlagSpec>;

/**
 * The collector the receiver flags ask for, every value checked, so that a
 * typo fails before a database file or a server is touched.
 *
 * @example
 * ```ts
 * import { collectorFromFlags } from "@eventstorm/core/sink";
 * collectorFromFlags({ from: [">tcp://127.0.0.1:5556"], topic: ["http."], member: undefined })
 *   .topics; // ["http."]
 * ```
 */
export function collectorFromFlags(
  values: FlagValues<Pick<typeof RECEIVER_FLAGS, "from" | "topic" | "member">>,
  curve?: CurveOptions,
): CollectorOptions & { endpoints: string[] } {
  const { member } = values;
  return {
    endpoints: endpointsFlag(values, "from"),
    topics: topicPrefixesFlag(values, "topic"),
    curve,
    member: member === undefined ? undefined : parseMember(member),
  };
}

/** Flags every sink has.
 *
 * @example
 * ```ts
 * import { SINK_FLAGS } from "@eventstorm/core/sink";
 * Object.keys(SINK_FLAGS).includes("buffer"); // true
 * ```
 */
export const SINK_FLAGS = {
  ...RECEIVER_FLAGS,
  buffer: {
    type: "string",
    value: "N",
    default: "100000",
    help: "events held while the backend is slow or down",
  },
  "buffer-bytes": {
    type: "string",
    value: "SIZE",
    default: "64MiB",
    help: "event bytes (BSON) held at most, as well as --buffer: 512k, 64MiB, 1GB",
  },
  "when-full": {
    type: "string",
    value: "POLICY",
    default: "block",
    help: "when the buffer is full: block (stop reading; the router queues, then loses, " +
      "counted as lost), drop-newest or drop-oldest (counted as dropped full)",
  },
  "batch-size": { type: "string", value: "N", default: "1000", help: "events per backend write" },
  ...SINK_STATS_FLAGS,
  "shutdown-timeout": {
    type: "string",
    value: "DURATION",
    default: "10s",
    help: "how long the whole shutdown may take after the signal; what is left counts as dropped",
  },
} as const satisfies Record<string, FlagSpec>;

/** Why events were dropped, when any were: ` (rejected 3)`, ` (full 10, shutdown 2)`. */
function droppedReasons(current: Counters): string {
  const reasons = ["full", "rejected", "shutdown"]
    .filter((reason) => (current[`dropped_${reason}`] ?? 0) > 0)
    .map((reason) => `${reason} ${current[`dropped_${reason}`]}`);
  return reasons.length > 0 ? ` (${reasons.join(", ")})` : "";
}

/** What a count shows beside it of the same, counted but not saved yet. */
function unsaved(count: number | undefined): string {
  return count ? ` (+${count} not saved yet)` : "";
}

/**
 * One readable stats line for a sink; `own` names the backend's own counters
 * ({@linkcode SinkBackend.counters}), printed last (`_` as a space).
 *
 * @example
 * ```ts
 * import { formatSinkLine } from "@eventstorm/core/sink";
 * formatSinkLine("store", { received: 10, stored: 10, buffered: 0, dropped: 0, lost: 0 }, {}, 1000);
 * formatSinkLine("dashboard", { received: 10, stored: 10, clients: 1 }, {}, 1000, ["clients"]);
 * // "sink dashboard: 10 ev/s stored; received 10, …, clients 1"
 * ```
 */
export function formatSinkLine(
  name: string,
  current: Counters,
  previous: Counters,
  elapsedMs: number,
  own: readonly string[] = [],
): string {
  return `sink ${name}: ${
    formatCount(rate(current.stored, previous.stored ?? 0, elapsedMs))
  } ev/s stored; ` +
    `received ${current.received}, stored ${current.stored}, buffered ${current.buffered}, ` +
    // Known, and in `dropped` or `lost` once a position past them is saved (docs/stored.md).
    `dropped ${current.dropped}${droppedReasons(current)}${unsaved(current.dropped_unsaved)}` +
    `, lost on wire ${current.lost}${unsaved(current.lost_unsaved)}` +
    // Copies through a second router (or replays) skipped on arrival, never stored.
    (current.duplicates ? `, duplicates on wire ${current.duplicates}` : "") +
    (current.duplicates_stored ? `, duplicates ${current.duplicates_stored}` : "") +
    `, malformed ${current.malformed ?? 0}, rejected ${current.rejected ?? 0}` +
    (current.retried ? `, write errors ${current.retried}` : "") +
    (current.other_members ? `, left to other members ${current.other_members} msgs` : "") +
    // One decimal on the line (docs/specs/stats.md); the event keeps two.
    (current.latency_ms_avg !== undefined
      ? `, write ${Number(current.latency_ms_avg.toFixed(1))}ms avg`
      : "") +
    own.map((key) => `, ${key.replaceAll("_", " ")} ${current[key] ?? 0}`).join("");
}

/**
 * The command of a sink: its own flags and the common ones, run by
 * {@linkcode runSinkMain}. A sink's `main.ts` exports it as `command`.
 *
 * @example
 * ```ts
 * import { sinkCommand } from "@eventstorm/core/sink";
 * const command = sinkCommand({
 *   name: "null",
 *   summary: "discard events",
 *   flags: {},
 *   makeBackend: () =>
 *     Promise.resolve({ name: "null", write: () => Promise.resolve(), close: () => Promise.resolve() }),
 * });
 * command.name; // "eventstorm sink null"
 * ```
 */
export function sinkCommand<F extends Record<string, FlagSpec>, B extends SinkBackend>(
  sink: SinkSpec<F, B>,
): Command {
  return {
    name: `eventstorm sink ${sink.name}`,
    summary: sink.summary,
    flags: {
      ...sink.flags,
      ...SINK_FLAGS,
      "when-full": { ...SINK_FLAGS["when-full"], default: sink.whenFull ?? "block" },
      "batch-size": {
        ...SINK_FLAGS["batch-size"],
        default: String(sink.batchSize ?? SINK_FLAGS["batch-size"].default),
      },
    },
    epilog: sink.epilog,
    main: (args) => runSinkMain(args, sink),
  };
}

/**
 * Runs a sink command with `args`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * import { runSinkMain } from "@eventstorm/core/sink";
 * await runSinkMain(Deno.args, {
 *   name: "null", summary: "discard events", flags: {},
 *   makeBackend: () => Promise.resolve({ name: "null", write: async () => {}, close: async () => {} }),
 * });
 * ```
 */
export async function runSinkMain<F extends Record<string, FlagSpec>, B extends SinkBackend>(
  args: string[],
  sink: SinkSpec<F, B>,
): Promise<number> {
  const spec = sinkCommand(sink);
  const parsed = parseFlags(args, spec);
  if (parsed.help) {
    console.log(helpText(spec));
    return 0;
  }
  // One parse of the sink's flags and the common ones: each side reads its own,
  // typed by its own specs (the common ones win a clash, in sinkCommand too).
  const values = parsed.values as FlagValues<typeof SINK_FLAGS>;
  const whenFull = choiceFlag(values, "when-full", ["drop-newest", "drop-oldest", "block"]);
  // Checked before the backend opens: a typo must not leave a database file
  // behind or wait for a server first.
  const bufferBytes = parseByteSize(values["buffer-bytes"], "buffer-bytes", 1);
  const curve = curveFromFlags(values);
  const collector = { ...collectorFromFlags(values, curve), receiveHwm: sink.receiveHwm };
  const from = collector.endpoints;
  const statsTo = statsToFlag(values);
  const intervalMs = statsIntervalFlag(values);
  const runnerOptions = {
    collector,
    bufferEvents: integerFlag(values, "buffer", { min: 1 }),
    bufferBytes,
    whenFull,
    batchSize: integerFlag(values, "batch-size", { min: 1, max: 1_000_000 }),
    shutdownTimeoutMs: parseDuration(values["shutdown-timeout"], "shutdown-timeout"),
    label: `sink ${sink.name}`,
  };
  const backend = await sink.makeBackend(
    parsed.values as FlagValues<F> & FlagValues<typeof SINK_FLAGS>,
  );
  const runner = new SinkRunner(backend, runnerOptions);
  let bound: string;
  try {
    bound = (await runner.open()).boundEndpoint();
  } catch (error) {
    await backend.close();
    throw error;
  }
  // A port of `*` is the system's choice: say which, so a sender can be pointed at it.
  const shown = from.length === 1 && /^@.*:\*$/.test(from[0]) ? [`@${bound}`] : from;
  console.error(`sink ${sink.name}: receiving from ${shown.join(", ")}`);
  warnUnresolvableHosts(`sink ${sink.name}`, from);
  const endpoints = from.flatMap(parseEndpoints);
  warnPlaintextBinds(`sink ${sink.name}`, endpoints, curve);
  warnPerFrameLimit(`sink ${sink.name}`, endpoints);
  const announcement = sink.announce?.(backend);
  if (announcement !== undefined) console.log(announcement);
  const own = Object.keys(backend.counters?.() ?? {});
  await reportStatsDuring({
    component: `sink-${sink.name}`,
    intervalMs,
    snapshot: () => runner.counters(),
    format: (current, previous, elapsed) =>
      formatSinkLine(sink.name, current, previous, elapsed, own),
    statsTo,
    curve,
  }, () => runner.run(shutdownSignal()));
  return 0;
}
