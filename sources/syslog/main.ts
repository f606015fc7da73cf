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
import {
  checkpointFromFlags,
  destinationText,
  sourceFlags,
  sourceOutput,
  warnSourceOutput,
} from "@eventstorm/core/source";
import {
  type Command,
  helpText,
  integerFlag,
  parseFlags,
  reportStatsDuring,
  runCommand,
  shutdownSignal,
  type StatsDuringOptions,
  UsageError,
} from "@eventstorm/core/cli";
import { parseListenAddress } from "./listener.ts";
import { SyslogSource } from "./source.ts";
import { SYSLOG_FLAGS, syslogRouter } from "./config.ts";
import { formatSyslogLine, syslogCounters } from "./stats.ts";

/** The command line of `eventstorm source syslog`. */
export const command: Command<typeof SYSLOG_FLAGS> = {
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
  const listen = values.listen.map(parseListenAddress);
  if (listen.length === 0) {
    throw new UsageError(
      `${command.name}: --listen is required (e.g. udp://127.0.0.1:5514)`,
    );
  }
  const common = sourceFlags(values);
  const { host, hostOverride, curve, statsIntervalMs, statsTo } = common;
  const checkpointPath = await checkpointFromFlags("syslog", values, listen.map((a) => a.text));
  const router = await syslogRouter(values);
  const source = new SyslogSource({
    listen,
    parser: router,
    host,
    hostOverride,
    unparsedType: values.unparsed ? "syslog.unparsed" : undefined,
    maxMessageBytes: integerFlag(values, "max-message-bytes", { min: 256, max: 64 << 20 }),
    checkpointPath,
    signal: shutdownSignal(),
    onStarted: (listeners) => {
      console.error(
        `source syslog: listening on ${listeners.bound.join(", ")} ` +
          destinationText(common, checkpointPath),
      );
      for (const warning of listeners.warnings) console.error(`source syslog: warning: ${warning}`);
      warnSourceOutput("source syslog", common);
    },
    output: sourceOutput("source syslog", common),
  });
  const reportOptions: StatsDuringOptions = {
    component: "source-syslog",
    intervalMs: statsIntervalMs,
    snapshot: () =>
      syslogCounters(
        source.stats(),
        router.stats.ignored,
        source.output,
      ),
    format: (current, previous, elapsed) => formatSyslogLine("syslog", current, previous, elapsed),
    statsTo,
    curve,
  };
  await reportStatsDuring(reportOptions, () => source.run());
  return 0;
}

if (import.meta.main) {
  await runCommand(() => command.main(Deno.args));
}
