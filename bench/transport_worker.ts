/**
 * One process of the transport benchmark: a sender, a receiver or a router.
 * Usage: deno run -A bench/transport_worker.ts send|receive|router ...
 *
 * @module
 */
import { Collector, type CurveOptions, Emitter } from "@eventstorm/core";
import { encodeBatch } from "@eventstorm/core/protocol";
import { Router } from "@eventstorm/router";

import { sampleEvent } from "./sample.ts";

const [role, ...args] = Deno.args;

/**
 * With `EVENTSTORM_BENCH_CURVE` (JSON of Z85 keys: `server`, `serverSecret`,
 * `client`, `clientSecret`) every link is CURVE: the router is the server, the
 * sender and receiver its clients; the plaintext runs leave it unset.
 */
const curveKeys = JSON.parse(Deno.env.get("EVENTSTORM_BENCH_CURVE") ?? "null") as
  | { server: string; serverSecret: string; client: string; clientSecret: string }
  | null;
const clientCurve: CurveOptions | undefined = curveKeys
  ? { serverKey: curveKeys.server, secretKey: curveKeys.clientSecret, publicKey: curveKeys.client }
  : undefined;
const serverCurve: CurveOptions | undefined = curveKeys
  ? { secretKey: curveKeys.serverSecret, publicKey: curveKeys.server }
  : undefined;

if (role === "send") {
  // send ENDPOINT TOTAL PER_MESSAGE MODE(raw|encode)
  const [endpoint, totalText, perText, mode] = args;
  const total = Number(totalText);
  const per = Number(perText);
  const emitter = await Emitter.open({
    endpoints: endpoint,
    maxEvents: per,
    lingerMs: 5,
    sendHwm: per === 1 ? 100_000 : 1000,
    curve: clientCurve,
  });
  const deadline = Date.now() + 10_000;
  while (emitter.stats().subscriptions === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 200));
  const body = encodeBatch(Array.from({ length: per }, (_, i) => sampleEvent(i)));
  const started = performance.now();
  if (mode === "raw") {
    for (let sent = 0; sent < total; sent += per) {
      emitter.sendEncoded("http.hit", body, per);
      await emitter.ready();
    }
  } else {
    for (let i = 0; i < total; i++) {
      emitter.send(sampleEvent(i));
      if (i % per === per - 1) await emitter.ready();
    }
  }
  await emitter.close();
  const seconds = (performance.now() - started) / 1000;
  console.log(
    JSON.stringify({
      role,
      seconds,
      events: emitter.stats().eventsSent,
      dropped: emitter.stats().dropped,
    }),
  );
  Deno.exit(0);
} else if (role === "receive") {
  // receive ENDPOINT TOTAL MODE(raw|decode)
  const [endpoint, totalText, mode] = args;
  const total = Number(totalText);
  const collector = await Collector.open({
    endpoints: endpoint,
    receiveHwm: 100_000,
    curve: clientCurve,
  });
  console.log(JSON.stringify({ role, ready: true }));
  let received = 0;
  let bytes = 0;
  let started = 0;
  let lastReceive = Date.now() + 55_000;
  // Stop after 5 s of silence: the rest was lost where no later message reveals it.
  const watchdog = setInterval(() => Date.now() - lastReceive > 5000 && collector.close(), 500);
  const source = mode === "raw" ? collector.messages() : collector.batches();
  for await (const message of source) {
    if (started === 0) started = performance.now();
    if ("body" in message) {
      received += message.count;
      bytes += message.body.length;
    } else {
      received += message.events.length;
    }
    if (received + collector.stats().lost >= total) break;
    lastReceive = Date.now();
  }
  clearInterval(watchdog);
  const seconds = (performance.now() - started) / 1000;
  const stats = collector.stats();
  await collector.close();
  console.log(
    JSON.stringify({ role, seconds, received, bytes: bytes || stats.bytes, lost: stats.lost }),
  );
  Deno.exit(0);
} else if (role === "router") {
  const [sources, sinks] = args;
  const router = new Router({
    sources: [sources],
    sinks: [sinks],
    allow: [],
    deny: [],
    statsIntervalMs: 0,
    maxMessageSize: 16 << 20,
    sendHwm: 100_000,
    receiveHwm: 100_000,
    curve: serverCurve,
  }, { print: () => {} });
  const signal = new AbortController();
  Deno.addSignalListener("SIGTERM", () => signal.abort());
  console.log(JSON.stringify({ role, ready: true }));
  await router.run(signal.signal);
  const stats = router.stats();
  console.error(
    JSON.stringify({
      role,
      eventsIn: stats.eventsIn,
      eventsOut: stats.eventsOut,
      lost: stats.lost,
    }),
  );
  Deno.exit(0);
}
