/**
 * `eventstorm source syslog`: receives syslog over UDP, TCP or a Unix socket and
 * routes each message by program tag to the nginx, Postfix and sshd parsers.
 *
 * @example
 * ```sh
 * deno run -A sources/syslog/main.ts --listen udp://127.0.0.1:5514 --listen tcp://127.0.0.1:5514 \
 *   --to '>tcp://127.0.0.1:5555'
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
  UsageError,
  waitingNotice,
  warnUnresolvableHosts,
} from "@eventstorm/core/cli";
import { nginxSource } from "@eventstorm/source-nginx/main";
import { postfixSource } from "@eventstorm/source-postfix/main";
import { sshdSource } from "@eventstorm/source-sshd/main";
import { parseListenAddress } from "./listener.ts";
import { SyslogRouter } from "./router.ts";
import { SyslogSource, type SyslogSourceStats } from "./source.ts";
import { formatCount, rate } from "@eventstorm/core/cli";

const ROUTES = ["nginx", "postfix", "sshd"] as const;

/** The syslog source's own flags (the parsers' flags keep the names of their sources). */
export const SYSLOG_FLAGS: Record<string, FlagSpec> = {
  listen: {
    type: "string",
    multiple: true,
    value: "ADDR",
    help: "udp://HOST:PORT, tcp://HOST:PORT or unix:///PATH (repeatable)",
  },
  to: TO_FLAG,
  ...CURVE_CLIENT_FLAGS,
  print: { type: "boolean", help: "print events as JSON lines on stdout instead of publishing" },
  host: { type: "string", value: "NAME", help: "host of every event [default: the message's]" },
  routes: {
    type: "string",
    value: "LIST",
    default: "nginx,postfix,sshd",
    help: "parsers to route to, by program tag (nginx: --nginx-tag; postfix/*; sshd)",
  },
  "nginx-tag": {
    type: "string",
    multiple: true,
    value: "TAG",
    help: "program tag of nginx access lines (access_log syslog:...,tag=) [default: nginx]",
  },
  generic: {
    type: "boolean",
    help: "send messages of other programs as syslog.message events",
  },
  unparsed: {
    type: "boolean",
    help: "send messages no parser understands as syslog.unparsed events (field line)",
  },
  "max-message-bytes": {
    type: "string",
    value: "N",
    default: "65536",
    help: "longer messages are cut there (and counted)",
  },
  checkpoint: {
    type: "string",
    value: "PATH",
    help: "checkpoint file (stream numbering, open Postfix transactions) " +
      "[default: under ~/.local/state/eventstorm; none with --print]",
  },
  "no-checkpoint": { type: "boolean", help: "keep no checkpoint" },
  "stats-interval": STATS_INTERVAL_FLAG,
  "stats-to": statsToFlagSpec("none"),
  ...Object.fromEntries(
    Object.entries({ ...nginxSource.flags, ...postfixSource.flags, ...sshdSource.flags })
      .map(([name, spec]) => [name, { ...spec, help: `(${parserOf(name)}) ${spec.help}` }]),
  ),
};

function parserOf(flag: string): string {
  if (flag === "utc") return "postfix, sshd";
  return flag in (nginxSource.flags ?? {}) ? "nginx" : "postfix";
}

/** The command line of `eventstorm source syslog`. */
export const command: Command = {
  name: "eventstorm source syslog",
  summary: "syslog over UDP/TCP/Unix (RFC 3164, 5424, 6587) to the nginx, Postfix, sshd parsers",
  flags: SYSLOG_FLAGS,
  epilog: "Examples:\n" +
    "  eventstorm source syslog --listen udp://127.0.0.1:5514 --listen tcp://127.0.0.1:5514\n" +
    "  nginx: access_log syslog:server=127.0.0.1:5514,tag=nginx eventstorm;\n" +
    '  rsyslog: *.* action(type="omfwd" target="127.0.0.1" port="5514" protocol="tcp"\n' +
    '           TCP_Framing="octet-counted")',
  main: syslogMain,
};

/**
 * Builds the router the flags ask for (the same flag names as the nginx, postfix
 * and sshd sources).
 *
 * @example
 * ```ts
 * import { syslogRouter } from "@eventstorm/source-syslog/main";
 * const router = await syslogRouter({ routes: "sshd", generic: true });
 * ```
 */
export async function syslogRouter(values: Flags): Promise<SyslogRouter> {
  const routes = (stringFlag(values, "routes") ?? ROUTES.join(",")).split(",").map((r) => r.trim())
    .filter((r) => r !== "");
  for (const route of routes) {
    if (!(ROUTES as readonly string[]).includes(route)) {
      throw new UsageError(`--routes: unknown parser '${route}' (known: ${ROUTES.join(", ")})`);
    }
  }
  const postfixValues = { timeout: "1h", "deferred-timeout": "5d", ...values };
  return new SyslogRouter({
    nginx: routes.includes("nginx")
      ? await nginxSource.makeParser({ ...values, file: [] })
      : undefined,
    nginxTags: listFlag(values, "nginx-tag").length > 0 ? listFlag(values, "nginx-tag") : undefined,
    postfix: routes.includes("postfix") ? await postfixSource.makeParser(postfixValues) : undefined,
    sshd: routes.includes("sshd") ? await sshdSource.makeParser(values) : undefined,
    generic: values.generic === true,
    utc: values.utc === true,
  });
}

/**
 * The stats fields of a syslog source (snake case, like every component's).
 *
 * @example
 * ```ts ignore
 * import { syslogCounters } from "@eventstorm/source-syslog/main";
 * syslogCounters(source.stats(), router.stats.ignored, source.output);
 * ```
 */
export function syslogCounters(
  s: SyslogSourceStats,
  ignored: number,
  output?: EventOutput,
): Record<string, number> {
  return {
    messages: s.messages,
    bytes: s.bytes,
    events: s.events,
    unparsed: s.unparsed,
    ignored,
    bad_encoding: s.badEncoding,
    parser_errors: s.parserErrors,
    rejected: s.rejected,
    too_long: s.tooLong,
    bad_frames: s.badFrames,
    kernel_drops: s.kernelDrops,
    connections: s.connections,
    checkpoints: s.checkpoints,
    ...outputCounters(output),
  };
}

/**
 * One readable stats line of a syslog source.
 *
 * @example
 * ```ts
 * import { formatSyslogLine } from "@eventstorm/source-syslog/main";
 * formatSyslogLine("syslog", { messages: 10, events: 9, unparsed: 1 }, {}, 1000);
 * ```
 */
export function formatSyslogLine(
  name: string,
  current: Record<string, number>,
  previous: Record<string, number>,
  elapsedMs: number,
): string {
  const n = (key: string) => current[key] ?? 0;
  return `source ${name}: ${
    formatCount(rate(n("messages"), previous.messages ?? 0, elapsedMs))
  } messages/s; messages ${n("messages")}, events ${n("events")}, unparsed ${n("unparsed")}, ` +
    `ignored ${n("ignored")}, too long ${n("too_long")}, bad frames ${n("bad_frames")}, ` +
    `kernel drops ${n("kernel_drops")}` +
    (n("dropped") > 0 ? `, dropped ${n("dropped")}` : "") +
    (n("parser_errors") > 0 ? `, parser errors ${n("parser_errors")}` : "");
}

/**
 * Runs `eventstorm source syslog ARGS` until SIGINT/SIGTERM.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/source-syslog/main";
 * await command.main(["--listen", "udp://127.0.0.1:5514", "--print"]);
 * ```
 */
async function syslogMain(args: string[]): Promise<number> {
  const parsed = parseFlags(args, command);
  if (parsed.help) {
    console.log(helpText(command));
    return 0;
  }
  const values = parsed.values;
  const listen = listFlag(values, "listen").map(parseListenAddress);
  if (listen.length === 0) {
    throw new UsageError(
      `${command.name}: --listen is required (e.g. udp://127.0.0.1:5514)`,
    );
  }
  const print = values.print === true;
  const to = endpointsFlag(values, "to");
  const curve = print ? undefined : commandCurve("source syslog", values, to);
  const statsTo = statsToFlag(values);
  const statsIntervalMs = statsIntervalFlag(values);
  const hostOverride = stringFlag(values, "host");
  const host = hostOverride ?? localHostname();
  const explicit = stringFlag(values, "checkpoint");
  if (explicit !== undefined && values["no-checkpoint"] === true) {
    throw new UsageError("--checkpoint and --no-checkpoint exclude each other");
  }
  const checkpointPath = values["no-checkpoint"] === true ? undefined : explicit ??
    (print ? undefined : defaultCheckpointPath("syslog", listen.map((a) => a.text)));
  const router = await syslogRouter(values);
  const source = new SyslogSource({
    listen,
    parser: router,
    host,
    hostOverride,
    unparsedType: values.unparsed === true ? "syslog.unparsed" : undefined,
    maxMessageBytes: integerFlag(values, "max-message-bytes", { min: 256, max: 64 << 20 }),
    checkpointPath,
    signal: shutdownSignal(),
    onStarted: (listeners) => {
      const bound = listen.map((a) => {
        const port = listeners.boundPorts.get(a.text);
        return port !== undefined && a.port === 0 ? a.text.replace(/:0$/, `:${port}`) : a.text;
      });
      console.error(
        `source syslog: listening on ${bound.join(", ")} → ${print ? "stdout" : to.join(", ")}` +
          (checkpointPath ? ` (checkpoint ${checkpointPath})` : ""),
      );
      if (!print) warnUnresolvableHosts("source syslog", to);
    },
    output: print
      ? (resume: OutputResume) => new PrintOutput(resume)
      : (resume: OutputResume) =>
        Emitter.open({
          endpoints: to,
          host,
          curve,
          onWaiting: waitingNotice("source syslog", to),
          ...resume,
        }),
  });
  const stats = await openStatsPublisher(statsTo, curve);
  const reporter = new StatsReporter({
    component: "source-syslog",
    intervalMs: statsIntervalMs,
    publish: stats?.publish,
    snapshot: () =>
      syslogCounters(
        source.stats(),
        router.stats.ignored,
        source.output,
      ),
    format: (current, previous, elapsed) => formatSyslogLine("syslog", current, previous, elapsed),
  });
  try {
    await reporter.during(() => source.run());
  } finally {
    await stats?.close();
  }
  return 0;
}

if (import.meta.main) {
  await runCommand(() => command.main(Deno.args));
}
