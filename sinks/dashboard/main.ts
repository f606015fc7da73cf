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
import { sinkCommand } from "@eventstorm/core/sink";
import { type Command, parseDuration, runCommand, UsageError } from "@eventstorm/core/cli";
import { StoreReader } from "@eventstorm/sink-store/reader";
import { DashboardBackend } from "./backend.ts";
import { isLoopback, ListenError } from "./server.ts";
import { DASHBOARD_FLAGS, parseListen } from "./config.ts";

/** The `eventstorm sink dashboard` command line: the dashboard's flags and every sink's.
 *
 * @example
 * ```ts
 * import { command } from "@eventstorm/sink-dashboard/main";
 * command.name; // "eventstorm sink dashboard"
 * ```
 */
export const command: Command = sinkCommand({
  name: "dashboard",
  summary: "live charts of the event stream in the browser (aggregated once a second)",
  flags: DASHBOARD_FLAGS,
  epilog: `Examples:
  eventstorm sink dashboard
  eventstorm sink dashboard --db eventstorm.db --topic http. --topic ssh.
  eventstorm sink dashboard --listen 0.0.0.0:8080 --token "$(openssl rand -hex 16)"`,
  makeBackend: async (values) => {
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
    if (historyMs < 60_000 || historyMs > 7 * 86_400_000) {
      throw new UsageError("--history must be from 1m to 7d");
    }
    if (windowMs < 6_000 || windowMs > 86_400_000) {
      throw new UsageError("--window must be from 6s to 1d");
    }
    const db = values.db;
    if (db !== undefined) {
      // Opened once here, so a wrong file is a usage error before anything starts.
      try {
        StoreReader.open(db).close();
      } catch (error) {
        throw new UsageError(`--db ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    try {
      return await DashboardBackend.open({
        hostname,
        port,
        token,
        db,
        historyMs,
        windowMs,
        topics: [...values.topic],
      });
    } catch (error) {
      if (error instanceof ListenError) {
        if (error.cause instanceof Deno.errors.AddrInUse) {
          throw new UsageError(`--listen ${hostname}:${port}: the address is already in use`);
        }
        throw new UsageError(`--listen ${error.message}`);
      }
      throw error;
    }
  },
  // A viewer gains nothing from a deep queue, and each queued message may be large.
  receiveHwm: 100,
  // A live view should show now, not catch up on a backlog: it drops (counted) rather than block.
  whenFull: "drop-newest",
  // Stdout carries just the address, for scripts that start the dashboard.
  announce: (backend) => `dashboard: ${backend.url}`,
});

if (import.meta.main) await runCommand(() => command.main(Deno.args));
