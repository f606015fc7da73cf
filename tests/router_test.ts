import assert from "node:assert/strict";
import { Router } from "@eventstorm/router";
import { MessageBuilder } from "@eventstorm/core/internal";
import { SocketType, ZmqContext } from "../core/zmq/socket.ts";
import { emitter, gather, routerConfig, sleep, startRouter, waitFor } from "./helpers.ts";

// FFI waits and libzmq's own threads outlive a test's op bookkeeping; each test
// closes everything it opens itself.
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("router forwards allowed topics and refuses denied ones", opts, async () => {
  const r = startRouter({ allow: ["app."], deny: ["app.secret"] });
  const sink = await gather({ endpoints: r.sinks });
  const out = await emitter({ endpoints: r.sources });
  await waitFor(
    () => out.stats().subscriptions > 0,
    "the router's subscription to reach the source",
  );
  for (let i = 0; i < 100; i++) {
    out.emit("app.visible", { i });
    out.emit("app.secret.key", { i });
    out.emit("other.topic", { i });
  }
  await out.close();
  await waitFor(() => sink.events.length >= 100, "100 allowed events");
  await sleep(200);
  assert.equal(sink.events.length, 100);
  assert.ok(sink.events.every((event) => event.type === "app.visible"));
  assert.deepEqual(sink.events.map((event) => event.i), [...Array(100).keys()]);
  const stats = r.router.stats();
  // other.topic is outside the allow list: the router never subscribed to it upstream.
  assert.equal(stats.topics["other.topic"], undefined);
  assert.equal(out.stats().unsubscribed, 100);
  // app.secret.key is allowed by prefix but denied: it reaches the router and stops there.
  assert.equal(stats.topics["app.secret.key"].denied, 100);
  assert.equal(stats.denied, 100);
  assert.equal(stats.eventsOut, 100);
  await sink.stop();
  await r.stop();
});

Deno.test(
  "subscriptions propagate upstream: unwanted topics never leave the source",
  opts,
  async () => {
    const r = startRouter();
    const sink = await gather({ endpoints: r.sinks, topics: ["http."] });
    const out = await emitter({ endpoints: r.sources });
    await waitFor(() => out.stats().subscriptions > 0, "subscription at the source");
    for (let i = 0; i < 500; i++) {
      out.emit("http.hit", { i });
      out.emit("smtp.transaction", { i });
    }
    await out.close();
    await waitFor(() => sink.events.length >= 500, "500 http events");
    const stats = r.router.stats();
    assert.deepEqual(Object.keys(stats.topics), ["http.hit"]);
    assert.equal(stats.eventsIn, 500, "the router received only what a sink wanted");
    assert.equal(out.stats().unsubscribed, 500, "the source counted the smtp events nobody wanted");
    assert.deepEqual(stats.subscriptions, ["http."]);
    await sink.stop();
    await waitFor(
      () => r.router.stats().subscriptions.length === 0,
      "the unsubscription to propagate",
    );
    await r.stop();
  },
);

Deno.test(
  "a slow sink loses events at its high-water mark and counts them exactly",
  opts,
  async () => {
    const r = startRouter({ sendHwm: 4 });
    const { Collector } = await import("@eventstorm/core");
    const collector = await Collector.open({ endpoints: r.sinks, receiveHwm: 4 });
    // Announcing every 100 ms while idle is what reveals a lost tail: no later
    // message would.
    const out = await emitter({ endpoints: r.sources, maxEvents: 10, announceMs: 100 });
    await waitFor(() => out.stats().subscriptions > 0, "subscription at the source");
    const total = 20_000;
    for (let i = 0; i < total; i++) {
      out.emit("load.test", { i, pad: "x".repeat(200) });
      if (i % 1000 === 0) await out.flush();
    }
    await out.flush();
    let delivered = 0;
    const seen = new Set<number>();
    const batches = collector.batches()[Symbol.asyncIterator]();
    const deadline = Date.now() + 60_000;
    let pending: ReturnType<typeof batches.next> | undefined;
    // Consume slowly: the router's queue for this sink overflows meanwhile.
    while (delivered + collector.stats().lost < total) {
      if (Date.now() > deadline) {
        throw new Error(
          `after 60 s: ${delivered} delivered + ${collector.stats().lost} lost of ${total}`,
        );
      }
      // A pending next() must be kept, not asked again: its batch would be lost.
      pending ??= batches.next();
      const next = await Promise.race([pending, sleep(500).then(() => undefined)]);
      if (next === undefined) continue;
      pending = undefined;
      if (next.done) break;
      for (const event of next.value.events) seen.add(event.i as number);
      delivered += next.value.events.length;
      await sleep(5);
    }
    await out.close();
    const stats = collector.stats();
    assert.ok(
      stats.lost > 0,
      "the slow sink must have lost something for this test to mean anything",
    );
    assert.equal(
      delivered + stats.lost,
      total,
      "every event is either delivered or counted as lost",
    );
    assert.equal(seen.size, delivered, "nothing was delivered twice");
    assert.equal(stats.duplicates, 0);
    await collector.close();
    await r.stop();
  },
);

Deno.test("no loss on clean shutdown of the source", opts, async () => {
  const r = startRouter();
  const sink = await gather({ endpoints: r.sinks });
  const out = await emitter({ endpoints: r.sources });
  const total = 50_000;
  for (let i = 0; i < total; i++) {
    out.emit("bulk.event", { i });
    await out.ready();
  }
  await out.close();
  await waitFor(() => sink.events.length >= total, `${total} events`);
  assert.equal(sink.events.length, total);
  assert.equal(sink.collector.stats().lost, 0);
  assert.equal(out.stats().dropped, 0);
  await sink.stop();
  await r.stop();
});

Deno.test("two chained routers carry events and subscriptions end to end", opts, async () => {
  const upstream = startRouter();
  const downstream = startRouter({ sources: [upstream.sinks], allow: ["ssh."] });
  const sink = await gather({ endpoints: downstream.sinks, topics: ["ssh.login"] });
  const out = await emitter({ endpoints: upstream.sources });
  await waitFor(() => out.stats().subscriptions > 0, "the subscription to cross both routers");
  for (let i = 0; i < 300; i++) {
    out.emit("ssh.login", { i, result: "failed" });
    out.emit("http.hit", { i });
  }
  await out.close();
  await waitFor(() => sink.events.length >= 300, "300 logins");
  assert.equal(sink.events.length, 300);
  assert.deepEqual(upstream.router.stats().subscriptions, ["ssh.login"]);
  assert.equal(upstream.router.stats().topics["http.hit"], undefined);
  assert.equal(sink.collector.stats().lost, 0);
  await sink.stop();
  await downstream.stop();
  await upstream.stop();
});

Deno.test("two sources and two sinks with different subscriptions", opts, async () => {
  const r = startRouter();
  const web = await gather({ endpoints: r.sinks, topics: ["http."] });
  const all = await gather({ endpoints: r.sinks });
  const a = await emitter({ endpoints: r.sources, host: "a" });
  const b = await emitter({ endpoints: r.sources, host: "b" });
  await waitFor(
    () => a.stats().subscriptions >= 1 && b.stats().subscriptions >= 1,
    "subscriptions at both sources",
  );
  await waitFor(() => r.router.stats().subscriptions.includes(""), "the catch-all subscription");
  for (let i = 0; i < 200; i++) {
    a.emit("http.hit", { i });
    b.emit("http.hit", { i });
    b.emit("host.cpu", { i });
  }
  await Promise.all([a.close(), b.close()]);
  await waitFor(
    () => web.events.length >= 400 && all.events.length >= 600,
    "all events at both sinks",
  );
  assert.equal(web.events.length, 400);
  assert.ok(web.events.every((event) => event.type === "http.hit"));
  assert.equal(all.events.length, 600);
  assert.equal(all.events.filter((event) => event.host === "a").length, 200);
  const streams = all.collector.stats().streams;
  assert.equal(streams.length, 3, "one stream per (source, topic)");
  assert.ok(streams.every((stream) => stream.lost === 0 && stream.received === 200));
  await web.stop();
  await all.stop();
  await r.stop();
});

Deno.test("1 MiB messages pass through the router intact", opts, async () => {
  const r = startRouter({ maxMessageSize: 4 << 20 });
  const sink = await gather({ endpoints: r.sinks, maxMessageSize: 4 << 20 });
  const out = await emitter({ endpoints: r.sources, maxBytes: 1 << 20, maxEventBytes: 2 << 20 });
  await waitFor(() => out.stats().subscriptions > 0, "subscription at the source");
  const blob = "z".repeat((1 << 20) - 200);
  for (let i = 0; i < 20; i++) out.emit("big.blob", { i, blob });
  await out.close();
  await waitFor(() => sink.events.length >= 20, "20 large events");
  assert.ok(sink.events.every((event, i) => event.blob === blob && event.i === i));
  assert.equal(r.router.stats().malformed.oversized, undefined);
  await sink.stop();
  await r.stop();
});

Deno.test(
  "a message over the router's size limit is refused, and the router lives on",
  opts,
  async () => {
    const r = startRouter({ maxMessageSize: 64 * 1024 });
    const sink = await gather({ endpoints: r.sinks });
    const big = await emitter({ endpoints: r.sources, maxEventBytes: 1 << 20 });
    await waitFor(() => big.stats().subscriptions > 0, "subscription");
    big.emit("big.blob", { blob: "z".repeat(200_000) });
    await big.flush();
    await big.close();
    const small = await emitter({ endpoints: r.sources });
    await waitFor(() => small.stats().subscriptions > 0, "subscription");
    small.emit("small.event", { ok: true });
    await small.close();
    await waitFor(() => sink.events.length >= 1, "the small event");
    assert.deepEqual(sink.events.map((event) => event.type), ["small.event"]);
    await sink.stop();
    await r.stop();
  },
);

Deno.test("the router publishes its counters as eventstorm.stats events", opts, async () => {
  const lines: string[] = [];
  const router = new Router(routerConfig({ statsIntervalMs: 300 }), {
    print: (line) => lines.push(line),
  });
  const running = router.run();
  const { sources, sinks } = router.boundEndpoints();
  const sink = await gather({ endpoints: `>${sinks}`, topics: ["eventstorm.stats", "app."] });
  const out = await emitter({ endpoints: `>${sources}` });
  await waitFor(() => out.stats().subscriptions > 0, "subscription");
  for (let i = 0; i < 42; i++) out.emit("app.tick", { i });
  await out.close();
  await waitFor(
    () => sink.events.some((event) => event.type === "eventstorm.stats" && event.received === 42),
    "a stats event counting the 42 events",
  );
  const stats = sink.events.find((event) =>
    event.type === "eventstorm.stats" && event.received === 42
  )!;
  assert.equal(stats.component, "router");
  assert.equal(stats.sent, 42);
  assert.equal(stats.lost, 0);
  assert.ok(
    lines.some((line) => /^router: in .* total in 42 out 42, lost 0/.test(line)),
    lines.join("\n"),
  );
  await sink.stop();
  await router.close();
  await running;
});

Deno.test(
  "the router drops malformed messages, counts each reason, forwards the rest",
  opts,
  async () => {
    const r = startRouter();
    const sink = await gather({ endpoints: r.sinks, topics: ["app."] });
    const context = new ZmqContext();
    try {
      const publisher = context.socket(SocketType.XPUB);
      publisher.configure({ lingerMs: 0 });
      publisher.attach({ bind: false, address: r.sources.slice(1) });
      // The sink's subscription reaches this socket through the router.
      await waitFor(
        () => publisher.receive([new Uint8Array(64)], new Int32Array(1)) > 0,
        "the subscription through the router",
      );
      const builder = new MessageBuilder(7n);
      const valid = (n: number) =>
        builder.build("app.ok", [{ type: "app.ok", time: new Date(), host: "h", n }]);
      const withHeader = (change: (view: DataView) => void) => {
        const frames = valid(0);
        const header = frames[1].slice();
        change(new DataView(header.buffer));
        return [frames[0], header, frames[2]];
      };
      const utf8 = new TextEncoder();
      const bad: [string, Uint8Array[]][] = [
        ["frames", [...valid(0), new Uint8Array(1)]],
        ["frames", [utf8.encode("app.ok")]],
        ["topic", [utf8.encode("app.Bad Topic"), ...valid(0).slice(1)]],
        ["topic", [new Uint8Array([0x61, 0x70, 0x70, 0x2e, 0xff]), ...valid(0).slice(1)]],
        ["header_size", [valid(0)[0], valid(0)[1].slice(0, 23), valid(0)[2]]],
        ["magic", withHeader((view) => view.setUint8(0, 0xe4))],
        ["version", withHeader((view) => view.setUint8(1, 2))],
        ["flags", withHeader((view) => view.setUint16(2, 1, true))],
        ["count", withHeader((view) => view.setUint32(4, 2, true))],
        ["index", withHeader((view) => view.setBigUint64(16, 1n << 53n, true))],
        ["oversized", [...valid(0).slice(0, 2), valid(0)[2].slice(0, -3)]],
        [
          "bson",
          (() => {
            const frames = valid(0);
            const body = frames[2].slice();
            body[body.length - 1] = 1; // no final NUL
            return [frames[0], frames[1], body];
          })(),
        ],
      ];
      const expected: Record<string, number> = {};
      for (const [reason, frames] of bad) {
        expected[reason] = (expected[reason] ?? 0) + 1;
        assert.ok(publisher.send(frames));
        assert.ok(publisher.send(valid(1)), "a good message after each bad one");
      }
      await waitFor(() => sink.events.length === bad.length, `${bad.length} good events`);
      await waitFor(
        () =>
          Object.values(r.router.stats().malformed).reduce((a, b) => a + (b ?? 0), 0) >= bad.length,
        "the router to count every bad message",
      );
      assert.deepEqual(r.router.stats().malformed, expected);
      assert.ok(sink.events.every((event) => event.n === 1));
      const downstream = sink.collector.stats();
      assert.deepEqual(downstream.malformed, {}, "nothing malformed got past the router");
      // The bad messages were built (numbered) first, so the good ones are gapless.
      assert.equal(downstream.lost, 0);
      assert.equal(downstream.events, bad.length);
      publisher.close();
    } finally {
      await context.terminate();
      await sink.stop();
      await r.stop();
    }
  },
);
