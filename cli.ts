/**
 * `eventstorm`: one command over every component.
 *
 * @module
 */
import { runCommand, UsageError } from "@eventstorm/core/cli";

type Main = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Main> }> = {
  router: {
    summary: "forward events from sources to sinks, filtered by topic",
    load: async () => (await import("@eventstorm/router/main")).routerMain,
  },
  emit: {
    summary: "send JSON lines from stdin as events",
    load: async () => (await import("./cli/emit.ts")).emitMain,
  },
  tap: {
    summary: "print events from a router, or their rates and losses",
    load: async () => (await import("./cli/tap.ts")).tapMain,
  },
  query: {
    summary: "query the embedded store: events, or aggregates in time buckets",
    load: async () => (await import("@eventstorm/sink-store/query")).queryMain,
  },
  agent: {
    summary: "run every input of a TOML config in one process (one agent per host)",
    load: async () => (await import("@eventstorm/agent/main")).agentMain,
  },
  demo: {
    summary: "run a demo pipeline on the embedded defaults",
    load: async () => (await import("./cli/demo.ts")).demoPipelineMain,
  },
  keygen: {
    summary: "make a CURVE key pair: NAME (public) and NAME_secret (mode 0600)",
    load: async () => (await import("./cli/keygen.ts")).keygenMain,
  },
};

const SOURCES: Record<string, { summary: string; load: () => Promise<Main> }> = {
  nginx: {
    summary: "nginx access log in any log_format: one http.hit per request",
    load: async () => {
      const [{ runFileSourceMain }, { nginxCommand }] = await Promise.all([
        import("@eventstorm/core/source"),
        import("@eventstorm/source-nginx/main"),
      ]);
      return (args) => runFileSourceMain(args, nginxCommand);
    },
  },
  postfix: {
    summary: "Postfix mail log: one smtp.transaction per message, rejects, deferrals",
    load: async () => {
      const [{ runFileSourceMain }, { postfixCommand }] = await Promise.all([
        import("@eventstorm/core/source"),
        import("@eventstorm/source-postfix/main"),
      ]);
      return (args) => runFileSourceMain(args, postfixCommand);
    },
  },
  sshd: {
    summary: "sshd logins (accepted, failed, invalid user) from auth.log",
    load: async () => {
      const [{ runFileSourceMain }, { sshdCommand }] = await Promise.all([
        import("@eventstorm/core/source"),
        import("@eventstorm/source-sshd/main"),
      ]);
      return (args) => runFileSourceMain(args, sshdCommand);
    },
  },
  metrics: {
    summary: "host metrics: cpu, memory, disk, load, net",
    load: async () => (await import("@eventstorm/source-metrics/main")).metricsMain,
  },
  syslog: {
    summary: "syslog over UDP/TCP/Unix routed to the nginx, Postfix and sshd parsers",
    load: async () => (await import("@eventstorm/source-syslog/main")).syslogMain,
  },
  journald: {
    summary: "the systemd journal: sshd and Postfix entries, with a cursor checkpoint",
    load: async () => (await import("@eventstorm/source-journald/main")).journaldMain,
  },
  demo: {
    summary: "generated HTTP, SSH and host events",
    load: async () => (await import("@eventstorm/source-demo/main")).demoMain,
  },
};

const SINKS: Record<string, { summary: string; load: () => Promise<Main> }> = {
  store: {
    summary: "embedded SQLite store (the default)",
    load: async () => (await import("@eventstorm/sink-store/main")).storeMain,
  },
  mongodb: {
    summary: "MongoDB (or FerretDB): one collection per event type, or one for all",
    load: async () => (await import("@eventstorm/sink-mongodb/main")).mongodbMain,
  },
  cassandra: {
    summary: "Apache Cassandra: time-bucketed partitions per event type",
    load: async () => (await import("@eventstorm/sink-cassandra/main")).cassandraMain,
  },
  file: {
    summary: "archive files: rolling .bson (mongodump) or .jsonl segments per type",
    load: async () => (await import("@eventstorm/sink-file/main")).fileSinkMain,
  },
  dashboard: {
    summary: "live graphs of rates and fields in a browser",
    load: async () => (await import("@eventstorm/sink-dashboard/main")).dashboardMain,
  },
};

function table(commands: Record<string, { summary: string }>, prefix: string): string {
  const names = Object.keys(commands);
  const width = Math.max(...names.map((name) => name.length), 8) + 2;
  return names.map((name) => `  ${prefix}${name.padEnd(width)}${commands[name].summary}`).join(
    "\n",
  );
}

const HELP = `eventstorm: event aggregation and storage on ZeroMQ

Usage: eventstorm COMMAND [FLAGS]    (every command has --help)

Commands:
${table(COMMANDS, "")}
  source NAME   run a source:
${table(SOURCES, "  ")}
  sink NAME     run a sink:
${table(SINKS, "  ")}
`;

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
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === "source" || command === "sink") {
    const group = command === "source" ? SOURCES : SINKS;
    const [name, ...flags] = rest;
    if (name === undefined || name === "--help" || name === "-h") {
      console.log(`Usage: eventstorm ${command} NAME [FLAGS]\n\n${table(group, "")}`);
      return name === undefined ? 2 : 0;
    }
    const entry = group[name];
    if (!entry) {
      throw new UsageError(
        `unknown ${command} '${name}' (one of: ${Object.keys(group).join(", ")})`,
      );
    }
    return (await entry.load())(flags);
  }
  const entry = COMMANDS[command];
  if (!entry) throw new UsageError(`unknown command '${command}' (see eventstorm --help)`);
  return (await entry.load())(rest);
}

if (import.meta.main) await runCommand(() => main(Deno.args));
