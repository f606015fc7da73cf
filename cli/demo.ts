/**
 * `eventstorm demo` (`deno task demo`): a router, the demo source and a live
 * rate line, in one process, on the default endpoints.
 *
 * @module
 */
import {
  Collector,
  type CommandSpec,
  Emitter,
  helpText,
  integerFlag,
  parseFlags,
  shutdownSignal,
} from "@eventstorm/core";
import { Router } from "../router/mod.ts";
import { runDemoSource } from "../sources/demo/mod.ts";
import { formatTapLine } from "./tap.ts";

/** The `eventstorm demo` command line. */
export const DEMO_PIPELINE_COMMAND: CommandSpec = {
  name: "eventstorm demo",
  summary: "run router + demo source + tap on the default endpoints and show live rates",
  flags: {
    rate: { type: "string", value: "N", default: "2000", help: "demo events per second" },
    "sources-port": {
      type: "string",
      value: "PORT",
      default: "5555",
      help: "router port for sources",
    },
    "sinks-port": { type: "string", value: "PORT", default: "5556", help: "router port for sinks" },
    seconds: { type: "string", value: "N", help: "stop after N seconds [default: until Ctrl-C]" },
  },
};

/** Runs the demo pipeline; resolves with the exit code. */
export async function demoPipelineMain(args: string[]): Promise<number> {
  const parsed = parseFlags(args, DEMO_PIPELINE_COMMAND);
  if (parsed.help) {
    console.log(helpText(DEMO_PIPELINE_COMMAND));
    return 0;
  }
  const rate = integerFlag(parsed.values, "rate", { min: 1, max: 10_000_000 })!;
  const sourcesPort = integerFlag(parsed.values, "sources-port", { min: 1, max: 65535 })!;
  const sinksPort = integerFlag(parsed.values, "sinks-port", { min: 1, max: 65535 })!;
  const seconds = integerFlag(parsed.values, "seconds", { min: 1 });
  const signal = shutdownSignal();
  const stop = new AbortController();
  signal.addEventListener("abort", () => stop.abort(), { once: true });
  if (seconds) setTimeout(() => stop.abort(), seconds * 1000);

  const router = new Router({
    sources: [`@tcp://127.0.0.1:${sourcesPort}`],
    sinks: [`@tcp://127.0.0.1:${sinksPort}`],
    allow: [],
    deny: [],
    statsIntervalMs: 0,
    maxMessageSize: 16 << 20,
    sendHwm: 1000,
    receiveHwm: 1000,
  });
  const routing = router.run();
  const tap = await Collector.open({ endpoints: `>tcp://127.0.0.1:${sinksPort}` });
  const output = await Emitter.open({ endpoints: `>tcp://127.0.0.1:${sourcesPort}` });
  console.log(
    `demo: router on tcp://127.0.0.1:${sourcesPort} (sources) and :${sinksPort} (sinks), ${rate} events/s; Ctrl-C stops`,
  );
  console.log(`demo: in another terminal try: deno run -A cli.ts tap --topic ssh. | head`);
  const counting = (async () => {
    for await (const _ of tap.batches()) { /* counted by the collector */ }
  })();
  let previous = tap.stats();
  let previousAt = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const current = tap.stats();
    const topics = new Map<string, number>();
    for (const stream of current.streams) {
      topics.set(stream.topic, (topics.get(stream.topic) ?? 0) + stream.received);
    }
    console.log(
      `${formatTapLine(current, previous, now - previousAt)} | ${
        [...topics].map(([t, n]) => `${t} ${n}`).join(", ")
      }`,
    );
    previous = current;
    previousAt = now;
  }, 1000);
  const emitted = await runDemoSource({ rate, output, signal: stop.signal });
  clearInterval(timer);
  await output.close();
  // Let the last batches cross the router before the tap closes.
  const sent = output.stats().eventsSent;
  const deadline = Date.now() + 3000;
  while (tap.stats().events + tap.stats().lost < sent && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await tap.close();
  await counting;
  await router.close();
  await routing;
  const final = tap.stats();
  console.log(
    `demo: emitted ${emitted}, received ${final.events}, lost ${final.lost} (counted by stream index)`,
  );
  return 0;
}
