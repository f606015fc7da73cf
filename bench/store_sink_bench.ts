/**
 * The store sink alone under a steady stream, for its memory (issue 12: a sink
 * ≤ 150 MB RSS, flat): this process publishes nginx `http.hit` events, parsed and
 * encoded once beforehand, at a steady rate (70,000 events/s) straight to an
 * `eventstorm sink store` of its own, which stores them in a fresh file. Without
 * the source and the router on the cores too, what it prints is the sink's: peak
 * RSS and private memory (bench/memory.ts), RSS at the start and end of the second
 * half (flat or not), its CPU per event and whether it stored every event. Once
 * with the V8 flags of the sink's systemd unit and once with V8's defaults.
 *
 *   deno run -A bench/store_sink_bench.ts [--seconds 30] [--rate 70000] [--per 500]
 *
 * `--rate 0` publishes as fast as the sink takes them (libzmq's queues full).
 *
 * @module
 */
import { benchArgs } from "./args.ts";
import { join } from "node:path";
import { Emitter, type Event } from "@eventstorm/core";
import { encodeBatch } from "@eventstorm/core/protocol";
import { nginxParser } from "@eventstorm/source-nginx";
import { nginxLog } from "../cli/demo/nginx_lines.ts";
import { cpuSecondsOf, memoryOf, unitV8Flags } from "./memory.ts";
import { freeLoopbackPort } from "./sample.ts";
import { verdict } from "./verdict.ts";

const args = benchArgs(
  "deno run -A bench/store_sink_bench.ts [--seconds 30] [--rate 70000] [--per 500]",
  {
    options: {
      seconds: { type: "string", default: "30" },
      rate: { type: "string", default: "70000" },
      per: { type: "string", default: "500" },
    },
  },
);
const seconds = Number(args.values.seconds);
const rate = Number(args.values.rate);
const per = Number(args.values.per);
if (!(seconds >= 5) || !(rate === 0 || rate >= 100) || !(per >= 1 && per <= 10_000)) {
  console.error("--seconds must be at least 5, --rate 0 or at least 100, --per 1 to 10000");
  Deno.exit(2);
}
const SINK_MB = 150;
const cli = new URL("../cli.ts", import.meta.url).pathname;

/** 100 messages of `per` distinct nginx events, sent over and over (each gets its own indexes). */
function nginxBodies(): Uint8Array[] {
  const parser = nginxParser();
  const context = { path: "access.log", host: "web1", readAt: new Date() };
  const lines = nginxLog({ seed: 3 }).lines(100 * per);
  const bodies: Uint8Array[] = [];
  for (let i = 0; i < lines.length; i += per) {
    const events = lines.slice(i, i + per).flatMap((line) => parser.parse(line, context) ?? []);
    bodies.push(encodeBatch(events as Event[]));
  }
  return bodies;
}

async function runCase(label: string, v8: string | undefined, bodies: Uint8Array[]) {
  const dir = await Deno.makeTempDir({ prefix: "store_sink_bench_" });
  try {
    const port = freeLoopbackPort();
    const sink = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "sink", "store", "--db", join(dir, "events.db")]
        .concat(["--from", `@tcp://127.0.0.1:${port}`, "--stats-interval", "1h"])
        .concat(["--stats-to", "none"]),
      env: v8 === undefined ? undefined : { DENO_V8_FLAGS: v8 },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const emitter = await Emitter.open({
      endpoints: `>tcp://127.0.0.1:${port}`,
      maxEvents: per,
      sendHwm: 1000,
    });
    const subscribed = Date.now() + 60_000;
    while (emitter.stats().subscriptions === 0 && Date.now() < subscribed) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const cpuBefore = await cpuSecondsOf(sink.pid);
    let peak = 0, peakPrivate = 0;
    const secondHalf: number[] = [];
    const started = performance.now();
    const sampler = setInterval(() => {
      const memory = memoryOf(sink.pid);
      peak = Math.max(peak, memory.rss);
      peakPrivate = Math.max(peakPrivate, memory.private);
      if (performance.now() - started >= seconds * 500) secondHalf.push(memory.rss);
    }, 200);
    let sent = 0, next = 0;
    while (performance.now() - started < seconds * 1000) {
      const due = rate === 0 ? sent + per : ((performance.now() - started) / 1000) * rate;
      while (sent + per <= due) {
        emitter.sendEncoded("http.hit", bodies[next++ % bodies.length], per);
        sent += per;
        await emitter.ready();
      }
      if (rate > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const sendSeconds = (performance.now() - started) / 1000;
    await emitter.close();
    // Until the sink has stored what it was sent (its stats line at the end says).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    clearInterval(sampler);
    const cpu = await cpuSecondsOf(sink.pid) - cpuBefore;
    sink.kill("SIGTERM");
    const line = new TextDecoder().decode((await sink.output()).stderr).trim().split("\n").pop() ??
      "";
    const number = (pattern: RegExp) => Number(pattern.exec(line)?.[1] ?? NaN);
    const stored = number(/stored (\d+),/);
    const lost = number(/lost on wire (\d+)/);
    const dropped = number(/dropped (\d+)/);
    console.log(
      `${label}: ${sent.toLocaleString("en")} events in ${sendSeconds.toFixed(1)} s ` +
        `(${Math.round(sent / sendSeconds).toLocaleString("en")}/s), ${per} a message; stored ` +
        `${stored.toLocaleString("en")}, lost ${lost}, dropped ${dropped} (every event stored: ${
          verdict(stored === sent && lost === 0 && dropped === 0)
        }); sink CPU ${(cpu / stored * 1e6).toFixed(2)} µs/event`,
    );
    const flat = `${secondHalf[0]?.toFixed(0)}→${secondHalf.at(-1)?.toFixed(0)}`;
    console.log(
      `  sink peak RSS ${peak.toFixed(0)} MB (private ${peakPrivate.toFixed(0)}; ≤ ${SINK_MB}: ${
        verdict(peak <= SINK_MB)
      }); RSS over the second half ${flat} MB`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const bodies = nginxBodies();
const bytes = bodies.reduce((sum, body) => sum + body.length, 0) / (bodies.length * per);
console.log(
  `store sink alone: nginx events (${bytes.toFixed(0)} bytes of BSON each) at ${
    rate === 0 ? "full speed" : `${rate.toLocaleString("en")}/s`
  } for ${seconds} s`,
);
const unit = unitV8Flags("eventstorm-sink-store.service");
await runCase(`as its unit runs it (DENO_V8_FLAGS ${unit ?? "none"})`, unit, bodies);
await runCase("V8 defaults", undefined, bodies);
