/**
 * Memory at a steady rate, issue 12's scenario: an nginx log written at a steady
 * rate (70,000 lines/s) → `source nginx` → router → `sink store`, each its own
 * process, for a while (120 s), once with the V8 flags of each component's
 * systemd unit (deploy/systemd; the source as the agent runs it) and once with
 * V8's defaults. Prints each component's peak RSS and
 * private memory (bench/memory.ts) against the targets (a source ≤ 80 MB, a sink
 * ≤ 150 MB), the RSS at the start and end of the second half (flat or not), and
 * whether every line was stored.
 *
 *   deno run -A bench/steady_bench.ts [--seconds 120] [--rate 70000]
 *
 * @module
 */
import { benchArgs } from "./args.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { nginxLog } from "../cli/demo/nginx_lines.ts";
import { deployedPipeline, memoryOf, V8_DEFAULTS } from "./memory.ts";
import { freeLoopbackPort } from "./sample.ts";
import { verdict } from "./verdict.ts";

const args = benchArgs("deno run -A bench/steady_bench.ts [--seconds 120] [--rate 70000]", {
  options: {
    seconds: { type: "string", default: "120" },
    rate: { type: "string", default: "70000" },
  },
});
const seconds = Number(args.values.seconds);
const rate = Number(args.values.rate);
if (!(seconds >= 10) || !(rate >= 100)) {
  console.error("--seconds must be at least 10 and --rate at least 100");
  Deno.exit(2);
}
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE_MB = 80;
const SINK_MB = 150;

const NAMES = ["source", "router", "sink"] as const;
type Name = typeof NAMES[number];

async function runCase(label: string, v8: Record<Name, string | undefined>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "steady_bench_" });
  try {
    const log = join(dir, "access.log");
    await Deno.writeTextFile(log, "");
    const [sources, sinks] = [freeLoopbackPort(), freeLoopbackPort()];
    const spawn = (name: Name, commandArgs: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join(ROOT, "cli.ts"), ...commandArgs],
        env: v8[name] === undefined ? undefined : { DENO_V8_FLAGS: v8[name]! },
        stdout: "null",
        stderr: "piped",
      }).spawn();
    const router = spawn("router", [
      "router",
      ...["--sources", `@tcp://127.0.0.1:${sources}`, "--sinks", `@tcp://127.0.0.1:${sinks}`],
      ...["--stats-interval", "0"],
    ]);
    const sink = spawn("sink", [
      ...["sink", "store", "--db", join(dir, "events.db"), "--from", `>tcp://127.0.0.1:${sinks}`],
      ...["--topic", "http.", "--stats-to", "none", "--stats-interval", "0"],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const source = spawn("source", [
      ...["source", "nginx", "--file", log, "--no-checkpoint"],
      ...["--to", `>tcp://127.0.0.1:${sources}`, "--stats-interval", "0"],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const children: Record<Name, Deno.ChildProcess> = { source, router, sink };
    const peak = { source: [0, 0], router: [0, 0], sink: [0, 0] };
    const half: Record<Name, number[]> = { source: [], router: [], sink: [] };
    const lines = nginxLog({ seed: 5 });
    const encoder = new TextEncoder();
    const file = await Deno.open(log, { append: true });
    const started = Date.now();
    let written = 0;
    while (Date.now() - started < seconds * 1000) {
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      if (due > written) {
        await file.write(encoder.encode(lines.lines(due - written).join("\n") + "\n"));
        written = due;
      }
      for (const name of NAMES) {
        const memory = memoryOf(children[name].pid);
        peak[name] = [Math.max(peak[name][0], memory.rss), Math.max(peak[name][1], memory.private)];
        if (Date.now() - started >= (seconds * 1000) / 2) half[name].push(memory.rss);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    file.close();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    for (const child of [source, sink, router]) child.kill("SIGTERM");
    const last = async (child: Deno.ChildProcess) =>
      new TextDecoder().decode((await child.output()).stderr).trim().split("\n").pop() ?? "";
    const [sourceLine, sinkLine] = [await last(source), await last(sink)];
    await last(router);
    const stored = Number(/stored (\d+),/.exec(sinkLine)?.[1] ?? NaN);
    const lost = Number(/lost on wire (\d+)/.exec(sinkLine)?.[1] ?? NaN);
    const dropped = Number(/dropped (\d+)/.exec(sinkLine)?.[1] ?? NaN);
    const mb = (name: Name) =>
      `${peak[name][0].toFixed(0)} MB (private ${peak[name][1].toFixed(0)})`;
    const flat = (name: Name) => {
      const values = half[name];
      return `${values[0]?.toFixed(0)}→${values.at(-1)?.toFixed(0)}`;
    };
    console.log(
      `${label}: ${written.toLocaleString("en")} lines at ${rate.toLocaleString("en")}/s for ` +
        `${seconds} s; stored ${stored.toLocaleString("en")}, lost ${lost}, dropped ${dropped} ` +
        `(every line stored: ${verdict(stored === written && lost === 0 && dropped === 0)})`,
    );
    console.log(
      `  peak RSS: source ${mb("source")} (≤ ${SOURCE_MB}: ${
        verdict(peak.source[0] <= SOURCE_MB)
      }), ` +
        `router ${mb("router")}, sink ${mb("sink")} (≤ ${SINK_MB}: ${
          verdict(peak.sink[0] <= SINK_MB)
        }); RSS over the second half: source ${flat("source")}, router ${flat("router")}, ` +
        `sink ${flat("sink")} MB`,
    );
    if (!/^source nginx:/.test(sourceLine)) console.log(`  source: ${sourceLine}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// As deployed, then V8's defaults everywhere as the baseline, in the same run.
const deployed = deployedPipeline();
await runCase(deployed.label, deployed.flags);
await runCase("V8 defaults everywhere", V8_DEFAULTS);
