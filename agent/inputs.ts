/**
 * The input types of the agent: every source, built from flag values and run
 * under a signal of its own, so that a reload can stop one and leave the others.
 *
 * @module
 */
import { type CurveOptions, Emitter, type EventOutput } from "@eventstorm/core";
import type { EmitterLink } from "@eventstorm/core/source";
import { expandGlobs } from "@eventstorm/core/internal";
import {
  checkpointWritable,
  defaultCheckpointPath,
  type FILE_SOURCE_FLAGS,
  fileSourceCommand,
  type FileSourceSpec,
  formatEventsLine,
  formatSourceLine,
  LineSource,
  SOURCE_SEND_HWM,
  sourceCounters,
} from "@eventstorm/core/source";
import {
  type CommandSpec,
  type Counters,
  type FlagSpec,
  type FlagValues,
  integerFlag,
  parseDuration,
  UsageError,
} from "@eventstorm/core/cli";
import { nginxSource } from "@eventstorm/source-nginx";
import { postfixSource } from "@eventstorm/source-postfix";
import { sshdSource } from "@eventstorm/source-sshd";
import {
  type DEMO_FLAGS,
  demoConfigFromFlags,
  demoCounters,
  runDemoSource,
} from "@eventstorm/source-demo";
import { command as demoCommand } from "@eventstorm/source-demo/main";
import {
  type METRICS_FLAGS,
  metricsCounters,
  metricsIntervalFlag,
  MetricsSampler,
  sampleMetrics,
} from "@eventstorm/source-metrics";
import { command as metricsCommand } from "@eventstorm/source-metrics/main";
import {
  formatSyslogLine,
  parseListenAddress,
  type SYSLOG_FLAGS,
  syslogCounters,
  syslogRouter,
  SyslogSource,
} from "@eventstorm/source-syslog";
import { command as journaldCommand } from "@eventstorm/source-journald/main";
import {
  formatJournaldLine,
  type JOURNALD_FLAGS,
  journaldCounters,
  type JournaldSource,
  journaldSource,
  type JournalRouter,
} from "@eventstorm/source-journald";
import { command as syslogCommand } from "@eventstorm/source-syslog/main";

/** The name of an input type (`type = "..."` in the config). */
export type InputType =
  | "nginx"
  | "postfix"
  | "sshd"
  | "syslog"
  | "journald"
  | "metrics"
  | "demo";

/** What every input gets from the agent. */
export interface InputContext {
  /** The input's name (its table under `[inputs]`). */
  name: string;
  /** Where to publish. */
  to: string[];
  /** CURVE keys for the link to the router. */
  curve?: CurveOptions;
  /**
   * The agent's one connection, shared by its inputs, as it is when an input
   * starts; without it (or when it gives none) each input opens its own.
   */
  link?: () => EmitterLink | undefined;
  /** Host of events that name none. */
  host: string;
  /** Where checkpoints go; the default state directory when absent. */
  stateDir?: string;
}

/** An input ready to run: everything checked, nothing opened yet. */
export interface PreparedInput {
  /** Runs until `signal` aborts; flushes and closes its stream first. */
  run(signal: AbortSignal): Promise<void>;
  /** Its counters now. */
  counters(): Counters;
  /** One readable stats line. */
  format(current: Counters, previous: Counters, elapsedMs: number): string;
}

/**
 * An input type: its flags (the config keys) and how to prepare it from their
 * values, typed by those flags.
 *
 * @example
 * ```ts
 * import type { InputKind } from "@eventstorm/agent";
 * import { command } from "@eventstorm/source-metrics/main";
 * const kind: InputKind<typeof command.flags> = {
 *   spec: command,
 *   prepare: (values, context) => {
 *     const host: string = values.host ?? context.host;
 *     const once: boolean = values.once;
 *     return Promise.resolve({
 *       run: () => Promise.resolve(),
 *       counters: () => ({}),
 *       format: () => `${host}${once ? " (once)" : ""}`,
 *     });
 *   },
 * };
 * ```
 */
export interface InputKind<F extends Record<string, FlagSpec> = Record<string, FlagSpec>> {
  /** The flags of the source (config keys are them with `_` for `-`). */
  spec: CommandSpec<F>;
  /** Checks the values and builds the input; throws `UsageError` for bad values. */
  prepare(values: FlagValues<F>, context: InputContext): Promise<PreparedInput>;
  /**
   * What `--check` can see cheaply that would make the input fail when it runs
   * (a running agent retries it, as the problem may go away): one line each.
   */
  probe?(values: FlagValues<F>, context: InputContext): Promise<string[]>;
}

/** Why `path` is not a directory, or undefined when it is one. */
async function notADirectory(path: string): Promise<string | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.isDirectory ? undefined : `${path} is not a directory`;
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? `directory ${path} does not exist`
      : `cannot look at directory ${path}: ${(error as Error).message}`;
  }
}

/** Why `program` cannot be run (a path, or a name looked up in PATH), or undefined. */
async function notAProgram(program: string): Promise<string | undefined> {
  const candidates = program.includes("/")
    ? [program]
    : (Deno.env.get("PATH") ?? "").split(":").filter((dir) => dir !== "").map((dir) =>
      `${dir}/${program}`
    );
  for (const candidate of candidates) {
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return undefined;
    } catch {
      // Not this one.
    }
  }
  return program.includes("/")
    ? `${program} is not an executable file`
    : `${program} is not found in PATH`;
}

function emitterFor(context: InputContext, host = context.host) {
  return (resume: { sourceId?: bigint; positions?: Record<string, number> }) => {
    const link = context.link?.();
    return Emitter.open(
      link ? { link, host, ...resume } : {
        endpoints: context.to,
        host,
        curve: context.curve,
        sendHwm: SOURCE_SEND_HWM,
        ...resume,
      },
    );
  };
}

/** The input's checkpoint file, checked when the config is, not when a line first moves it. */
async function checkpointPath(context: InputContext, keys: string[]): Promise<string> {
  const path = context.stateDir
    ? `${context.stateDir}/${context.name}.json`
    : defaultCheckpointPath(`agent-${context.name}`, keys);
  await checkpointWritable(path, "set state_dir to a directory the agent can write");
  return path;
}

function fileInput<F extends Record<string, FlagSpec>>(fileSource: FileSourceSpec<F>): InputKind {
  return {
    spec: fileSourceCommand(fileSource),
    async prepare(all, context) {
      // The common flags and the source's own, each side typed by its own specs,
      // as runFileSourceMain reads them.
      const values = all as FlagValues<typeof FILE_SOURCE_FLAGS>;
      const files = values.file;
      if (files.length === 0) throw new UsageError("file: required (a path or a glob)");
      // A directory named without a glob would be waited on for ever: refused as the
      // source's --file refuses it.
      await expandGlobs(files);
      const maxLineBytes = integerFlag(values, "max-line-bytes", { min: 256, max: 64 << 20 });
      const pollIntervalMs = parseDuration(values["poll-interval"], "poll_interval");
      const parser = await fileSource.makeParser({ ...all as FlagValues<F>, file: files });
      const hostOverride = values.host;
      const checkpoint = await checkpointPath(context, files);
      let source: LineSource | undefined;
      let last: Counters = {};
      return {
        async run(signal) {
          source = new LineSource({
            paths: files,
            fromStart: values["from-start"],
            pollIntervalMs,
            maxLineBytes,
            parser,
            host: hostOverride ?? context.host,
            hostOverride,
            unparsedType: values.unparsed
              ? fileSource.unparsedType ?? `${fileSource.name}.unparsed`
              : undefined,
            checkpointPath: checkpoint,
            signal,
            output: emitterFor(context),
          });
          await source.run();
        },
        counters() {
          if (!source) return last;
          const output = source.output;
          last = sourceCounters(
            source.stats(),
            output,
          );
          return last;
        },
        format: (current, previous, elapsed) =>
          formatSourceLine(`${context.name} (${fileSource.name})`, current, previous, elapsed),
      };
    },
  };
}

/** Every input type by its `type` value, each typed by its source's flags. */
export const INPUT_TYPES: {
  nginx: InputKind;
  postfix: InputKind;
  sshd: InputKind;
  syslog: InputKind<typeof SYSLOG_FLAGS>;
  journald: InputKind<typeof JOURNALD_FLAGS>;
  metrics: InputKind<typeof METRICS_FLAGS>;
  demo: InputKind<typeof DEMO_FLAGS>;
} = {
  nginx: fileInput(nginxSource),
  postfix: fileInput(postfixSource),
  sshd: fileInput(sshdSource),
  syslog: {
    spec: syslogCommand,
    async prepare(values, context) {
      const listen = values.listen.map(parseListenAddress);
      if (listen.length === 0) throw new UsageError("listen: required (e.g. udp://127.0.0.1:5514)");
      const router = await syslogRouter(values);
      const hostOverride = values.host;
      const maxMessageBytes = integerFlag(values, "max-message-bytes", { min: 256, max: 64 << 20 });
      const checkpoint = await checkpointPath(context, listen.map((a) => a.text));
      let source: SyslogSource | undefined;
      return {
        async run(signal) {
          source = new SyslogSource({
            listen,
            parser: router,
            host: hostOverride ?? context.host,
            hostOverride,
            unparsedType: values.unparsed ? "syslog.unparsed" : undefined,
            maxMessageBytes,
            checkpointPath: checkpoint,
            signal,
            output: emitterFor(context),
            onStarted: (listeners) => {
              console.error(
                `agent: ${context.name} (syslog): listening on ${listeners.bound.join(", ")}`,
              );
              for (const warning of listeners.warnings) {
                console.error(`agent: ${context.name} (syslog): warning: ${warning}`);
              }
            },
          });
          await source.run();
        },
        counters() {
          const output = source?.output;
          return source
            ? syslogCounters(
              source.stats(),
              router.stats.ignored,
              output,
            )
            : {};
        },
        format: (current, previous, elapsed) =>
          formatSyslogLine(`${context.name} (syslog)`, current, previous, elapsed),
      };
    },
    async probe(values) {
      const problems: string[] = [];
      for (const address of values.listen.map(parseListenAddress)) {
        if (address.path === "") continue;
        const dir = address.path.slice(0, address.path.lastIndexOf("/")) || "/";
        const problem = await notADirectory(dir);
        if (problem) problems.push(`listen: ${address.text}: ${problem}`);
      }
      return problems;
    },
  },
  journald: {
    spec: journaldCommand,
    async prepare(values, context) {
      // Built once here to check the values; again per run, so a restarted input starts clean.
      await journaldSource(values, { host: context.host, output: emitterFor(context) });
      let built: { source: JournaldSource; router: JournalRouter } | undefined;
      const key = [
        ...values.unit,
        ...values.identifier,
        values.directory ?? "",
        ...values.file,
      ];
      const checkpoint = await checkpointPath(context, key);
      return {
        async run(signal) {
          built = await journaldSource(values, {
            host: context.host,
            output: emitterFor(context),
            checkpointPath: checkpoint,
            signal,
          });
          await built.source.run();
        },
        counters() {
          if (!built) return {};
          const output = built.source.output;
          return journaldCounters(
            built.source.stats(),
            built.router.stats.ignored,
            output,
          );
        },
        format: (current, previous, elapsed) =>
          formatJournaldLine(`${context.name} (journald)`, current, previous, elapsed),
      };
    },
    async probe(values) {
      const problem = await notAProgram(values.journalctl);
      return problem ? [`journalctl: ${problem}`] : [];
    },
  },
  metrics: {
    spec: metricsCommand,
    // deno-lint-ignore require-await -- one signature for every input type
    async prepare(values, context) {
      const interval = metricsIntervalFlag(values);
      const host = values.host ?? context.host;
      const counts = { samples: 0, events: 0 };
      let output: EventOutput | undefined;
      return {
        async run(signal) {
          output = await emitterFor(context)({});
          using sampler = new MetricsSampler({ host });
          try {
            await sampleMetrics({
              sampler,
              output,
              intervalMs: interval,
              signal,
              counts,
            });
          } finally {
            await output.close();
          }
        },
        counters: () => metricsCounters(counts, output),
        format: (current, previous, elapsed) =>
          formatEventsLine(`${context.name} (metrics)`, current, previous, elapsed),
      };
    },
  },
  demo: {
    spec: demoCommand,
    // deno-lint-ignore require-await -- one signature for every input type
    async prepare(values, context) {
      const { rate, limit } = demoConfigFromFlags(values);
      let output: Emitter | undefined;
      return {
        async run(signal) {
          output = await emitterFor(context, values.host ?? context.host)({});
          try {
            await runDemoSource({ rate, output, limit, signal });
          } finally {
            await output.close();
          }
        },
        counters: () => demoCounters(output),
        format: (current, previous, elapsed) =>
          formatEventsLine(`${context.name} (demo)`, current, previous, elapsed),
      };
    },
  },
};
