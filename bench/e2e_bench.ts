/**
 * End to end: an nginx `combined` log file → `source nginx` → router → `sink store`,
 * each its own process, timed from the source's start until the store holds every
 * event, with 0 lost: once with the V8 flags of each component's systemd unit
 * (deploy/systemd; the source as the agent runs it), once with V8's defaults, and
 * their ratio. Beside the rate it prints each component's CPU per event and the
 * rate the machine's cores would allow were they all busy with the pipeline (where
 * the time goes), the router's and the sink's by thread, and each component's peak
 * RSS (sampled from /proc every 250 ms), the source's against its memory target (the
 * sink's target is at a steady rate, bench/steady_bench.ts: here it takes the burst
 * into its buffer).
 *
 *   deno run -A bench/e2e_bench.ts [--lines N] [--keep]
 *
 * On the 2-core machine the source, the router and the sink share two cores (and
 * the store sink writes to disk), so the figure is what one small host sustains.
 * The router runs with `--when-full block`, as where nothing may be lost: the source
 * reads faster than the sink stores, and a longer log (`--lines`) than its buffer and
 * the queues hold would otherwise be dropped at the router, counted by the sink.
 *
 * @module
 */
import { benchArgs } from "./args.ts";
import { join } from "node:path";
import { nginxLog } from "../cli/demo/nginx_lines.ts";
import {
  cpuSecondsOf,
  deployedPipeline,
  memoryOf,
  type PipelineV8Flags,
  threadCpuOf,
  V8_DEFAULTS,
} from "./memory.ts";
import { storedCount, StoredSeqPoller } from "../tests/helpers.ts";
import { freeLoopbackPort } from "./sample.ts";
import { verdict } from "./verdict.ts";

const args = benchArgs("deno run -A bench/e2e_bench.ts [--lines N] [--keep]", {
  options: {
    lines: { type: "string", default: "500000" },
    keep: { type: "boolean", default: false },
  },
});
const count = Number(args.values.lines);
if (!Number.isInteger(count) || count < 1) {
  console.error("--lines must be a positive whole number");
  Deno.exit(2);
}

const TARGET_EVENTS_PER_SECOND = 250_000;
const SOURCE_RSS_MB = 80;
const SINK_RSS_MB = 150;
const cli = new URL("../cli.ts", import.meta.url).pathname;

/**
 * Starts `eventstorm ARGV`. A `timed` process runs under bash, whose `times` then prints
 * the CPU it used as the last line of its stderr: the source exits before the bench could
 * read its /proc entry.
 */
function spawn(argv: string[], v8Flags: string | undefined, timed = false): Deno.ChildProcess {
  const command = [Deno.execPath(), "run", "-A", cli, ...argv];
  return new Deno.Command(timed ? "bash" : command[0], {
    args: timed
      ? ["-c", '"$@"; status=$?; times >&2; exit $status', "bash", ...command]
      : command.slice(1),
    env: v8Flags === undefined ? undefined : { DENO_V8_FLAGS: v8Flags },
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/** The first child of process `pid`, if it has one. */
function childOf(pid: number): number | undefined {
  try {
    const children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
    return children === "" ? undefined : Number(children.split(" ")[0]);
  } catch {
    return undefined;
  }
}

/** The CPU seconds of bash's children in the output of its `times`: "0m1.25s 0m0.10s". */
function childrenCpuSeconds(line: string): number {
  const [user, system] = [...line.matchAll(/(\d+)m([\d.]+)s/g)].slice(-2)
    .map(([, minutes, seconds]) => Number(minutes) * 60 + Number(seconds));
  return user + system;
}

function lastLine(bytes: Uint8Array, fromEnd = 0): string {
  const lines = new TextDecoder().decode(bytes).trim().split("\n");
  return lines[lines.length - 1 - fromEnd] ?? "";
}

/** The CPU seconds each kind of thread used from `before` to `after` (threadCpuOf). */
function threadsSince(before: Map<string, number>, after: Map<string, number>) {
  return new Map([...after].map(([kind, seconds]) => [kind, seconds - (before.get(kind) ?? 0)]));
}

/** One run of the pipeline with `v8` flags; returns the events/s stored. */
async function runCase(label: string, v8: PipelineV8Flags): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "e2e_bench_" });
  console.log(`-- ${label}`);
  let rate = 0;
  try {
    const log = join(dir, "access.log");
    const db = join(dir, "events.db");
    await nginxLog({ seed: 7 }).writeFile(log, count);
    const size = (await Deno.stat(log)).size;
    console.log(
      `e2e: ${count.toLocaleString("en")} combined lines (${(size / 1e6).toFixed(1)} MB): ` +
        `source nginx → router → sink store, each its own process`,
    );
    const [sources, sinks] = [freeLoopbackPort(), freeLoopbackPort()];
    const router = spawn([
      "router",
      "--sources",
      `@tcp://127.0.0.1:${sources}`,
      "--sinks",
      `@tcp://127.0.0.1:${sinks}`,
      "--stats-interval",
      "1h",
      "--when-full",
      "block",
    ], v8.router);
    const sink = spawn([
      "sink",
      "store",
      "--db",
      db,
      "--from",
      `>tcp://127.0.0.1:${sinks}`,
      "--stats-interval",
      "1h",
      "--stats-to",
      "none",
    ], v8.sink);
    // The sink creates its database once it runs; the source starts after that, so
    // the clock measures the pipeline, not the sink's start-up.
    const ready = Date.now() + 60_000;
    while (Date.now() < ready) {
      try {
        await Deno.stat(db);
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const cpuBefore = {
      router: await cpuSecondsOf(router.pid),
      sink: await cpuSecondsOf(sink.pid),
    };
    const threadsBefore = {
      router: await threadCpuOf(router.pid),
      sink: await threadCpuOf(sink.pid),
    };
    const started = performance.now();
    const source = spawn(
      [
        "source",
        "nginx",
        "--file",
        log,
        "--once",
        "--no-checkpoint",
        "--to",
        `>tcp://127.0.0.1:${sources}`,
        "--stats-interval",
        "0s",
      ],
      v8.source,
      true,
    );
    const peak = { source: 0, router: 0, sink: 0 };
    const own = { source: 0, router: 0, sink: 0 };
    const sample = () => {
      // The source is bash's child (see spawn).
      const pids = [["source", childOf(source.pid)], ["router", router.pid], ["sink", sink.pid]];
      for (const [name, pid] of pids as [keyof typeof peak, number | undefined][]) {
        if (pid === undefined) continue;
        const memory = memoryOf(pid);
        peak[name] = Math.max(peak[name], memory.rss);
        own[name] = Math.max(own[name], memory.private);
      }
    };
    const sampler = setInterval(sample, 250);
    const sourceOutput = source.output();
    let stored = 0;
    let lastChange = performance.now();
    let finishedAt = started;
    let firstAt = 0;
    let firstStored = 0;
    // Until every event is stored, or nothing new was stored for 10 s; read cheaply (see
    // StoredSeqPoller), as it runs on the cores the pipeline does.
    using poller = new StoredSeqPoller(db);
    while (stored < count && performance.now() - lastChange < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const now = poller.read();
      if (now !== stored) {
        if (stored === 0) [firstAt, firstStored] = [performance.now(), now];
        stored = now;
        lastChange = finishedAt = performance.now();
      }
    }
    clearInterval(sampler);
    // The rows themselves, once the clock has stopped.
    stored = storedCount(db);
    const cpu = {
      router: await cpuSecondsOf(router.pid) - cpuBefore.router,
      sink: await cpuSecondsOf(sink.pid) - cpuBefore.sink,
      source: 0,
    };
    const threads = {
      router: threadsSince(threadsBefore.router, await threadCpuOf(router.pid)),
      sink: threadsSince(threadsBefore.sink, await threadCpuOf(sink.pid)),
    };
    // The source's stats line, then the two lines of bash's `times` (its own, its children's).
    const sourceErr = (await sourceOutput).stderr;
    const sourceLine = lastLine(sourceErr, 2);
    cpu.source = childrenCpuSeconds(lastLine(sourceErr));
    sink.kill("SIGTERM");
    const sinkLine = lastLine((await sink.output()).stderr);
    router.kill("SIGTERM");
    const routerLine = lastLine((await router.output()).stderr);
    const seconds = (finishedAt - started) / 1000;
    rate = Math.round(stored / seconds);
    const lost = Number(/lost(?: on wire)? (\d+)/.exec(sinkLine)?.[1] ?? NaN);
    // Events the sink gave up on (its buffer full) are counted there, not as lost.
    const dropped = Number(/dropped (\d+)/.exec(sinkLine)?.[1] ?? NaN);
    console.log(`source: ${sourceLine}`);
    console.log(`router: ${routerLine}`);
    console.log(`sink:   ${sinkLine}`);
    console.log(
      `e2e nginx → store: ${rate.toLocaleString("en")} ev/s stored (${
        stored.toLocaleString("en")
      } of ${count.toLocaleString("en")} in ${seconds.toFixed(1)} s, startup included), ` +
        `lost ${lost}, dropped by the sink ${dropped}; target ≥ ${
          TARGET_EVENTS_PER_SECOND.toLocaleString("en")
        } ev/s with 0 lost: ${
          verdict(
            rate >= TARGET_EVENTS_PER_SECOND && stored === count && lost === 0 && dropped === 0,
          )
        }`,
    );
    // How much of the run was start-up: the source's Deno starting, reading its first
    // lines, and the first batch's way to the store.
    if (firstAt > 0 && finishedAt > firstAt) {
      console.log(
        `e2e first events stored ${((firstAt - started) / 1000).toFixed(2)} s after the source ` +
          `started; from then on ${
            Math.round((stored - firstStored) / ((finishedAt - firstAt) / 1000))
              .toLocaleString("en")
          } ev/s`,
      );
    }
    // Where the time goes: every stage's CPU per event, and the rate the machine's cores
    // would allow were they all busy all the time.
    const perEvent = (seconds: number) => seconds / stored * 1e6;
    const total = perEvent(cpu.source + cpu.router + cpu.sink);
    const cores = navigator.hardwareConcurrency;
    console.log(
      `e2e CPU per event: source ${perEvent(cpu.source).toFixed(1)} µs, router ${
        perEvent(cpu.router).toFixed(1)
      } µs, sink ${perEvent(cpu.sink).toFixed(1)} µs; ${total.toFixed(1)} µs in all, so ` +
        `${cores} cores busy all the time would store at most ${
          Math.round(cores / total * 1e6).toLocaleString("en")
        } ev/s`,
    );
    // Within the router and the sink.
    for (const [name, kinds] of Object.entries(threads)) {
      const parts = [...kinds].filter(([, seconds]) => perEvent(seconds) >= 0.05)
        .sort(([, a], [, b]) => b - a)
        .map(([kind, seconds]) => `${kind} ${perEvent(seconds).toFixed(1)} µs`);
      const note = name === "sink"
        ? " (its Web Workers are the store's SQLite writer and checkpoint threads)"
        : "";
      console.log(`e2e ${name} CPU per event by thread${note}: ${parts.join(", ")}`);
    }
    // The source outruns the sink, which takes the backlog into its buffer (bounded by
    // --buffer and --buffer-bytes) before the router and the source wait for it: its peak
    // here is its steady memory plus that buffer.
    console.log(
      `e2e peak RSS: source ${peak.source.toFixed(0)} MB (target ≤ ${SOURCE_RSS_MB}: ${
        verdict(peak.source <= SOURCE_RSS_MB)
      }), router ${peak.router.toFixed(0)} MB, sink ${
        peak.sink.toFixed(0)
      } MB (a burst, which its buffer takes in: up to 100,000 events or 64 MiB of them by ` +
        `default; the sink's target, ≤ ${SINK_RSS_MB} MB, is at a steady rate: deno task bench steady)`,
    );
    // RSS counts the deno executable's touched pages, shared by every Deno process.
    console.log(
      `e2e peak private memory (RSS without shared pages): source ${own.source.toFixed(0)} MB, ` +
        `router ${own.router.toFixed(0)} MB, sink ${own.sink.toFixed(0)} MB`,
    );
  } finally {
    if (args.values.keep) console.log(`kept ${dir}`);
    else await Deno.remove(dir, { recursive: true });
  }
  return rate;
}

// As deployed, then V8's defaults everywhere as the baseline, in the same run.
const deployed = deployedPipeline();
const asDeployed = await runCase(deployed.label, deployed.flags);
const defaults = await runCase("V8 defaults everywhere", V8_DEFAULTS);
console.log(`e2e as the units run them / with V8 defaults: ${(asDeployed / defaults).toFixed(2)}`);
