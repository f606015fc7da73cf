/**
 * `eventstorm demo` (`deno task demo`): the whole pipeline on the embedded
 * defaults. A generator writes nginx, Postfix and sshd logs (rotated every
 * minute) under a directory; the real sources tail them and a host metrics source
 * samples this machine; a router fans them in; the embedded store and the live
 * dashboard take them out. It prints the dashboard's URL and a one-line rate.
 *
 * @module
 */
import { Collector, type CollectorStats } from "@eventstorm/core";
import {
  type Command,
  type FlagSpec,
  type FlagValues,
  formatCount,
  helpText,
  integerFlag,
  parseDuration,
  parseFlags,
  rate,
  shutdownSignal,
  UsageError,
} from "@eventstorm/core/cli";
import { Router } from "@eventstorm/router";
import { isLoopback, parseListen } from "@eventstorm/sink-dashboard";
import { NGINX_TIMED_FORMAT } from "./loggen.ts";
import { type DemoLogCounts, writeDemoLogs } from "./write_logs.ts";
import { PostfixTracker } from "@eventstorm/source-postfix";
import { SshdParser } from "@eventstorm/source-sshd";
import { ChildComponent } from "./child.ts";

const DEMO_FLAGS = {
  rate: {
    type: "string",
    value: "N",
    default: "500",
    help: "log entries written per second (80% nginx, 12% sshd, 8% Postfix messages)",
  },
  dir: {
    type: "string",
    value: "PATH",
    help:
      "where logs, checkpoints, the store and component logs go [default: a temporary directory, removed at the end]",
  },
  listen: {
    type: "string",
    value: "HOST:PORT",
    default: "127.0.0.1:8080",
    help: "where the dashboard serves its page (port 0 picks one)",
  },
  rotate: {
    type: "string",
    value: "DURATION",
    default: "1m",
    help: "how often the generated logs are rotated",
  },
  "sources-port": {
    type: "string",
    value: "PORT",
    default: "5555",
    help: "router port for sources (0: one the system picks, printed)",
  },
  "sinks-port": {
    type: "string",
    value: "PORT",
    default: "5556",
    help: "router port for sinks (0: one the system picks, printed)",
  },
  seconds: { type: "string", value: "N", help: "stop after N seconds [default: until Ctrl-C]" },
} as const satisfies Record<string, FlagSpec>;

/** The `eventstorm demo` command line. */
export const command: Command<typeof DEMO_FLAGS> = {
  name: "eventstorm demo",
  summary: "a demo pipeline: generated logs → real sources → router → store + live dashboard",
  flags: DEMO_FLAGS,
  epilog: `Examples:
  eventstorm demo
  eventstorm demo --rate 5000 --dir ./demo --listen 127.0.0.1:0 --seconds 60`,
  main: demoPipelineMain,
};

/** Topics whose every event comes from one generated line, so counts must match exactly. */
const EXACT = { access: "http.hit" } as const;

/**
 * What the Postfix and sshd lines written make, parsed here as the sources parse
 * them: transactions completed and login decisions.
 */
class Expected {
  transactions = 0;
  logins = 0;
  readonly #postfix = new PostfixTracker({ timeout: 3_600_000, deferredTimeout: 432_000_000 });
  readonly #sshd = new SshdParser();

  onLines(file: string, lines: string[]): void {
    const parser = file === "mail.log"
      ? this.#postfix
      : file === "auth.log"
      ? this.#sshd
      : undefined;
    if (!parser) return;
    const context = { path: file, host: "demo", readAt: new Date() };
    for (const line of lines) {
      for (const event of parser.parse(line, context) ?? []) {
        if (event.type === "smtp.transaction") this.transactions++;
        if (event.type === "ssh.login") this.logins++;
      }
    }
  }
}

/** Runs the demo pipeline; resolves with the exit code. */
async function demoPipelineMain(args: string[]): Promise<number> {
  const parsed = parseFlags(args, command);
  if (parsed.help) {
    console.log(helpText(command));
    return 0;
  }
  const values = parsed.values;
  const ratePerSecond = integerFlag(values, "rate", { min: 1, max: 1_000_000 });
  const sourcesPort = integerFlag(values, "sources-port", { min: 0, max: 65535 });
  const sinksPort = integerFlag(values, "sinks-port", { min: 0, max: 65535 });
  const seconds = integerFlag(values, "seconds", { min: 1 });
  const rotateEveryMs = parseDuration(values.rotate, "rotate");
  if (rotateEveryMs < 1000) throw new UsageError("--rotate must be 1s or more");
  if (sourcesPort !== 0 && sourcesPort === sinksPort) {
    throw new UsageError(`--sources-port and --sinks-port must differ, both are ${sourcesPort}`);
  }
  // Checked here, before anything starts, rather than by the dashboard once the
  // router and the store run (which made a bad --listen exit 1 after a stats line).
  const listen = values.listen;
  checkListen(listen);
  const givenDir = values.dir;
  const dir = givenDir ?? await Deno.makeTempDir({ prefix: "eventstorm-demo-" });
  // The temporary directory goes on every way out: done, stopped early or refused.
  try {
    return await runPipeline({
      values,
      dir,
      temporary: givenDir === undefined,
      ratePerSecond,
      sourcesPort,
      sinksPort,
      seconds,
      rotateEveryMs,
      listen,
    });
  } finally {
    if (givenDir === undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * `--listen` as the dashboard will take it, a usage error otherwise: a
 * `HOST:PORT`, on a loopback address (the demo gives the dashboard no token)
 * that can be bound now.
 */
function checkListen(listen: string): void {
  const { hostname, port } = parseListen(listen);
  if (!isLoopback(hostname)) {
    throw new UsageError(
      `--listen ${listen}: the demo's dashboard has no token, so it listens on a loopback address only`,
    );
  }
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname, port });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`--listen ${listen}: the address is already in use`);
    }
    throw new UsageError(`--listen ${listen}: ${(error as Error).message}`);
  }
  listener.close();
}

/** The demo's flags, read and checked. */
interface PipelineOptions {
  values: FlagValues<typeof DEMO_FLAGS>;
  dir: string;
  /** The directory is a temporary one, removed when the demo ends. */
  temporary: boolean;
  ratePerSecond: number;
  sourcesPort: number;
  sinksPort: number;
  seconds: number | undefined;
  rotateEveryMs: number;
  listen: string;
}

/** Runs the demo in `dir`; resolves with the exit code. */
async function runPipeline(options: PipelineOptions): Promise<number> {
  const { values, dir, ratePerSecond, sourcesPort, sinksPort, seconds, rotateEveryMs, listen } =
    options;
  try {
    for (const sub of ["logs", "state", "components"]) {
      await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
    }
  } catch (error) {
    // A --dir that cannot be made is a bad flag, not a failure of the demo.
    throw new UsageError(`--dir ${dir}: ${(error as Error).message}`);
  }
  const db = `${dir}/events.db`;

  const signal = shutdownSignal();
  const stop = new AbortController();
  signal.addEventListener("abort", () => stop.abort(), { once: true });
  const stopTimer = seconds ? setTimeout(() => stop.abort(), seconds * 1000) : undefined;

  const router = new Router({
    sources: [`@tcp://127.0.0.1:${sourcesPort || "*"}`],
    sinks: [`@tcp://127.0.0.1:${sinksPort || "*"}`],
    allow: [],
    deny: [],
    statsIntervalMs: 0,
    maxMessageSize: 16 << 20,
    sendHwm: 10_000,
    receiveHwm: 10_000,
  });
  const routing = router.run();
  // Port 0 lets the system pick: the components connect to what was bound.
  const bound = router.boundEndpoints();
  const toRouter = `>${bound.sources}`;
  const fromRouter = `>${bound.sinks}`;
  let tap: Collector | undefined;
  let tapping: Promise<void> | undefined;

  const components: ChildComponent[] = [];
  const start = (name: string, commandArgs: string[]) => {
    const child = ChildComponent.start(name, commandArgs, `${dir}/components/${name}.log`);
    components.push(child);
    return child;
  };
  let failed: ChildComponent | undefined;
  const sinks: ChildComponent[] = [];
  const sources: ChildComponent[] = [];
  let counts: DemoLogCounts | undefined;
  const expected = new Expected();
  let url: string | undefined;
  try {
    sinks.push(
      start("sink-store", [
        "sink",
        "store",
        "--db",
        db,
        "--from",
        fromRouter,
        "--stats-to",
        toRouter,
      ]),
    );
    await waitForFile(db, sinks[0]);
    const dashboard = start("sink-dashboard", [
      "sink",
      "dashboard",
      "--db",
      db,
      "--listen",
      listen,
      "--from",
      fromRouter,
    ]);
    sinks.push(dashboard);
    url = (await dashboard.firstStdoutLine(15_000))?.match(/^dashboard: (\S+)/)?.[1];
    if (url === undefined) throw new Error(await dashboard.failure("did not print its address"));
    // The tap counts what the router carries; it and both sinks must be listening
    // before the sources start, or their first events pass by unseen.
    tap = await Collector.open({ endpoints: fromRouter });
    const listening = tap;
    tapping = (async () => {
      for await (const _ of listening.batches()) { /* the collector counts them */ }
    })();
    await waitUntil(() => router.stats().subscriptions.includes(""), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const tail = (name: string, file: string, extra: string[] = []) =>
      start(`source-${name}`, [
        "source",
        name,
        "--file",
        `${dir}/logs/${file}`,
        "--from-start",
        "--checkpoint",
        `${dir}/state/${name}.json`,
        "--to",
        toRouter,
        ...extra,
      ]);
    sources.push(
      tail("nginx", "access.log", ["--format", NGINX_TIMED_FORMAT]),
      tail("postfix", "mail.log"),
      tail("sshd", "auth.log"),
      start("source-metrics", ["source", "metrics", "--interval", "5s", "--to", toRouter]),
    );
    const writing = writeDemoLogs({
      dir: `${dir}/logs`,
      ratePerSecond,
      rotateEveryMs,
      signal: stop.signal,
      generator: { nginxFormat: "timed" },
      onLines: (file, lines) => expected.onLines(file, lines),
    });

    console.log(`demo: dashboard at ${url}`);
    console.log(
      `demo: ${ratePerSecond} log entries/s into ${dir}/logs (rotated every ${values.rotate}), store ${db}`,
    );
    console.log(
      `demo: router on ${bound.sources} (sources) and ${bound.sinks} (sinks); ` +
        `try: deno run -A cli.ts tap --top${
          bound.sinks.endsWith(":5556") ? "" : ` --from '${fromRouter}'`
        }; Ctrl-C stops`,
    );

    const rateLine = new RateLine(listening);
    const ticker = setInterval(() => rateLine.tick(), 1000);
    failed = await Promise.race([
      ...components.map((child) => child.exited.then(() => child)),
      new Promise<undefined>((resolve) =>
        stop.signal.addEventListener("abort", () => resolve(undefined), { once: true })
      ),
    ]);
    clearInterval(ticker);
    rateLine.end();
    stop.abort();
    counts = await writing;
    if (failed === undefined) {
      // Stop only once the sources have read what was written: nothing is left behind.
      await waitUntil(() => {
        const stats = listening.stats();
        return received(stats, EXACT.access) >= counts!.access &&
          received(stats, "smtp.transaction") >= expected.transactions &&
          received(stats, "ssh.login") >= expected.logins;
      }, 15_000);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } catch (error) {
    failed ??= components.find((child) => child.done);
    if (failed === undefined) throw error;
  } finally {
    if (stopTimer !== undefined) clearTimeout(stopTimer);
    stop.abort();
    // Sources first, so the sinks still take what they flush on the way out.
    await Promise.all(sources.map((child) => child.stop()));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await Promise.all(sinks.map((child) => child.stop()));
    await tap?.close();
    await tapping;
    await router.close();
    await routing;
  }
  if (failed !== undefined) {
    console.error(`demo: ${await failed.failure("stopped early")}`);
    console.error(
      options.temporary
        ? "demo: pass --dir to keep what the components printed"
        : `demo: everything the components printed is in ${dir}/components`,
    );
    return 1;
  }
  const stats = tap!.stats();
  console.log(
    `demo: wrote ${counts!.access} nginx, ${counts!.mail} Postfix and ${counts!.auth} sshd lines (${
      counts!.rotations
    } rotations); the router carried ${stats.events} events, lost ${stats.lost}`,
  );
  const check = (what: string, want: number, topic: string) => {
    const got = received(stats, topic);
    return `${what} ${want} → ${got} ${topic}${got === want ? " ✓" : " ✗"}`;
  };
  console.log(
    `demo: ${check("nginx requests", counts!.access, "http.hit")}; ` +
      `${check("Postfix transactions", expected.transactions, "smtp.transaction")}; ` +
      `${check("sshd logins", expected.logins, "ssh.login")}`,
  );
  const unclean = components.filter((child) => child.code !== 0);
  for (const child of unclean) {
    console.error(`demo: ${await child.failure(`exited with code ${child.code}`)}`);
  }
  if (options.temporary) {
    // Removed by demoPipelineMain, on this way out as on the others.
    console.log("demo: the temporary directory is removed; pass --dir to keep logs and store");
  } else {
    console.log(
      `demo: look back with: deno run -A cli.ts query --db ${db} --type http. --since 1h --every 1m --measure count`,
    );
  }
  return unclean.length === 0 ? 0 : 1;
}

/** Events of `topic` this collector delivered. */
function received(stats: CollectorStats, topic: string): number {
  let total = 0;
  for (const stream of stats.streams) if (stream.topic === topic) total += stream.received;
  return total;
}

/** The one-line rate: rewritten in place on a terminal, a line every 10 s otherwise. */
class RateLine {
  readonly #tap: Collector;
  readonly #terminal = Deno.stdout.isTerminal();
  #previous: CollectorStats;
  #previousAt = performance.now();
  #ticks = 0;
  #width = 0;

  constructor(tap: Collector) {
    this.#tap = tap;
    this.#previous = tap.stats();
  }

  tick(): void {
    this.#ticks++;
    if (!this.#terminal && this.#ticks % 10 !== 0) return;
    const now = performance.now();
    const current = this.#tap.stats();
    const perTopic = new Map<string, number>();
    for (const stream of current.streams) {
      const top = stream.topic.split(".")[0];
      perTopic.set(top, (perTopic.get(top) ?? 0) + stream.received);
    }
    const line = `demo: ${
      formatCount(rate(current.events, this.#previous.events, now - this.#previousAt))
    } ev/s, ${current.events} events, lost ${current.lost} | ${
      [...perTopic].filter(([, n]) => n > 0).sort().map(([topic, n]) => `${topic} ${n}`).join(", ")
    }`;
    this.#previous = current;
    this.#previousAt = now;
    if (this.#terminal) {
      Deno.stdout.writeSync(
        new TextEncoder().encode(`\r${line.padEnd(this.#width)}`),
      );
      this.#width = line.length;
    } else {
      console.log(line);
    }
  }

  end(): void {
    if (this.#terminal && this.#width > 0) console.log();
  }
}

async function waitForFile(path: string, writer: ChildComponent): Promise<void> {
  await waitUntil(async () => {
    if (writer.done) throw new Error(await writer.failure("stopped before creating its file"));
    try {
      await Deno.stat(path);
      return true;
    } catch {
      return false;
    }
  }, 15_000);
}

async function waitUntil(condition: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition()) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
