/**
 * Shared helpers of the cross-component tests.
 *
 * @module
 */
import { Collector, type CollectorOptions, Emitter, type EmitterOptions } from "@eventstorm/core";
import { Router, type RouterConfig } from "@eventstorm/router";
import { EventStore } from "@eventstorm/sink-store";

import { join } from "node:path";
import type { StatementSync } from "node:sqlite";
import { waitFor } from "./wait.ts";
export { sleep, waitFor } from "./wait.ts";
export { type TempDir, tempDir } from "./temp.ts";

/**
 * Where a build script keeps what it built between runs: `$variable` when set,
 * else `name` in the user's cache directory, as the scripts themselves choose.
 */
export function buildCache(variable: string, name: string): string {
  return Deno.env.get(variable) ??
    join(Deno.env.get("XDG_CACHE_HOME") ?? join(Deno.env.get("HOME") ?? "/root", ".cache"), name);
}

/**
 * A loopback TCP port nothing listens on, for a peer that is down: port 1 (tcpmux)
 * is privileged and unused, whereas a freed port may be taken meanwhile by another
 * test's listener (scripts/nginx.sh's dead upstream uses it for the same reason).
 */
export const DEAD_PORT = 1;

/** Below this the kernel gives no port of its own (port 0, an outgoing connection's local port). */
const EPHEMERAL_LOW = (() => {
  try {
    return Number(Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").split(/\s+/)[0]);
  } catch {
    return 32768;
  }
})();

/**
 * A TCP port that was free a moment ago, for a server another process binds later
 * (nginx, a database). Picked below the kernel's ephemeral range: a port 0 gave is the
 * kernel's to give again, and with the whole suite running, a connection made before the
 * server binds it could take it as its local port.
 */
export function freePort(): number {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (EPHEMERAL_LOW - 10_000));
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (error) {
      if (
        !(error instanceof Deno.errors.AddrInUse) &&
        !(error instanceof Deno.errors.PermissionDenied)
      ) {
        throw error;
      }
    }
  }
}

/** A collector whose events are gathered into an array in the background. */
export async function gather(options: CollectorOptions): Promise<{
  collector: Collector;
  events: Record<string, unknown>[];
  stop: () => Promise<void>;
}> {
  const collector = await Collector.open(options);
  const events: Record<string, unknown>[] = [];
  const loop = (async () => {
    for await (const batch of collector.batches()) events.push(...batch.events);
  })();
  return {
    collector,
    events,
    stop: async () => {
      await collector.close();
      await loop;
    },
  };
}

/** Opens an emitter. */
export function emitter(options: EmitterOptions): Promise<Emitter> {
  return Emitter.open(options);
}

/** Path of the `eventstorm` command's entry point, for `deno run -A CLI …`. */
export const CLI: string = new URL("../cli.ts", import.meta.url).pathname;

/** Runs `deno run -A cli.ts ARGS` as a child process. */
export function cli(
  args: string[],
  options: { stdin?: "piped" | "null"; env?: Record<string, string> } = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
}

/**
 * Runs `deno run -A MAIN ARGS` as a child process (with `env` added to this
 * one's), its stderr gathered as it comes (stdout discarded); `stop` signals it
 * and resolves with its status once stderr is drained.
 */
export function stderrChild(main: string, args: string[], env?: Record<string, string>): {
  child: Deno.ChildProcess;
  stderr: () => string;
  stop: (signal?: Deno.Signal) => Promise<Deno.CommandStatus>;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env,
  }).spawn();
  let stderr = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  return {
    child,
    stderr: () => stderr,
    stop: async (signal: Deno.Signal = "SIGTERM") => {
      try {
        child.kill(signal);
      } catch {
        // It has exited already.
      }
      const status = await child.status;
      await reading;
      return status;
    },
  };
}

/**
 * `eventstorm source syslog --listen LISTEN --to TO --no-checkpoint` (and `--stats-interval
 * 0s` unless `extra` sets it) as a child; resolves once it has said where it listens, with
 * `port` the UDP or TCP port it bound (port 0 picks one; NaN for a Unix socket).
 */
export async function syslogSource(
  listen: string,
  to: string,
  extra: string[] = [],
): Promise<ReturnType<typeof stderrChild> & { port: number }> {
  const stats = extra.includes("--stats-interval") ? [] : ["--stats-interval", "0s"];
  const source = stderrChild(CLI, [
    ...["source", "syslog", "--listen", listen, "--to", to, "--no-checkpoint"],
    ...stats,
    ...extra,
  ]);
  try {
    await waitFor(() => source.stderr().includes("listening on"), "source syslog", 60_000);
  } catch (error) {
    await source.stop("SIGKILL");
    throw new Error(`${(error as Error).message}\n${source.stderr()}`);
  }
  const port = Number(/listening on (?:udp|tcp):\/\/\S*?:(\d+)/.exec(source.stderr())?.[1]);
  return { ...source, port };
}

/** Reads a child's whole stdout and stderr as text after it exits. */
export async function finish(
  child: Deno.ChildProcess,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * A child whose stdout and stderr are read as they come, so a test can wait on
 * what it printed (`said`) and still get all of it when it exits (`finish`).
 */
export function watch(child: Deno.ChildProcess): {
  child: Deno.ChildProcess;
  stdout: () => string;
  stderr: () => string;
  said: (pattern: RegExp, what?: string) => Promise<void>;
  finish: () => Promise<{ code: number; stdout: string; stderr: string }>;
} {
  let stdout = "";
  let stderr = "";
  const pump = async (stream: ReadableStream<BufferSource>, add: (text: string) => void) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) add(text);
  };
  const done = Promise.all([
    pump(child.stdout, (text) => stdout += text),
    pump(child.stderr, (text) => stderr += text),
  ]).then(async () => ({ code: (await child.status).code, stdout, stderr }));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    said: (pattern, what = String(pattern)) =>
      waitFor(() => pattern.test(stderr), `${what}; stderr so far: ${stderr}`),
    finish: () => done,
  };
}

/**
 * `eventstorm ARGS` under `prlimit --nofile=LIMIT`, watched: a low limit lets a few
 * hundred connections exhaust its file descriptors, as thousands do on a real host.
 */
export function cliWithFdLimit(limit: number, args: string[]): ReturnType<typeof watch> {
  return watch(
    new Deno.Command("prlimit", {
      args: [`--nofile=${limit}`, Deno.execPath(), "run", "-A", CLI, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn(),
  );
}

/** A router config on loopback with free ports, no stats timer, and `overrides`. */
export function routerConfig(overrides: Partial<RouterConfig> = {}): RouterConfig {
  return {
    sources: ["@tcp://127.0.0.1:*"],
    sinks: ["@tcp://127.0.0.1:*"],
    allow: [],
    deny: [],
    statsIntervalMs: 0,
    maxMessageSize: 16 << 20,
    sendHwm: 1000,
    receiveHwm: 1000,
    ...overrides,
  };
}

/** Runs an in-process router; `sources` and `sinks` are connect endpoints to it. */
export function startRouter(
  overrides: Partial<RouterConfig> = {},
  print: (line: string) => void = () => {},
): { router: Router; sources: string; sinks: string; stop: () => Promise<void> } {
  const router = new Router(routerConfig(overrides), { print });
  const running = router.run();
  const { sources, sinks } = router.boundEndpoints();
  return {
    router,
    sources: `>${sources}`,
    sinks: `>${sinks}`,
    stop: async () => {
      await router.close();
      await running;
    },
  };
}

/** A router child process and the endpoints it reported binding. */
export interface RouterChild {
  /** The process (its stderr is drained by the helper; read it through `finish`). */
  child: Deno.ChildProcess;
  /** Connect endpoint of its sources side (`>tcp://127.0.0.1:PORT`). */
  sources: string;
  /** Connect endpoint of its sinks side. */
  sinks: string;
  /** The ports it bound, to bind the same ones again after a restart. */
  ports: { sources: number; sinks: number };
  /** Waits for it to exit; everything it printed, the endpoint line included. */
  finish(): Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * Runs `eventstorm router` as a child process (to stop it with signals) on loopback,
 * by default on ports the kernel picks (`:*`), and resolves once it says where it
 * listens: no free-port guess that another process can take first.
 */
export async function routerProcess(
  args: string[] = [],
  ports: { sources: number | "*"; sinks: number | "*" } = { sources: "*", sinks: "*" },
): Promise<RouterChild> {
  const child = cli([
    "router",
    ...["--sources", `@tcp://127.0.0.1:${ports.sources}`],
    ...["--sinks", `@tcp://127.0.0.1:${ports.sinks}`],
    ...args,
  ]);
  const { sources, sinks, stderr } = await routerListening(child);
  const stdout = new Response(child.stdout).text();
  return {
    child,
    sources: `>${sources}`,
    sinks: `>${sinks}`,
    ports: { sources: portOf(sources), sinks: portOf(sinks) },
    finish: async () => {
      const status = await child.status;
      return { code: status.code, stdout: await stdout, stderr: await stderr() };
    },
  };
}

/** The port of a bound endpoint (`tcp://127.0.0.1:40123`), as `boundEndpoint()` reports it. */
export function portOf(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));
}

/**
 * Starts the project's router as its own process (`cli.ts router`) on loopback ports it
 * picks, with `extra` flags; `sources` and `sinks` are connect endpoints (`>tcp://…`) to it.
 */
export async function startRouterProcess(extra: string[] = []): Promise<{
  sources: string;
  sinks: string;
  pid: number;
  stop: () => Promise<void>;
}> {
  const router = await routerProcess(["--stats-interval", "0s", ...extra]);
  return {
    sources: router.sources,
    sinks: router.sinks,
    pid: router.child.pid,
    stop: async () => {
      router.child.kill("SIGTERM");
      await router.finish();
    },
  };
}

/**
 * Waits until a router child process says where it listens (its
 * `router: sources tcp://…, sinks tcp://…` line) and keeps draining its stderr, so
 * it never blocks on a full pipe; `stderr()` resolves to all of it once it exits.
 */
export async function routerListening(child: Deno.ChildProcess): Promise<{
  sources: string;
  sinks: string;
  stderr: () => Promise<string>;
}> {
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let bound: RegExpMatchArray | null = null;
  while (!(bound = seen.match(/router: sources (\S+), sinks (\S+)\n/))) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`router exited: ${seen}`);
    seen += value;
  }
  const drained = (async () => {
    for (let r; !(r = await reader.read().catch(() => ({ done: true as const }))).done;) {
      seen += r.value;
    }
    return seen;
  })();
  return { sources: bound[1], sinks: bound[2], stderr: () => drained };
}

/**
 * Reads the `seq` of the last event the store at `db` holds, 0 while it has none: a
 * fresh store numbers its rows from 1, so while nothing is deleted this is the
 * count. Read from the primary key's end, it costs the same at any size, where
 * `storedCount` scans an index (70 ms at 500,000 rows); and through one read-only
 * connection, opened once the database exists and kept, so a bench can poll every
 * few milliseconds beside the pipeline it times. (Between reads the connection
 * holds no lock: the writer's checkpoints can still start the WAL over.)
 */
export class StoredSeqPoller implements Disposable {
  #store: EventStore | undefined;
  #last: StatementSync | undefined;

  constructor(readonly db: string) {}

  /** The `seq` of the last event stored, 0 while there is none (or no database yet). */
  read(): number {
    try {
      if (this.#last === undefined) {
        const store = EventStore.open(this.db, { readOnly: true });
        try {
          this.#last = store.database.prepare("SELECT max(seq) AS n FROM events");
        } catch (error) {
          store.close(); // the next read opens it again
          throw error;
        }
        this.#store = store;
      }
      return (this.#last.get() as { n: number | null }).n ?? 0;
    } catch {
      return 0;
    }
  }

  [Symbol.dispose](): void {
    this.#store?.close();
    this.#store = this.#last = undefined;
  }
}

/** Events in the store database at `db` now, 0 while it does not exist yet. */
export function storedCount(db: string): number {
  return readStore(db, (store) => store.count());
}

/** Events of `type` in the store database at `db` now, 0 while it does not exist yet. */
export function storedCountOf(db: string, type: string): number {
  return readStore(db, (store) => {
    const count = store.database.prepare("SELECT count(*) AS n FROM events WHERE type = ?");
    return (count.get(type) as { n: number }).n;
  });
}

/** What `read` finds in the store at `db`, opened read-only for it; 0 while there is none. */
function readStore(db: string, read: (store: EventStore) => number): number {
  try {
    const store = EventStore.open(db, { readOnly: true });
    try {
      return read(store);
    } finally {
      store.close();
    }
  } catch {
    return 0;
  }
}
