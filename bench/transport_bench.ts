/**
 * Transport benchmark: 250-byte events over loopback, direct PUB→SUB and through
 * the router, batched and one event per message. Each side is its own process.
 *
 * @module
 */

import { freeLoopbackPort } from "./sample.ts";
import { verdict } from "./verdict.ts";
import { benchArgs } from "./args.ts";

const worker = new URL("./transport_worker.ts", import.meta.url).pathname;

function spawn(args: string[], env?: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", worker, ...args],
    env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function firstLine(
  child: Deno.ChildProcess,
): Promise<{ line: string; rest: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  return { line: text.split("\n")[0], rest: reader };
}

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  let text = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += new TextDecoder().decode(value);
  }
}

/** One measured run. */
export interface TransportResult {
  name: string;
  eventsPerSecond: number;
  megabytesPerSecond: number;
  received: number;
  lost: number;
}

/**
 * Runs one sender, receiver and (optionally) router, each its own process with
 * `env` added to its environment, and prints the receiver's figures.
 *
 * @example
 * ```ts ignore
 * import { runTransport } from "./transport_bench.ts";
 * await runTransport("through router, 1000/msg", {
 *   viaRouter: true, total: 1_000_000, per: 1000, send: "raw", receive: "raw",
 * });
 * ```
 */
export async function runTransport(
  name: string,
  options: {
    viaRouter: boolean;
    total: number;
    per: number;
    send: "raw" | "encode";
    receive: "raw" | "decode";
    env?: Record<string, string>;
    /** Replaces the TypeScript sender (another language's emitter, given where to publish). */
    sender?: (sendTo: string) => Deno.ChildProcess;
  },
): Promise<TransportResult> {
  const a = freeLoopbackPort();
  const b = freeLoopbackPort();
  let router: Deno.ChildProcess | undefined;
  let receiveAt = `@tcp://127.0.0.1:${a}`;
  const sendTo = `>tcp://127.0.0.1:${a}`;
  if (options.viaRouter) {
    router = spawn(["router", `@tcp://127.0.0.1:${a}`, `@tcp://127.0.0.1:${b}`], options.env);
    await firstLine(router);
    receiveAt = `>tcp://127.0.0.1:${b}`;
  }
  const receiver = spawn(
    ["receive", receiveAt, String(options.total), options.receive],
    options.env,
  );
  const { rest } = await firstLine(receiver);
  const sender = options.sender?.(sendTo) ?? spawn(
    ["send", sendTo, String(options.total), String(options.per), options.send],
    options.env,
  );
  const senderOut = await sender.output();
  const received = JSON.parse((await readAll(rest)).trim().split("\n").pop()!);
  await receiver.status;
  if (router) {
    router.kill("SIGTERM");
    await router.status;
  }
  void senderOut;
  const result = {
    name,
    eventsPerSecond: received.received / received.seconds,
    megabytesPerSecond: received.bytes / received.seconds / 1e6,
    received: received.received,
    lost: received.lost,
  };
  console.log(
    `${name.padEnd(44)} ${
      Math.round(result.eventsPerSecond).toLocaleString("en").padStart(11)
    } ev/s ` +
      `${
        result.megabytesPerSecond.toFixed(1).padStart(7)
      } MB/s  received ${result.received}, lost ${result.lost}`,
  );
  return result;
}

/** Runs the transport benchmark and prints figures and ratios. */
export async function transportBench(): Promise<void> {
  console.log(
    "transport: 250-byte events on loopback, sender / router / receiver in separate processes",
  );
  const batched = 3_000_000;
  const single = 400_000;
  const directBatched = await runTransport("direct PUB→SUB, 1000/msg", {
    viaRouter: false,
    total: batched,
    per: 1000,
    send: "raw",
    receive: "raw",
  });
  const routerBatched = await runTransport("through router, 1000/msg", {
    viaRouter: true,
    total: batched,
    per: 1000,
    send: "raw",
    receive: "raw",
  });
  const directSingle = await runTransport("direct PUB→SUB, 1/msg", {
    viaRouter: false,
    total: single,
    per: 1,
    send: "raw",
    receive: "raw",
  });
  const routerSingle = await runTransport("through router, 1/msg", {
    viaRouter: true,
    total: single,
    per: 1,
    send: "raw",
    receive: "raw",
  });
  const endToEnd = await runTransport("through router, encode+decode BSON, 1000/msg", {
    viaRouter: true,
    total: 1_000_000,
    per: 1000,
    send: "encode",
    receive: "decode",
  });
  console.log(
    `router/direct ratio: batched ${
      (routerBatched.eventsPerSecond / directBatched.eventsPerSecond).toFixed(2)
    }, ` +
      `single ${(routerSingle.eventsPerSecond / directSingle.eventsPerSecond).toFixed(2)}`,
  );
  console.log(
    `targets: ≥1,000,000 ev/s batched through the router with 0 lost: ${
      verdict(routerBatched.eventsPerSecond >= 1e6 && routerBatched.lost === 0)
    }; ` +
      `≥100,000 ev/s one per message: ${verdict(routerSingle.eventsPerSecond >= 1e5)}`,
  );
  void endToEnd;
}

if (import.meta.main) {
  // No flags of its own: those `deno task bench` hands every benchmark are ignored.
  benchArgs("deno run -A bench/transport_bench.ts", { options: {}, strict: false });
  await transportBench();
}
