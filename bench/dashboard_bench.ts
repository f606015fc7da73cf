/**
 * Dashboard benchmark: how many `http.hit` events a second the aggregator takes
 * while pushing one update a second, in-process and through the wire (a sender
 * process at a target rate → the dashboard's collector → a WebSocket page), with
 * the memory over the run: the aggregator's process, and the dashboard's own as a user
 * runs it; and the memory of a long `--history` (`--history-span`, default 7d):
 * that span of seconds simulated with an injected clock, then `/api/state` asked
 * `--concurrent` times at once, with frames rolled up as the dashboard keeps them
 * and, for comparison, one frame per second and one string per request as it
 * kept and served them before. Prints figures; not a test.
 *
 *   deno run -A bench/dashboard_bench.ts [--duration 60s] [--interval 10s] [--rate 250000]
 *     [--in-process 10s] [--skip-wire] [--history-span 7d] [--concurrent 8] [--skip-history]
 *
 * @module
 */
import { benchArgs } from "./args.ts";
import { type CollectorStats, Emitter, type Event } from "@eventstorm/core";
import { formatCount, parseDuration } from "@eventstorm/core/cli";
import { openLibc } from "@eventstorm/core/internal";
import { encodeBatch } from "@eventstorm/core/protocol";
import { DashboardAggregator, DashboardServer } from "@eventstorm/sink-dashboard";
import { DemoEvents } from "@eventstorm/source-demo";
import { memoryOf, unitV8Flags } from "./memory.ts";
import { verdict } from "./verdict.ts";
import { cli, waitFor, watch } from "../tests/helpers.ts";

const BATCH = 1000;
const DISTINCT_BATCHES = 64;

/** Demo `http.hit` events only: random client addresses, ten paths, five agents. */
function httpHits(count: number, seed: number): Event[] {
  const demo = new DemoEvents({ seed });
  const hits: Event[] = [];
  const time = new Date();
  while (hits.length < count) {
    const event = demo.next(time);
    if (event.type === "http.hit") hits.push(event);
  }
  return hits;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function memoryLine(): string {
  const memory = Deno.memoryUsage();
  return `rss ${mib(memory.rss)}, heap ${mib(memory.heapUsed)}`;
}

/**
 * The aggregator alone, a tick (and its JSON) each second: fed decoded batches,
 * or undecoded message bodies as the dashboard is (`addMessage`).
 */
function inProcess(seconds: number, mode: "decoded" | "undecoded"): void {
  const hits = Array.from({ length: DISTINCT_BATCHES }, (_, i) => httpHits(BATCH, i + 1));
  const bodies = hits.map((events) => encodeBatch(events));
  const header = { flags: 0, count: BATCH, source: 1n, first: 0 };
  const aggregator = new DashboardAggregator();
  const started = performance.now();
  let nextTick = started + 1000;
  let events = 0;
  let ticks = 0;
  let tickMs = 0;
  let tickMaxMs = 0;
  let i = 0;
  while (performance.now() - started < seconds * 1000) {
    if (mode === "decoded") {
      aggregator.addBatch({ topic: "http.hit", events: hits[i++ % DISTINCT_BATCHES] });
    } else {
      const body = bodies[i++ % DISTINCT_BATCHES];
      aggregator.addMessage({ topic: "http.hit", header, body, count: BATCH });
    }
    events += BATCH;
    const now = performance.now();
    if (now >= nextTick) {
      // What the dashboard does once a second for its pages: frame and state as JSON.
      const frame = aggregator.tick(Date.now());
      const message = `{"type":"frame","frame":${JSON.stringify(frame)},"state":${
        JSON.stringify(aggregator.state())
      }}`;
      const spent = performance.now() - now;
      tickMs += spent;
      tickMaxMs = Math.max(tickMaxMs, spent);
      ticks++;
      nextTick += 1000;
      if (message.length === 0) throw new Error("unreachable");
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  console.log(
    `in-process, ${mode}: ${formatCount(events / elapsed)} http.hit/s aggregated over ${
      elapsed.toFixed(1)
    } s; ${ticks} updates, ${(tickMs / Math.max(1, ticks)).toFixed(2)} ms each (max ${
      tickMaxMs.toFixed(2)
    } ms); ${memoryLine()}`,
  );
}

/** The sender process: pre-encoded batches at `rate` events a second until killed. */
async function send(endpoint: string, rate: number): Promise<void> {
  const bodies = Array.from(
    { length: DISTINCT_BATCHES },
    (_, i) => encodeBatch(httpHits(BATCH, 1000 + i)),
  );
  const emitter = await Emitter.open({ endpoints: endpoint, sendHwm: 1000, maxEvents: BATCH });
  while (emitter.stats().subscriptions === 0) await new Promise((r) => setTimeout(r, 10));
  const started = performance.now();
  let sent = 0;
  let i = 0;
  const report = setInterval(() => {
    const stats = emitter.stats();
    console.log(JSON.stringify({ sent: stats.eventsSent, dropped: stats.dropped }));
  }, 1000);
  Deno.addSignalListener("SIGTERM", () => {
    clearInterval(report);
    Deno.exit(0);
  });
  while (true) {
    const due = ((performance.now() - started) / 1000) * rate;
    while (sent + BATCH <= due) {
      emitter.sendEncoded("http.hit", bodies[i++ % DISTINCT_BATCHES], BATCH);
      sent += BATCH;
      await emitter.ready();
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A sink's memory target (issue 12), the dashboard's included. */
const SINK_RSS_MB = 150;

/** The counters of the dashboard's last stats line so far. */
function lastCounters(stderr: string): { received: number; lost: number; dropped: number } {
  const lines = stderr.trim().split("\n").filter((line) => line.startsWith("sink dashboard: "));
  const line = lines.at(-1) ?? "";
  const field = (name: string) => Number(new RegExp(`${name} (\\d+)`).exec(line)?.[1] ?? 0);
  return { received: field("received"), lost: field("lost on wire"), dropped: field("dropped") };
}

/**
 * The dashboard as a user runs it (`eventstorm sink dashboard`, a process of its own
 * with `v8Flags`), fed through the wire by a sender process at `rate`, with a page's
 * WebSocket connected here; its RSS read from /proc each interval.
 */
async function throughWire(
  durationMs: number,
  intervalMs: number,
  rate: number,
  label: string,
  v8Flags: string | undefined,
): Promise<void> {
  const dashboard = watch(cli(
    [
      ...["sink", "dashboard", "--listen", "127.0.0.1:0", "--from", "@tcp://127.0.0.1:*"],
      ...["--stats-interval", "1s", "--stats-to", "none"],
    ],
    { env: v8Flags === undefined ? undefined : { DENO_V8_FLAGS: v8Flags } },
  ));
  // Where it took its ports: the collector's on stderr, the page's on stdout.
  const portIn = (pattern: RegExp) => pattern.exec(dashboard.stderr() + dashboard.stdout())?.[1];
  const collectorPattern = /receiving from @tcp:\/\/127\.0\.0\.1:(\d+)/;
  const pagePattern = /dashboard: http:\/\/127\.0\.0\.1:(\d+)\//;
  await waitFor(
    () => portIn(collectorPattern) !== undefined && portIn(pagePattern) !== undefined,
    "the dashboard to start",
    60_000,
  );
  const ports = { collector: portIn(collectorPattern)!, page: portIn(pagePattern)! };
  let updates = 0;
  let updateBytes = 0;
  const socket = new WebSocket(`ws://127.0.0.1:${ports.page}/ws`);
  socket.onmessage = (message) => {
    updates++;
    updateBytes += String(message.data).length;
  };
  const sender = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--send",
      `>tcp://127.0.0.1:${ports.collector}`,
      "--rate",
      String(rate),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let senderStats = { sent: 0, dropped: 0 };
  const senderLines = (async () => {
    const reader = sender.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) if (line.startsWith("{")) senderStats = JSON.parse(line);
    }
  })();

  console.log(
    `through the wire, ${label}: sender at ${formatCount(rate)} http.hit/s → ` +
      `eventstorm sink dashboard (its own process) → WebSocket page, ${durationMs / 1000} s`,
  );
  const started = performance.now();
  let previous = { at: started, received: 0, updates: 0 };
  const rss: number[] = [];
  let peakRate = 0;
  while (performance.now() - started < durationMs) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const now = performance.now();
    const counters = lastCounters(dashboard.stderr());
    const seconds = (now - previous.at) / 1000;
    const eventsPerSecond = (counters.received - previous.received) / seconds;
    peakRate = Math.max(peakRate, eventsPerSecond);
    const memory = memoryOf(dashboard.child.pid);
    rss.push(memory.rss);
    console.log(
      `  ${((now - started) / 1000).toFixed(0).padStart(4)} s: ${
        formatCount(eventsPerSecond).padStart(6)
      } ev/s aggregated, ${
        ((updates - previous.updates) / seconds).toFixed(1)
      } updates/s to the page, lost on wire ${counters.lost}, dropped ${counters.dropped}, ` +
        `sender sent ${senderStats.sent} dropped ${senderStats.dropped}; RSS ` +
        `${memory.rss.toFixed(0)} MB (private ${memory.private.toFixed(0)})`,
    );
    previous = { at: now, received: counters.received, updates };
  }
  const elapsed = (performance.now() - started) / 1000;
  sender.kill("SIGTERM");
  await sender.status;
  await senderLines;
  socket.close();
  dashboard.child.kill("SIGTERM");
  const final = lastCounters((await dashboard.finish()).stderr);
  const firstHalf = rss.slice(0, Math.ceil(rss.length / 2));
  const secondHalf = rss.slice(Math.ceil(rss.length / 2));
  const max = (list: number[]) => list.length ? Math.max(...list) : 0;
  const peak = max(rss);
  console.log(
    `through the wire, ${label}: ${formatCount(final.received / elapsed)} ev/s mean, ` +
      `${formatCount(peakRate)} ev/s best interval; ${final.received} events, ${final.lost} lost ` +
      `on the wire, ${final.dropped} dropped, ${updates} page updates (${
        (updateBytes / Math.max(1, updates) / 1024).toFixed(1)
      } KiB each on average); RSS max first half ${max(firstHalf).toFixed(0)} MB, second half ` +
      `${max(secondHalf).toFixed(0)} MB`,
  );
  console.log(
    `through the wire, ${label}: targets: every event aggregated (0 lost, 0 dropped in the ` +
      `dashboard or at the sender): ${
        verdict(final.lost === 0 && final.dropped === 0 && senderStats.dropped === 0)
      }; peak RSS ${peak.toFixed(0)} MB ≤ ${SINK_RSS_MB} MB like every sink: ${
        verdict(peak <= SINK_RSS_MB)
      }`,
  );
}

/** A sink's ordinary wire counters, four sources, one of them losing a little. */
function simulatedWire(lost: number): CollectorStats {
  return {
    messages: 0,
    events: 0,
    bytes: 0,
    lost,
    duplicates: 0,
    unaccounted: 0,
    malformed: {},
    rejectedEvents: 0,
    otherMembers: 0,
    otherMembersEvents: 0,
    streams: [1, 2, 3, 4].map((i) => ({
      source: String(i),
      topic: "http.hit",
      lost: i === 1 ? lost : 0,
      expected: 0,
      joinedAt: 0,
      received: 10,
      duplicates: 0,
      malformed: 0,
    })),
  };
}

/**
 * Memory after a full collection, with the C heap's free pages handed back (as
 * the memory reducer of every eventstorm command does), so RSS is what is held.
 */
function settledMemory(): Deno.MemoryUsage {
  (globalThis as { gc?: () => void }).gc?.();
  openLibc({ malloc_trim: { parameters: ["usize"], result: "i32" } })?.symbols.malloc_trim(0n);
  return Deno.memoryUsage();
}

/**
 * Runs in a process of its own (`--history-child`, with `--expose-gc`): `spanMs`
 * of seconds at about 200 demo events each (eight hosts, HTTP, SSH, mail) fed to
 * an aggregator on an injected clock, ticked each simulated second; then
 * `concurrent` requests for `/api/state` at once through a real server, the
 * memory sampled every 5 ms while they are served. `perSecond` keeps every
 * tick and builds one string per request, as the dashboard did before rollups.
 */
async function historyChild(spanMs: number, concurrent: number, perSecond: boolean) {
  const T0 = Date.UTC(2026, 0, 1);
  let now = T0;
  const hosts = ["web1", "web2", "web3", "web4", "db1", "db2", "mail1", "bastion"];
  const demo = new DemoEvents({ seed: 5, hosts });
  const seconds: Map<string, Event[]>[] = [];
  for (let s = 0; s < 64; s++) {
    const byTopic = new Map<string, Event[]>();
    for (let i = 0; i < 200; i++) {
      const event = demo.next(new Date(T0));
      byTopic.set(event.type, [...(byTopic.get(event.type) ?? []), event]);
    }
    byTopic.set("smtp.deferred", [{ type: "smtp.deferred", time: new Date(T0), host: "mail1" }]);
    seconds.push(byTopic);
  }
  const aggregator = new DashboardAggregator({
    historyMs: spanMs,
    now: () => now,
    rollup: perSecond ? [] : undefined,
  });
  const started = performance.now();
  const span = Math.round(spanMs / 1000);
  for (let s = 1; s <= span; s++) {
    for (const [topic, events] of seconds[s % 64]) {
      aggregator.addBatch({ topic, source: BigInt((s % 4) + 1), events });
    }
    now = T0 + s * 1000;
    aggregator.tick(now, simulatedWire(Math.floor(s / 100)));
    // Lets V8's background work (freeing pages) run, as the event loop would.
    if (s % 3600 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const simulated = (performance.now() - started) / 1000;
  const held = settledMemory();

  const encoder = new TextEncoder();
  const head = encoder.encode(
    `{"type":"hello","config":{},"state":${JSON.stringify(aggregator.state())},"frames":[`,
  );
  const comma = encoder.encode(",");
  const close = encoder.encode("]}");
  const server = DashboardServer.listen({
    port: 0,
    hello: perSecond
      ? () =>
        `{"type":"hello","config":{},"state":${JSON.stringify(aggregator.state())},"frames":[${
          aggregator.framesJson().join(",")
        }]}`
      : () => {
        const chunks: Uint8Array[] = [head];
        for (const block of aggregator.framesChunks()) {
          if (chunks.length > 1) chunks.push(comma);
          chunks.push(block);
        }
        chunks.push(close);
        return chunks;
      },
  });
  const before = settledMemory();
  let peak = { heap: before.heapUsed, rss: before.rss };
  const sampler = setInterval(() => {
    const memory = Deno.memoryUsage();
    peak = { heap: Math.max(peak.heap, memory.heapUsed), rss: Math.max(peak.rss, memory.rss) };
  }, 5);
  const asked = performance.now();
  const sizes = await Promise.all(Array.from({ length: concurrent }, async () => {
    const response = await fetch(new URL("api/state", server.url));
    let bytes = 0;
    for await (const chunk of response.body!) bytes += chunk.length;
    return bytes;
  }));
  const servedMs = performance.now() - asked;
  clearInterval(sampler);
  await server.close();
  console.log(JSON.stringify({
    simulated,
    frames: aggregator.frameCount,
    heap: held.heapUsed,
    rss: held.rss,
    stateBytes: sizes[0],
    servedMs,
    peakHeapAdded: peak.heap - before.heapUsed,
    peakRssAdded: peak.rss - before.rss,
  }));
}

/** Runs {@linkcode historyChild} in a process of its own per case and prints its figures. */
async function longHistory(spanMs: number, concurrent: number): Promise<void> {
  const days = (spanMs / 86_400_000).toFixed(spanMs % 86_400_000 === 0 ? 0 : 2);
  for (
    const [label, perSecond] of [
      ["rolled up, served in shared blocks", false],
      ["every second kept, one string per request (as before)", true],
    ] as const
  ) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL(import.meta.url).pathname,
        "--history-child",
        String(spanMs),
        "--concurrent",
        String(concurrent),
        ...(perSecond ? ["--per-second"] : []),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const line = new TextDecoder().decode(output.stdout).trim().split("\n").at(-1) ?? "";
    if (!output.success || !line.startsWith("{")) {
      console.log(`--history ${days}d, ${label}: failed (exit ${output.code})`);
      continue;
    }
    const r = JSON.parse(line);
    console.log(
      `--history ${days}d simulated (${r.simulated.toFixed(0)} s), ${label}: ${r.frames} frames, ` +
        `heap ${mib(r.heap)}, RSS ${mib(r.rss)} after a full GC; /api/state ${
          mib(r.stateBytes)
        }, ${concurrent} at once in ${r.servedMs.toFixed(0)} ms, peak +${
          mib(r.peakHeapAdded)
        } heap, +${mib(r.peakRssAdded)} RSS while serving`,
    );
  }
}

const { values } = benchArgs(
  "deno run -A bench/dashboard_bench.ts [--duration 60s] [--interval 10s] [--rate 250000]",
  {
    options: {
      send: { type: "string" },
      rate: { type: "string", default: "250000" },
      duration: { type: "string", default: "60s" },
      interval: { type: "string", default: "10s" },
      "in-process": { type: "string", default: "10s" },
      "skip-wire": { type: "boolean", default: false },
      "history-span": { type: "string", default: "7d" },
      concurrent: { type: "string", default: "8" },
      "skip-history": { type: "boolean", default: false },
      "history-child": { type: "string" },
      "per-second": { type: "boolean", default: false },
    },
  },
);
const rate = Number(values.rate);
if (values.send !== undefined) {
  await send(values.send, rate);
} else if (values["history-child"] !== undefined) {
  await historyChild(
    Number(values["history-child"]),
    Number(values.concurrent),
    values["per-second"]!,
  );
  Deno.exit(0);
} else {
  const seconds = parseDuration(values["in-process"]!, "in-process") / 1000;
  inProcess(seconds, "decoded");
  inProcess(seconds, "undecoded");
  if (!values["skip-wire"]) {
    const durationMs = parseDuration(values.duration!, "duration");
    const intervalMs = parseDuration(values.interval!, "interval");
    // With the flags of the store sink's unit, as a dashboard deployed beside it would run.
    const sinkFlags = unitV8Flags("eventstorm-sink-store.service");
    await throughWire(durationMs, intervalMs, rate, `V8 flags ${sinkFlags}`, sinkFlags);
    await throughWire(durationMs, intervalMs, rate, "V8 defaults", undefined);
  }
  if (!values["skip-history"]) {
    await longHistory(
      parseDuration(values["history-span"]!, "history-span"),
      Number(values.concurrent),
    );
  }
  Deno.exit(0);
}
