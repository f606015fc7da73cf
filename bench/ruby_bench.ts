/**
 * Ruby gem benchmark (sources/ruby): the Ruby emitter batched through the router against
 * the TypeScript emitter in the same run (250-byte events, separate processes), and two Rack
 * apps' requests per second under Puma with and without Eventstorm::Rack (ab on loopback,
 * alternating rounds; the best round of each counts; the events go through the router): one
 * that does nothing, the middleware's worst case, and one that renders a small page; and, with
 * wrk, their latency at a moderate load (one connection, then four), without and with the
 * middleware. Puma's heap is sized at start (HEAP_SLOTS) in every case; the page app is also
 * run once per round with Ruby's default heap, for reference. Puma runs on one core and
 * everything else (ab, wrk, the router, this process) on the other (see pinCores).
 *
 *   deno run -A bench/ruby_bench.ts [--events N] [--requests N] [--rounds N]
 *
 * @module
 */
import { benchArgs } from "./args.ts";
import { runTransport } from "./transport_bench.ts";
import { freeLoopbackPort } from "./sample.ts";
import { startCountingRouter } from "./counting_router.ts";
import { cpuSecondsOf } from "./memory.ts";
import { verdict } from "./verdict.ts";

const args = benchArgs("deno run -A bench/ruby_bench.ts [--events N] [--requests N] [--rounds N]", {
  options: {
    events: { type: "string", default: "1000000" },
    requests: { type: "string", default: "20000" },
    rounds: { type: "string", default: "3" },
  },
  strict: false,
});
const events = Number(args.values.events);
const requests = Number(args.values.requests);
const rounds = Math.max(1, Number(args.values.rounds));
const gem = new URL("../sources/ruby/", import.meta.url).pathname;

function rubySender(total: number, rubyFlags: string[] = []) {
  return (sendTo: string) =>
    new Deno.Command("ruby", {
      args: [...rubyFlags, `${gem}bench/emit.rb`, sendTo, String(total)],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing listens on port ${port}`);
}

/** What the bench app runs in front of itself. */
type RackCase = "bare" | "eventstorm" | "events discarded" | "common logger";
/** The app: a fixed 27-byte JSON body, or an HTML page rendered from an ERB template. */
type RackApp = "json" | "page";
/** Puma's Ruby heap: made room for at start (HEAP_SLOTS), or Ruby's default. */
type Heap = "sized" | "default";

/**
 * Object slots Puma's Ruby heap starts with (RUBY_GC_HEAP_INIT_SLOTS), with and without the
 * middleware alike. With Ruby's default (10,000) the page app's heap stays at about 63,000
 * slots, most of them old objects, so a minor GC that leaves few free slots is followed by a
 * major one: in 20,000 requests 16 major GCs without the middleware and 27 with it, against 1
 * each with this many slots. How close the heap sits to that edge is an accident of the app's
 * size: 2,000 unused objects made at boot, nothing else changed, let the heap grow to 84,000
 * slots and cut the app's major GCs from 16 to 5. A real app's heap is far larger from the
 * start; the default-heap figures are printed for reference.
 */
const HEAP_SLOTS = 200_000;

/** Latency percentiles of one wrk round, in µs. */
interface Latency {
  rate: number;
  p50: number;
  p99: number;
}

/**
 * The latency rounds' connections: one, so that each request meets only its own work, and
 * four (about 1,600 requests/s here, a fifth of Puma's most), whose requests now and then
 * overlap, as a site's do.
 */
const LATENCY_CONNECTIONS = [1, 4] as const;
const LATENCY_DELAY_MS = 2;

/** A latency round per entry of LATENCY_CONNECTIONS, in its order. */
type Latencies = Latency[];

/**
 * Latency at a steady, moderate load, as a site sees it most of the time: wrk keeps
 * `connections` connections, each waiting LATENCY_DELAY_MS between a response and its next
 * request (its Lua `delay`), so Puma is never saturated; the percentiles are wrk's, in µs.
 * A saturating single client would measure Puma's keep-alive path instead: work done after
 * a response, anyone's, lets Puma find the next request already there.
 *
 * Each connection has a wrk thread of its own. One thread's timers count whole milliseconds,
 * so the delays of its connections ran out on the same tick of its event loop, and four
 * connections on one thread sent their requests four at once: a burst in which each request
 * waited for the others' work (the median was about 300 µs against 100 µs alone for the JSON
 * app), and in which the middleware's writing after each response delayed the requests
 * queued behind it.
 */
async function latencyRound(url: string, script: string, connections: number): Promise<Latency> {
  const out = await new Deno.Command("wrk", {
    args: [`-t${connections}`, `-c${connections}`, "-d5s", "--latency", "-s", script, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const micros = (percent: string) => {
    const [, value, unit] =
      text.match(new RegExp(`^\\s+${percent}%\\s+([\\d.]+)(us|ms|s)$`, "m")) ??
        [];
    return Number(value) * ({ us: 1, ms: 1e3, s: 1e6 }[unit] ?? NaN);
  };
  const latency = {
    rate: Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN),
    p50: micros("50"),
    p99: micros("99"),
  };
  if (
    !out.success || /Non-2xx|Socket errors/.test(text) ||
    !Object.values(latency).every(Number.isFinite)
  ) {
    throw new Error(`wrk failed: ${text}${new TextDecoder().decode(out.stderr)}`);
  }
  return latency;
}

/**
 * One round against a fresh Puma: ab's requests/s and Puma's CPU per request in µs, then,
 * when `latencyScript` is given, the latency at a moderate load (one round per entry of
 * LATENCY_CONNECTIONS).
 */
async function rackRound(
  pinned: boolean,
  app: RackApp,
  rackCase: RackCase,
  heap: Heap,
  sendTo: string,
  logDir: string,
  latencyScript?: string,
): Promise<{ rate: number; cpu: number; latency?: Latencies; emitted: number }> {
  const port = freeLoopbackPort();
  // Puma gets this process's environment, except a heap size of the caller's own.
  const { RUBY_GC_HEAP_INIT_SLOTS: _, ...env }: Record<string, string> = Deno.env.toObject();
  env.BENCH_APP = app;
  if (heap === "sized") env.RUBY_GC_HEAP_INIT_SLOTS = String(HEAP_SLOTS);
  const emittedFile = `${logDir}/emitted`;
  const emits = rackCase === "eventstorm";
  if (emits) Object.assign(env, { EVENTSTORM_TO: sendTo, EVENTSTORM_EMITTED: emittedFile });
  if (rackCase === "events discarded") env.EVENTSTORM_DISCARD = "1";
  if (rackCase === "common logger") env.COMMON_LOG = `${logDir}/access.log`;
  const [command, args] = pumaCommand(pinned, [
    "-t",
    "4:4",
    "-e",
    "production",
    "-b",
    `tcp://127.0.0.1:${port}`,
    `${gem}bench/app.ru`,
  ]);
  const puma = new Deno.Command(command, {
    args,
    env,
    clearEnv: true,
    stdout: "null",
    stderr: "null",
  }).spawn();
  let stopping = false;
  const stop = () => {
    if (!stopping) puma.kill("SIGTERM");
    stopping = true;
    return puma.status;
  };
  try {
    await waitForPort(port);
    const url = `http://127.0.0.1:${port}/items?page=1`;
    // Warm-up, then the measured round.
    await new Deno.Command("ab", { args: ["-q", "-k", "-n", "1000", "-c", "4", url] }).output();
    const cpuBefore = await cpuSecondsOf(puma.pid);
    const out = await new Deno.Command("ab", {
      args: ["-q", "-k", "-n", String(requests), "-c", "4", url],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const failed = Number(text.match(/Failed requests:\s+(\d+)/)?.[1] ?? NaN);
    const rate = Number(text.match(/Requests per second:\s+([\d.]+)/)?.[1] ?? NaN);
    if (!out.success || failed !== 0 || !Number.isFinite(rate)) {
      throw new Error(`ab failed: ${text}${new TextDecoder().decode(out.stderr)}`);
    }
    const cpu = ((await cpuSecondsOf(puma.pid)) - cpuBefore) / requests * 1e6;
    let latency: Latencies | undefined;
    if (latencyScript !== undefined) {
      latency = [];
      for (const connections of LATENCY_CONNECTIONS) {
        latency.push(await latencyRound(url, latencyScript, connections));
      }
    }
    await stop();
    // Every request the middleware saw, the latency round's too: the count the router must reach.
    const emitted = emits ? Number(await Deno.readTextFile(emittedFile)) : 0;
    if (emits) await Deno.remove(emittedFile);
    return { rate, cpu, latency, emitted };
  } finally {
    await stop();
  }
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * The medians of the rounds without and with the middleware. A difference counts as
 * measured when the median with it is above the median without by more than twice the
 * rounds' own spread without it (their median absolute deviation). A round the machine's
 * noise made slow moves neither; the worst round without, which this compared with
 * before, let one slow round without the middleware hide a 29 µs difference.
 */
function printLatency(bare: Latency[], withIt: Latency[], connections: number): void {
  const figures = (pick: (latency: Latency) => number) => {
    const without = bare.map(pick);
    const center = median(without);
    const spread = median(without.map((value) => Math.abs(value - center)));
    const withMiddleware = median(withIt.map(pick));
    return {
      text: `${center.toFixed(0)} µs without (rounds ${Math.min(...without).toFixed(0)}-${
        Math.max(...without).toFixed(0)
      }), ${withMiddleware.toFixed(0)} µs with`,
      measurable: withMiddleware > center + 2 * spread,
    };
  };
  const p50 = figures((latency) => latency.p50);
  const p99 = figures((latency) => latency.p99);
  console.log(
    `    latency at ${median(bare.map((latency) => latency.rate)).toFixed(0)} req/s ` +
      `(wrk, ${
        connections === 1 ? "1 connection" : `${connections} connections, a thread each`
      }, ` +
      `${LATENCY_DELAY_MS} ms between a response and the next request): ` +
      `p50 ${p50.text}; p99 ${p99.text}; target no measurable latency: ${
        verdict(!p50.measurable && !p99.measurable)
      }`,
  );
}

/**
 * Gives Puma core 0 and moves this process, and so the router, ab and wrk it starts, to core 1,
 * as if they were other hosts; false (nothing moved) on one core or without taskset. Sharing
 * Puma's cores, they made its CPU per request vary between rounds of one case far more than
 * the middleware costs (JSON app: 137-187 µs a round unpinned, 91-97 µs pinned, in one run),
 * and a client that reads a response on Puma's core delays the next request. Puma's Ruby runs
 * on one core at a time anyway (the GVL); pinned it also runs faster, so the same cost of the
 * middleware is a larger share of a request.
 */
async function pinCores(): Promise<boolean> {
  if (navigator.hardwareConcurrency < 2) return false;
  try {
    const moved = await new Deno.Command("taskset", {
      args: ["-a", "-p", "-c", "1", String(Deno.pid)],
      stdout: "null",
      stderr: "null",
    }).output();
    return moved.success;
  } catch {
    return false;
  }
}

/** Puma's command: on core 0 when the cores are pinned. */
function pumaCommand(pinned: boolean, args: string[]): [string, string[]] {
  return pinned ? ["taskset", ["-c", "0", "puma", ...args]] : ["puma", args];
}

/** The cases of each app, run in turn, round after round. */
const RACK_RUNS: { app: RackApp; rackCase: RackCase; heap: Heap }[] = [
  { app: "json", rackCase: "bare", heap: "sized" },
  { app: "json", rackCase: "eventstorm", heap: "sized" },
  { app: "json", rackCase: "events discarded", heap: "sized" },
  { app: "json", rackCase: "common logger", heap: "sized" },
  { app: "page", rackCase: "bare", heap: "sized" },
  { app: "page", rackCase: "eventstorm", heap: "sized" },
  { app: "page", rackCase: "bare", heap: "default" },
  { app: "page", rackCase: "eventstorm", heap: "default" },
];

async function rackBench(): Promise<void> {
  // The middleware's events go through the project's router to a collector that counts
  // them from the message headers without decoding: the receiving side costs this machine
  // little, as a sink on another host would.
  const pinned = await pinCores();
  const router = await startCountingRouter();
  const logDir = await Deno.makeTempDir({ prefix: "ruby_bench_" });
  let expected = 0;
  const measured = RACK_RUNS.map((run) => ({
    ...run,
    rates: [] as number[],
    cpus: [] as number[],
    latencies: [] as Latencies[],
  }));
  const wrk = (await new Deno.Command("sh", { args: ["-c", "command -v wrk"], stdout: "null" })
    .output()).success;
  const latencyScript = `${logDir}/delay.lua`;
  await Deno.writeTextFile(latencyScript, `function delay() return ${LATENCY_DELAY_MS} end\n`);
  try {
    for (let round = 0; round < rounds; round++) {
      // Every other round in reverse, so that no case always runs after the same one.
      for (const run of round % 2 === 0 ? measured : measured.toReversed()) {
        const { rate, cpu, latency, emitted } = await rackRound(
          pinned,
          run.app,
          run.rackCase,
          run.heap,
          router.sources,
          logDir,
          wrk && (run.rackCase === "bare" || run.rackCase === "eventstorm") && run.heap === "sized"
            ? latencyScript
            : undefined,
        );
        run.rates.push(rate);
        run.cpus.push(cpu);
        if (latency) run.latencies.push(latency);
        expected += emitted;
      }
    }
    // Puma's at_exit flushed the last batch; give it the time to cross the router.
    await router.waitFor(expected, 10_000);
  } finally {
    await router.stop();
    await Deno.remove(logDir, { recursive: true });
  }
  // The best round of each case counts; CPU is measured, not inferred from the rates:
  // Puma's own (every thread, the emitter's and libzmq's included) per request.
  const find = (app: RackApp, rackCase: RackCase, heap: Heap = "sized") =>
    measured.find((run) => run.app === app && run.rackCase === rackCase && run.heap === heap)!;
  const rate = (app: RackApp, rackCase: RackCase, heap?: Heap) =>
    Math.max(...find(app, rackCase, heap).rates);
  const cpu = (app: RackApp, rackCase: RackCase, heap?: Heap) =>
    Math.min(...find(app, rackCase, heap).cpus);
  const reqs = (app: RackApp, rackCase: RackCase, heap?: Heap) =>
    Math.round(rate(app, rackCase, heap)).toLocaleString("en");
  console.log(
    `Rack apps under Puma (4 threads, RUBY_GC_HEAP_INIT_SLOTS=${HEAP_SLOTS} unless said), ` +
      `ab -k -c 4, ${requests} requests, best of ${rounds}; ` +
      `http.hit received through the router: ${router.received()} of ${expected}, ` +
      `lost ${router.lost()}; ${
        pinned
          ? "Puma on core 0, ab, wrk and the router on core 1"
          : "Puma, ab, wrk and the router share the cores (taskset or a second core is missing)"
      }`,
  );
  const apps: [RackApp, string][] = [
    ["json", "a fixed 27-byte JSON body (the worst case: the app does nothing)"],
    ["page", "an HTML page of 20 rows from an ERB template, with Rack::Request params"],
  ];
  for (const [app, description] of apps) {
    const ratio = rate(app, "eventstorm") / rate(app, "bare");
    console.log(`  ${description}:`);
    console.log(
      `    without Eventstorm::Rack ${reqs(app, "bare")} req/s; with ${
        reqs(app, "eventstorm")
      } req/s; ratio ${ratio.toFixed(3)} (overhead ${((1 - ratio) * 100).toFixed(1)}%); ` +
        `target overhead ≤ 5%: ${verdict(ratio >= 0.95)}`,
    );
    console.log(
      `    Puma CPU per request: ${cpu(app, "bare").toFixed(0)} µs without, ${
        cpu(app, "eventstorm").toFixed(0)
      } µs with; the middleware costs ${(cpu(app, "eventstorm") - cpu(app, "bare")).toFixed(0)} µs`,
    );
    if (wrk) {
      LATENCY_CONNECTIONS.forEach((connections, i) =>
        printLatency(
          find(app, "bare").latencies.map((rounds) => rounds[i]),
          find(app, "eventstorm").latencies.map((rounds) => rounds[i]),
          connections,
        )
      );
    }
  }
  console.log(
    `  for reference, the page app with Ruby's default heap (see HEAP_SLOTS in this file): ${
      reqs("page", "bare", "default")
    } req/s without, ${reqs("page", "eventstorm", "default")} req/s with; ratio ${
      (rate("page", "eventstorm", "default") / rate("page", "bare", "default")).toFixed(3)
    }; Puma CPU per request ${cpu("page", "bare", "default").toFixed(0)} → ${
      cpu("page", "eventstorm", "default").toFixed(0)
    } µs`,
  );
  if (!wrk) console.log("  latency: not measured, wrk is not installed (scripts/clients.sh)");
  console.log(
    `  for reference, the JSON app with Eventstorm::Rack handing its events to an emitter ` +
      `that drops them (the middleware's cost before it writes an event): ${
        reqs("json", "events discarded")
      } req/s (ratio ${(rate("json", "events discarded") / rate("json", "bare")).toFixed(3)}), ${
        (cpu("json", "events discarded") - cpu("json", "bare")).toFixed(0)
      } µs of CPU per request`,
  );
  // The access log line a Rack app would otherwise write for a shipper to tail.
  console.log(
    `  for reference, Rack::CommonLogger writing each line of the JSON app to a file: ${
      reqs("json", "common logger")
    } req/s (ratio ${(rate("json", "common logger") / rate("json", "bare")).toFixed(3)}), ${
      (cpu("json", "common logger") - cpu("json", "bare")).toFixed(0)
    } µs of CPU per request`,
  );
}

console.log(
  "ruby: 250-byte events batched through the router, sender and receiver in separate processes",
);
const ts = await runTransport("TypeScript emitter → router, 1000/msg", {
  viaRouter: true,
  total: events,
  per: 1000,
  send: "encode",
  receive: "raw",
});
const emitterVerdict = (figure: { eventsPerSecond: number; lost: number; received: number }) =>
  verdict(figure.eventsPerSecond >= 200_000 && figure.lost === 0 && figure.received === events);
const ruby = await runTransport("Ruby emitter → router, 1000/msg", {
  viaRouter: true,
  total: events,
  per: 1000,
  send: "encode",
  receive: "raw",
  sender: rubySender(events),
});
console.log(
  `Ruby/TypeScript emitter ratio ${(ruby.eventsPerSecond / ts.eventsPerSecond).toFixed(2)}; ` +
    `target ≥200,000 ev/s with 0 lost: ${emitterVerdict(ruby)}`,
);
// YJIT, Ruby's own JIT (on by default in Rails 7.2 apps on Ruby 3.3+), where this Ruby has it.
const yjit = (await new Deno.Command("ruby", {
  args: ["--yjit", "-e", "exit RubyVM::YJIT.enabled? ? 0 : 1"],
  stdout: "null",
  stderr: "null",
}).output()).success;
if (yjit) {
  const jitted = await runTransport("Ruby emitter with --yjit → router, 1000/msg", {
    viaRouter: true,
    total: events,
    per: 1000,
    send: "encode",
    receive: "raw",
    sender: rubySender(events, ["--yjit"]),
  });
  console.log(
    `Ruby (YJIT)/TypeScript emitter ratio ${
      (jitted.eventsPerSecond / ts.eventsPerSecond).toFixed(2)
    }; target ≥200,000 ev/s with 0 lost: ${emitterVerdict(jitted)}`,
  );
} else {
  console.log("Ruby emitter with --yjit: this ruby has no YJIT");
}
await rackBench();
