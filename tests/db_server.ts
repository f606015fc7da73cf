/**
 * Database servers for the sink tests and benchmarks, run through scripts/*.sh on a
 * free port in a temp dir. Each is stopped when the owning process dies, even if its
 * cleanup never runs (EVENTSTORM_OWNER_PID).
 *
 * @module
 */
import { freePort } from "./helpers.ts";

const scripts = new URL("../scripts/", import.meta.url).pathname;

/** Whether a missing server fails the test instead of skipping it. */
export const inCI: boolean = Deno.env.get("CI") === "true";

/** The outcome of one script call. */
export interface ScriptResult {
  /** Whether it exited 0. */
  ok: boolean;
  /** Its stdout and stderr. */
  output: string;
}

/** Runs `scripts/SCRIPT ARGS`. */
export async function runScript(script: string, args: string[]): Promise<ScriptResult> {
  try {
    const out = await new Deno.Command("bash", {
      args: [scripts + script, ...args],
      env: { EVENTSTORM_OWNER_PID: String(Deno.pid) },
      stdin: "null",
    }).output();
    const text = new TextDecoder();
    return { ok: out.success, output: text.decode(out.stdout) + text.decode(out.stderr) };
  } catch (error) {
    return { ok: false, output: String(error) };
  }
}

/** Why `script` cannot run a server here (its install failed), or undefined when it can. */
export async function unavailable(script: string): Promise<string | undefined> {
  const result = await runScript(script, ["install"]);
  if (result.ok) return undefined;
  return `${script} install failed:\n${result.output.trim().split("\n").slice(-15).join("\n")}`;
}

/** A server started by a script: stop and start it again on the same port and state. */
export interface DbServer {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Its state directory. */
  dir: string;
  /** Stops it (state kept). */
  stop(): Promise<void>;
  /** Starts it again after `stop`. */
  start(): Promise<void>;
  /** Stops it and removes its state. */
  destroy(): Promise<void>;
}

/** Starts a server with `script` on a free port; throws with the script's output on failure. */
export async function startServer(script: string): Promise<DbServer> {
  const dir = await Deno.makeTempDir({ prefix: "eventstorm-db-" });
  const port = freePort();
  const start = async () => {
    const result = await runScript(script, ["start", dir, String(port)]);
    if (!result.ok) throw new Error(`${script} start failed:\n${result.output}`);
  };
  const stop = async () => {
    const result = await runScript(script, ["stop", dir]);
    if (!result.ok) throw new Error(`${script} stop failed:\n${result.output}`);
  };
  await start();
  return {
    port,
    dir,
    start,
    stop,
    destroy: async () => {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Tests that share one server, run as the steps of one test: stopping the server
 * is then teardown (in `finally`, also when a step fails), not a test of its own.
 * Steps are added while the module loads and run in the order they were added.
 *
 * @example
 * ```ts ignore
 * const suite = serverSuite("mongodb sink", { ignore, teardown: () => server.destroy() });
 * suite.add({ name: "stores events", fn: async () => {} });
 * ```
 */
export function serverSuite(
  name: string,
  options: { ignore: boolean; teardown: () => Promise<void> },
): { add(step: Deno.TestStepDefinition): void } {
  const steps: Deno.TestStepDefinition[] = [];
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    ignore: options.ignore,
    fn: async (t) => {
      try {
        for (const step of steps) await t.step(step);
      } finally {
        await options.teardown();
      }
    },
  });
  return { add: (step) => void steps.push(step) };
}
