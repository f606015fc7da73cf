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
import { collectorFromFlags } from "@eventstorm/core/sink";
import {
  type Command,
  commandCurve,
  endpointsFlag,
  helpText,
  openStatsPublisher,
  parseDuration,
  parseFlags,
  runCommand,
  shutdownSignal,
  statsIntervalFlag,
  StatsReporter,
  statsToFlag,
  UsageError,
  warnUnresolvableHosts,
} from "@eventstorm/core/cli";
import { StoreReader } from "@eventstorm/sink-store/reader";
import { Dashboard } from "./dashboard.ts";
import { isLoopback } from "./server.ts";
import { DASHBOARD_FLAGS, parseListen } from "./config.ts";
import { dashboardCounters, formatDashboardLine } from "./stats.ts";

/** The `eventstorm sink dashboard` command line.
 *
 * @example
 * ```ts
 * import { command } from "@eventstorm/sink-dashboard/main";
 * command.name; // "eventstorm sink dashboard"
 * ```
 */
export const command: Command<typeof DASHBOARD_FLAGS> = {
  name: "eventstorm sink dashboard",
  summary: "live charts of the event stream in the browser (aggregated once a second)",
  flags: DASHBOARD_FLAGS,
  epilog: `Examples:
  eventstorm sink dashboard
  eventstorm sink dashboard --db eventstorm.db --topic http. --topic ssh.
  eventstorm sink dashboard --listen 0.0.0.0:8080 --token "$(openssl rand -hex 16)"`,
  main: dashboardMain,
};

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
  const { hostname, port } = parseListen(values.listen);
  const token = values.token;
  if (token !== undefined && (token.length < 16 || /\s/.test(token))) {
    throw new UsageError("--token must be 16 characters or more, without spaces");
  }
  if (token === undefined && !isLoopback(hostname)) {
    throw new UsageError(
      `--listen ${hostname} is not a loopback address: give --token to guard the dashboard`,
    );
  }
  const historyMs = parseDuration(values.history, "history");
  const windowMs = parseDuration(values.window, "window");
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
  const collector = collectorFromFlags(values, curve);
  const db = values.db;
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
      collector,
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
    snapshot: () => dashboardCounters(dashboard.stats()),
    format: formatDashboardLine,
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
