/**
 * `eventstorm sink dashboard`: live charts of the event stream in a browser.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/sink-dashboard/main";
 * Deno.exit(await command.main(["--listen", "127.0.0.1:8080"]));
 * ```
 *
 * @module
 */
import { parseMember } from "@eventstorm/core";
import {
  type Command,
  commandCurve,
  CURVE_CLIENT_FLAGS,
  endpointsFlag,
  formatCount,
  FROM_FLAG,
  helpText,
  openStatsPublisher,
  parseDuration,
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
  topicFlag,
  topicPrefixesFlag,
  UsageError,
  warnUnresolvableHosts,
} from "@eventstorm/core/cli";
import { StoreReader } from "@eventstorm/sink-store/reader";
import { Dashboard } from "./dashboard.ts";
import { isLoopback } from "./server.ts";

/** The `eventstorm sink dashboard` command line.
 *
 * @example
 * ```ts
 * import { command } from "@eventstorm/sink-dashboard/main";
 * command.name; // "eventstorm sink dashboard"
 * ```
 */
export const command: Command = {
  name: "eventstorm sink dashboard",
  summary: "live charts of the event stream in the browser (aggregated once a second)",
  flags: {
    from: FROM_FLAG,
    ...CURVE_CLIENT_FLAGS,
    topic: topicFlag("topic prefix to receive"),
    member: {
      type: "string",
      value: "I/N",
      help: "be member I of a group of N sinks sharing the stream (counts cover its share only)",
    },
    listen: {
      type: "string",
      value: "HOST:PORT",
      default: "127.0.0.1:8080",
      help: "where to serve the page (port 0 picks one); off loopback --token is required",
    },
    token: {
      type: "string",
      value: "SECRET",
      help: "required as ?token= by the page and its WebSocket (16 characters or more)",
    },
    db: {
      type: "string",
      value: "PATH",
      help: "an event store file (eventstorm sink store) to open the charts with its past",
    },
    history: {
      type: "string",
      value: "DURATION",
      default: "1h",
      help: "how far back the charts go",
    },
    window: {
      type: "string",
      value: "DURATION",
      default: "1m",
      help: "window of the top lists (paths, clients, offenders)",
    },
    "stats-interval": STATS_INTERVAL_FLAG,
    "stats-to": statsToFlagSpec(">tcp://127.0.0.1:5555"),
  },
  epilog: `Examples:
  eventstorm sink dashboard
  eventstorm sink dashboard --db eventstorm.db --topic http. --topic ssh.
  eventstorm sink dashboard --listen 0.0.0.0:8080 --token "$(openssl rand -hex 16)"`,
  main: dashboardMain,
};

/**
 * What `--listen` says.
 *
 * @example
 * ```ts
 * import { type ListenAddress, parseListen } from "@eventstorm/sink-dashboard/main";
 * const address: ListenAddress = parseListen("127.0.0.1:8080");
 * ```
 */
export interface ListenAddress {
  /** Host name or address, without brackets. */
  hostname: string;
  /** Port, 0 for any. */
  port: number;
}

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces). Throws
 * {@linkcode UsageError} otherwise.
 *
 * @example
 * ```ts
 * import { parseListen } from "@eventstorm/sink-dashboard/main";
 * parseListen("127.0.0.1:8080"); // { hostname: "127.0.0.1", port: 8080 }
 * parseListen("[::1]:0"); // { hostname: "::1", port: 0 }
 * ```
 */
export function parseListen(text: string): ListenAddress {
  const match = text.trim().match(/^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]*)):(\d{1,5})$/);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new UsageError(`--listen must be HOST:PORT like 127.0.0.1:8080, got '${text}'`);
  }
  const hostname = match[1] ?? (match[2] === "" ? "0.0.0.0" : match[2]);
  return { hostname, port };
}

/**
 * Runs the dashboard with `args` until SIGINT or SIGTERM; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/sink-dashboard/main";
 * await command.main(["--listen", "127.0.0.1:0", "--from", ">tcp://127.0.0.1:5556"]);
 * ```
 */
async function dashboardMain(args: string[]): Promise<number> {
  const parsed = parseFlags(args, command);
  if (parsed.help) {
    console.log(helpText(command));
    return 0;
  }
  const values = parsed.values;
  const { hostname, port } = parseListen(stringFlag(values, "listen")!);
  const token = stringFlag(values, "token");
  if (token !== undefined && (token.length < 16 || /\s/.test(token))) {
    throw new UsageError("--token must be 16 characters or more, without spaces");
  }
  if (token === undefined && !isLoopback(hostname)) {
    throw new UsageError(
      `--listen ${hostname} is not a loopback address: give --token to guard the dashboard`,
    );
  }
  const historyMs = parseDuration(stringFlag(values, "history")!, "history");
  const windowMs = parseDuration(stringFlag(values, "window")!, "window");
  const intervalMs = statsIntervalFlag(values);
  const statsTo = statsToFlag(values);
  if (historyMs < 60_000 || historyMs > 7 * 86_400_000) {
    throw new UsageError("--history must be from 1m to 7d");
  }
  if (windowMs < 6_000 || windowMs > 86_400_000) {
    throw new UsageError("--window must be from 6s to 1d");
  }
  // Checked, like every sink's, before the store or the server opens.
  const from = endpointsFlag(values, "from");
  const curve = commandCurve("sink dashboard", values, from);
  const memberText = stringFlag(values, "member");
  const db = stringFlag(values, "db");
  if (db !== undefined) {
    // Opened once here, so a wrong file is a usage error before anything starts.
    try {
      StoreReader.open(db).close();
    } catch (error) {
      throw new UsageError(`--db ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const signal = shutdownSignal();
  let dashboard: Dashboard;
  try {
    dashboard = await Dashboard.start({
      collector: {
        endpoints: from,
        topics: topicPrefixesFlag(values, "topic"),
        curve,
        member: memberText === undefined ? undefined : parseMember(memberText),
      },
      hostname,
      port,
      token,
      db,
      historyMs,
      windowMs,
    });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`--listen ${hostname}:${port}: the address is already in use`);
    }
    // An address that does not resolve or is not this machine's is the user's to fix.
    if (
      error instanceof Deno.errors.AddrNotAvailable ||
      /failed to lookup address|Name or service not known/i.test(String(error))
    ) {
      throw new UsageError(`--listen ${hostname}:${port}: ${(error as Error).message}`);
    }
    throw error;
  }
  const stats = await openStatsPublisher(statsTo, curve);
  const reporter = new StatsReporter({
    component: "sink-dashboard",
    publish: stats?.publish,
    intervalMs,
    snapshot: () => {
      const stats = dashboard.stats();
      return {
        received: stats.events,
        lost: stats.lost,
        malformed: stats.malformed,
        rejected: stats.rejected,
        clients: stats.clients,
      };
    },
    format: (current, previous, elapsedMs) =>
      `sink dashboard: ${
        formatCount(rate(current.received, previous.received ?? 0, elapsedMs))
      } ev/s; received ${current.received}, lost on wire ${current.lost}, ` +
      `malformed ${current.malformed}, rejected ${current.rejected}, pages ${current.clients}`,
  });
  reporter.start();
  console.error(`sink dashboard: receiving from ${from.join(", ")}`);
  warnUnresolvableHosts("sink dashboard", from);
  // Stdout carries just the address, for scripts that start the dashboard.
  console.log(`dashboard: ${dashboard.url}`);
  if (!signal.aborted) {
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
  }
  reporter.stop();
  await dashboard.close();
  reporter.report();
  await stats?.close();
  return 0;
}

if (import.meta.main) await runCommand(() => command.main(Deno.args));
