/**
 * Shared helpers of the cross-component tests.
 *
 * @module
 */
import { Collector, type CollectorOptions, Emitter, type EmitterOptions } from "@eventstorm/core";
import { Router, type RouterConfig } from "@eventstorm/router";
import { EventStore } from "@eventstorm/sink-store";

export { sleep, waitFor } from "./wait.ts";
export { type TempDir, tempDir } from "./temp.ts";

/** A TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
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

/** Runs `deno run -A cli.ts ARGS` as a child process. */
export function cli(
  args: string[],
  options: { stdin?: "piped" | "null"; env?: Record<string, string> } = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli.ts", import.meta.url).pathname, ...args],
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
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

/** Runs `eventstorm router` as a child process on free loopback ports (to stop it with signals). */
export function routerProcess(args: string[] = []): {
  child: Deno.ChildProcess;
  sources: string;
  sinks: string;
} {
  const sourcesPort = freePort();
  const sinksPort = freePort();
  const child = cli([
    "router",
    "--sources",
    `@tcp://127.0.0.1:${sourcesPort}`,
    "--sinks",
    `@tcp://127.0.0.1:${sinksPort}`,
    ...args,
  ]);
  return {
    child,
    sources: `>tcp://127.0.0.1:${sourcesPort}`,
    sinks: `>tcp://127.0.0.1:${sinksPort}`,
  };
}

/**
 * Starts the project's router as its own process (`cli.ts router`) on free loopback ports,
 * with `extra` flags; `sources` and `sinks` are connect endpoints (`>tcp://…`) to it.
 */
export async function startRouterProcess(extra: string[] = []): Promise<{
  sources: string;
  sinks: string;
  stop: () => Promise<void>;
}> {
  const { child, sources, sinks } = routerProcess(["--stats-interval", "0s", ...extra]);
  (await routerListening(child)).releaseLock();
  return {
    sources,
    sinks,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
      await child.stderr.cancel().catch(() => {});
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/**
 * Waits until a router child process says it listens (its `sinks tcp://…` line);
 * returns the reader of its stderr, to release or to keep draining.
 */
export async function routerListening(
  child: Deno.ChildProcess,
): Promise<ReadableStreamDefaultReader<string>> {
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("sinks tcp://")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`router exited: ${seen}`);
    seen += value;
  }
  return reader;
}

/** Events in the store database at `db` now, 0 while it does not exist yet. */
export function storedCount(db: string): number {
  try {
    const store = EventStore.open(db, { readOnly: true });
    try {
      return store.count();
    } finally {
      store.close();
    }
  } catch {
    return 0;
  }
}
