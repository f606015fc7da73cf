/**
 * `eventstorm`: one command over every component.
 *
 * @module
 */
import { type Command, runCommand, UsageError } from "@eventstorm/core/cli";

/** Loads one command's module; every `main.ts` exports its {@linkcode Command} as `command`. */
type Loader = () => Promise<{ command: Command }>;

// Loaded on use: a source must not wait for the database drivers of every sink.
const COMMANDS: Record<string, Loader> = {
  router: () => import("@eventstorm/router/main"),
  emit: () => import("./cli/emit.ts"),
  tap: () => import("./cli/tap.ts"),
  query: () => import("./cli/query.ts"),
  agent: () => import("@eventstorm/agent/main"),
  demo: () => import("./cli/demo/main.ts"),
  keygen: () => import("./cli/keygen.ts"),
};

const SOURCES: Record<string, Loader> = {
  nginx: () => import("@eventstorm/source-nginx/main"),
  postfix: () => import("@eventstorm/source-postfix/main"),
  sshd: () => import("@eventstorm/source-sshd/main"),
  metrics: () => import("@eventstorm/source-metrics/main"),
  syslog: () => import("@eventstorm/source-syslog/main"),
  journald: () => import("@eventstorm/source-journald/main"),
  demo: () => import("@eventstorm/source-demo/main"),
};

const SINKS: Record<string, Loader> = {
  store: () => import("@eventstorm/sink-store/main"),
  mongodb: () => import("@eventstorm/sink-mongodb/main"),
  cassandra: () => import("@eventstorm/sink-cassandra/main"),
  file: () => import("@eventstorm/sink-file/main"),
  dashboard: () => import("@eventstorm/sink-dashboard/main"),
};

/** The summaries are the commands' own, so help needs every module: only help loads them all. */
async function table(group: Record<string, Loader>, prefix: string): Promise<string> {
  const names = Object.keys(group);
  const commands = await Promise.all(names.map(async (name) => (await group[name]()).command));
  return names.map((name, i) => `  ${prefix}${name.padEnd(11)}${commands[i].summary}`).join(
    "\n",
  );
}

async function help(): Promise<string> {
  const [commands, sources, sinks] = await Promise.all([
    table(COMMANDS, ""),
    table(SOURCES, "  "),
    table(SINKS, "  "),
  ]);
  return `eventstorm: event aggregation and storage on ZeroMQ

Usage: eventstorm COMMAND [FLAGS]    (every command has --help)

Commands:
${commands}
  source NAME   run a source:
${sources}
  sink NAME     run a sink:
${sinks}
`;
}

/**
 * Runs the `eventstorm` command line with `args` (without the program name) and
 * resolves to the exit code; bad commands throw {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * const code = await main(["--help"]); // prints the command list
 * console.log(code); // 0
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  // Asked for, help goes to stdout (exit 0); without a command it is a usage
  // error, so it goes to stderr with exit 2, as every usage error does.
  if (command === undefined) {
    console.error(await help());
    return 2;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(await help());
    return 0;
  }
  if (command === "source" || command === "sink") {
    const group = command === "source" ? SOURCES : SINKS;
    const [name, ...flags] = rest;
    if (name === undefined || name === "--help" || name === "-h") {
      const usage = `Usage: eventstorm ${command} NAME [FLAGS]\n\n${await table(group, "")}`;
      if (name !== undefined) {
        console.log(usage);
        return 0;
      }
      console.error(usage);
      return 2;
    }
    // Own names only: `eventstorm source constructor` must not find Object's.
    const entry = Object.hasOwn(group, name) ? group[name] : undefined;
    if (!entry) {
      throw new UsageError(
        `unknown ${command} '${name}' (one of: ${Object.keys(group).join(", ")})`,
      );
    }
    return (await entry()).command.main(flags);
  }
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry) throw new UsageError(`unknown command '${command}' (see eventstorm --help)`);
  return (await entry()).command.main(rest);
}

if (import.meta.main) await runCommand(() => main(Deno.args));
