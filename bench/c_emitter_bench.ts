/**
 * libeventstorm benchmark: the C emitter (sources/c), batched, into the project's router,
 * beside the TypeScript emitter through the same router and libzmq's own direct PUB→SUB
 * (C, one 250-byte message per event) as the baseline, all in the same run. Each side is
 * its own process; the receiver is eventstorm's collector, which counts loss exactly.
 *
 * @module
 */
import { freeLoopbackPort } from "./sample.ts";
import { verdict } from "./verdict.ts";
import { benchArgs } from "./args.ts";

const worker = new URL("./transport_worker.ts", import.meta.url).pathname;
const sources = new URL("../sources/c", import.meta.url).pathname;
const decoder = new TextDecoder();

/** Starts a process; `line()` resolves with its next stdout line. */
function start(command: string, args: string[]) {
  const child = new Deno.Command(command, { args, stdout: "piped", stderr: "inherit" }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return {
    child,
    async line(): Promise<string> {
      while (!buffered.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
      }
      const [first, ...rest] = buffered.split("\n");
      buffered = rest.join("\n");
      return first;
    },
  };
}

async function build(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "eventstorm_c_bench_" });
  for (
    const args of [["-S", sources, "-B", dir, "-DCMAKE_BUILD_TYPE=Release"], [
      "--build",
      dir,
      "-j2",
      "--target",
      "es_bench",
    ]]
  ) {
    const out = await new Deno.Command("cmake", { args, stdout: "piped", stderr: "piped" })
      .output();
    if (!out.success) throw new Error(`cmake ${args.join(" ")}: ${decoder.decode(out.stderr)}`);
  }
  return dir;
}

interface Figure {
  eventsPerSecond: number;
  received: number;
  lost: number;
}

function report(name: string, figure: Figure, extra = ""): Figure {
  console.log(
    `${name.padEnd(48)} ${
      Math.round(figure.eventsPerSecond).toLocaleString("en").padStart(11)
    } ev/s` +
      `  received ${figure.received}, lost ${figure.lost}${extra}`,
  );
  return figure;
}

/** A sender into the router, measured at eventstorm's collector behind it. */
async function throughRouter(total: number, sender: (endpoint: string) => string[]) {
  const a = freeLoopbackPort(), b = freeLoopbackPort();
  const router = start(Deno.execPath(), [
    "run",
    "-A",
    worker,
    "router",
    `@tcp://127.0.0.1:${a}`,
    `@tcp://127.0.0.1:${b}`,
  ]);
  await router.line();
  const receiver = start(Deno.execPath(), [
    "run",
    "-A",
    worker,
    "receive",
    `>tcp://127.0.0.1:${b}`,
    String(total),
    "raw",
  ]);
  await receiver.line();
  const [command, ...args] = sender(`>tcp://127.0.0.1:${a}`);
  const send = await new Deno.Command(command, { args, stdout: "piped", stderr: "inherit" })
    .output();
  const sent = decoder.decode(send.stdout).trim();
  const received = JSON.parse(await receiver.line());
  await receiver.child.status;
  router.child.kill("SIGTERM");
  await router.child.status;
  return {
    figure: {
      eventsPerSecond: received.received / received.seconds,
      received: received.received,
      lost: received.lost,
    },
    sent,
  };
}

/** libzmq alone: PUB → SUB, one message per event, both in C. */
async function direct(bench: string, total: number): Promise<Figure> {
  const endpoint = `tcp://127.0.0.1:${freeLoopbackPort()}`;
  const sub = new Deno.Command(bench, {
    args: ["sub", `@${endpoint}`, String(total)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const ready = sub.stderr.getReader();
  await ready.read();
  ready.releaseLock();
  await new Deno.Command(bench, { args: ["pub", `>${endpoint}`, String(total), "250"] }).output();
  const out = await sub.output();
  const result = JSON.parse(decoder.decode(out.stdout).trim());
  return {
    eventsPerSecond: result.events / result.seconds,
    received: result.events,
    lost: total - result.events,
  };
}

/** Runs the C emitter benchmark and prints figures and ratios. */
export async function cEmitterBench(): Promise<void> {
  console.log(
    "c emitter: 250-byte events on loopback, sender / router / receiver in separate processes",
  );
  const dir = await build();
  try {
    const bench = `${dir}/es_bench`;
    const total = 3_000_000;
    const c = await throughRouter(total, (to) => [bench, "emit", to, String(total), "250"]);
    const detail = JSON.parse(c.sent);
    report(
      "C emitter (libeventstorm) → router, batched",
      c.figure,
      `, dropped ${detail.dropped}, ${Math.round(detail.bytes / detail.sent)} B/event, ` +
        `emitter CPU ${Math.round(detail.cpu / detail.events * 1e9)} ns/event ` +
        `(${Math.round(detail.events / detail.cpu).toLocaleString("en")} ev per CPU-second)`,
    );
    const ts = await throughRouter(
      1_000_000,
      (to) => [Deno.execPath(), "run", "-A", worker, "send", to, "1000000", "1000", "encode"],
    );
    report("TypeScript emitter → router, 1000/msg", ts.figure);
    // The TypeScript sender at its fastest: batches encoded once, sent as they are.
    const ceiling = await throughRouter(
      total,
      (to) => [Deno.execPath(), "run", "-A", worker, "send", to, String(total), "1000", "raw"],
    );
    report("pre-encoded batches from TypeScript → router", ceiling.figure);
    const zmq = report("libzmq direct PUB→SUB (C), 1/msg", await direct(bench, 2_000_000));
    console.log(
      `C emitter / libzmq direct: ${
        (c.figure.eventsPerSecond / zmq.eventsPerSecond).toFixed(2)
      }; ` +
        `C / TypeScript emitter: ${
          (c.figure.eventsPerSecond / ts.figure.eventsPerSecond).toFixed(2)
        }; C / pre-encoded TypeScript: ${
          (c.figure.eventsPerSecond / ceiling.figure.eventsPerSecond).toFixed(2)
        }`,
    );
    console.log(
      `target: ≥3,000,000 ev/s from the C emitter through the router with 0 lost: ${
        verdict(
          c.figure.eventsPerSecond >= 3e6 && c.figure.lost === 0 && detail.dropped === 0 &&
            c.figure.received === total,
        )
      }`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  // No flags of its own: those `deno task bench` hands every benchmark are ignored.
  benchArgs("deno run -A bench/c_emitter_bench.ts", { options: {}, strict: false });
  await cEmitterBench();
}
