/**
 * The router under hostile or extreme input (issue 11): subscription bursts,
 * forged stream indexes, end-of-stream loss, and input that never pauses.
 */
import assert from "node:assert/strict";
import { readCertificate } from "@eventstorm/core";
import { MessageBuilder } from "@eventstorm/core/internal";
import { encodeHeader } from "@eventstorm/core/protocol";
import { SocketType, ZmqContext, type ZmqSocket } from "../core/zmq/socket.ts";
import { cli, emitter, finish, gather, sleep, startRouter, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Reads every subscription message waiting on an XPUB socket into `active`. */
function readSubscriptions(socket: ZmqSocket, active: Set<string>): number {
  const buffers = [new Uint8Array(256)];
  const sizes = new Int32Array(1);
  const decoder = new TextDecoder();
  let read = 0;
  while (socket.receive(buffers, sizes) > 0) {
    read++;
    const prefix = decoder.decode(buffers[0].subarray(1, sizes[0]));
    if (buffers[0][0] === 1) active.add(prefix);
    else active.delete(prefix);
  }
  return read;
}

async function subscriptionBurst(total: number): Promise<void> {
  const r = startRouter();
  const context = new ZmqContext();
  // A source seen from the router: an XPUB that hears the subscriptions.
  const source = context.socket(SocketType.XPUB);
  source.configure({ sendHwm: 0, lingerMs: 0 });
  source.attach({ bind: false, address: r.sources.slice(1) });
  const upstream = new Set<string>();
  // The subscriber's own queue is unbounded, so whatever goes missing went missing in the router.
  const subscriber = context.socket(SocketType.XSUB);
  subscriber.configure({ sendHwm: 0, receiveHwm: 0, lingerMs: 0 });
  subscriber.attach({ bind: false, address: r.sinks.slice(1) });
  await sleep(200);
  const encoder = new TextEncoder();
  const prefixes = Array.from({ length: total }, (_, i) => `burst.p${i}.`);
  for (const prefix of prefixes) {
    assert.ok(subscriber.sendSubscription(true, encoder.encode(prefix)));
  }
  try {
    await waitFor(
      () => {
        readSubscriptions(source, upstream);
        return upstream.size === total;
      },
      `${total} subscriptions upstream`,
      20_000,
    ).catch((error) => {
      throw new Error(`${error.message}: ${upstream.size} arrived`);
    });
    // Every prefix's events reach the subscriber.
    const builder = new MessageBuilder(7n);
    let sent = 0;
    for (const prefix of prefixes) {
      const topic = `${prefix}x`;
      while (!source.send(builder.build(topic, [{ type: topic, time: new Date(), host: "h" }]))) {
        await sleep(1);
      }
      if (++sent % 500 === 0) await sleep(1);
    }
    const buffers = [new Uint8Array(256), new Uint8Array(64), new Uint8Array(4096)];
    const sizes = new Int32Array(3);
    const topics = new Set<string>();
    const decoder = new TextDecoder();
    await waitFor(
      () => {
        while (subscriber.receive(buffers, sizes) > 0) {
          topics.add(decoder.decode(buffers[0].subarray(0, sizes[0])));
        }
        return topics.size === total;
      },
      `events on all ${total} prefixes`,
      20_000,
    ).catch((error) => {
      throw new Error(`${error.message}: ${topics.size} arrived`);
    });
    // After the subscriber leaves, nothing stays subscribed upstream.
    subscriber.close();
    await waitFor(
      () => {
        readSubscriptions(source, upstream);
        return upstream.size === 0;
      },
      "every unsubscription upstream",
      20_000,
    ).catch((error) => {
      throw new Error(`${error.message}: ${upstream.size} stale`);
    });
    assert.deepEqual(r.router.stats().subscriptions, []);
    assert.equal(r.router.counters().subscriptions_lost ?? 0, 0);
  } finally {
    if (!subscriber.closed) subscriber.close();
    source.close();
    await context.terminate();
    await r.stop();
  }
}

Deno.test(
  "a burst of 5,000 subscriptions reaches the sources and leaves none behind",
  opts,
  () => subscriptionBurst(5_000),
);

Deno.test(
  "a burst of 50,000 subscriptions reaches the sources and leaves none behind",
  opts,
  () => subscriptionBurst(50_000),
);

Deno.test(
  "a 10 KB topic is counted as a bad topic, by the router and by a collector",
  opts,
  async () => {
    const r = startRouter();
    const sink = await gather({ endpoints: r.sinks });
    const context = new ZmqContext();
    const source = context.socket(SocketType.XPUB);
    source.configure({ lingerMs: 0 });
    source.attach({ bind: false, address: r.sources.slice(1) });
    try {
      await waitFor(() => r.router.stats().subscriptions.length > 0, "the router's subscription");
      const [, header, body] = new MessageBuilder(9n).build("app.x", [
        { type: "app.x", time: new Date(), host: "h" },
      ]);
      const long = new TextEncoder().encode("a".repeat(10_000));
      // Straight to the collector too: a receiver a source binds to sees the same.
      const direct = await gather({ endpoints: `@tcp://127.0.0.1:*` });
      const peer = context.socket(SocketType.XPUB);
      peer.configure({ lingerMs: 0 });
      peer.attach({ bind: false, address: direct.collector.boundEndpoint() });
      try {
        await waitFor(() => {
          source.send([long, header, body]);
          peer.send([long, header, body]);
          return (r.router.stats().malformed.topic ?? 0) > 0 &&
            (direct.collector.stats().malformed.topic ?? 0) > 0;
        }, "the long topic to be counted");
        assert.equal(r.router.stats().malformed.oversized, undefined);
        assert.equal(direct.collector.stats().malformed.oversized, undefined);
      } finally {
        // libzmq aborts (session_base.cpp, zeromq/libzmq#3442) when a socket closes while its
        // session still holds part of a multipart message: let the last sends go first.
        await sleep(200);
        peer.close();
        await direct.stop();
      }
    } finally {
      source.close();
      await context.terminate();
      await sink.stop();
      await r.stop();
    }
  },
);

/** Sends `frames` from a raw publisher at `address` (optionally from a given local address). */
async function forge(
  context: ZmqContext,
  router: string,
  frames: Uint8Array[],
  from?: string,
): Promise<void> {
  const forger = context.socket(SocketType.XPUB);
  forger.configure({ lingerMs: 1000 });
  const target = router.slice(">tcp://".length);
  forger.attach({ bind: false, address: from ? `tcp://${from}:0;${target}` : `tcp://${target}` });
  // Wait for the router's subscription, so that the forged message is not filtered away.
  await waitFor(() => forger.receive([new Uint8Array(64)], new Int32Array(1)) > 0, "subscription");
  assert.ok(forger.send(frames));
  await sleep(200);
  forger.close();
}

Deno.test(
  "a forged index jump is refused and cannot silence another source's stream",
  opts,
  async () => {
    const r = startRouter();
    const sink = await gather({ endpoints: r.sinks });
    const context = new ZmqContext();
    const victim = await emitter({ endpoints: r.sources });
    try {
      await waitFor(() => victim.stats().subscriptions > 0, "the router's subscription");
      for (let i = 0; i < 10; i++) victim.emit("app.victim", { i });
      await victim.flush();
      await waitFor(() => sink.events.length === 10, "the first 10 events");
      // A count-0 announcement of the victim's stream at 2^53 - 1.
      const header = encodeHeader({
        flags: 0,
        count: 0,
        source: victim.sourceId,
        first: Number.MAX_SAFE_INTEGER,
      });
      await forge(context, r.sources, [
        new TextEncoder().encode("app.victim"),
        header,
        new Uint8Array(0),
      ]);
      await waitFor(() => (r.router.stats().malformed.index ?? 0) === 1, "the forgery counted");
      for (let i = 10; i < 20; i++) victim.emit("app.victim", { i });
      await victim.flush();
      await waitFor(() => sink.events.length === 20, "the next 10 events");
      assert.deepEqual(sink.events.map((event) => event.i), [...Array(20).keys()]);
      const stats = r.router.stats();
      assert.equal(stats.lost, 0);
      assert.equal(stats.duplicates, 0);
      assert.equal(sink.collector.stats().lost, 0);
      assert.equal(sink.collector.stats().duplicates, 0);
    } finally {
      await victim.close();
      await context.terminate();
      await sink.stop();
      await r.stop();
    }
  },
);

Deno.test(
  "the lost tail of a stream whose sender is gone reaches the count of a stopped tap",
  opts,
  async () => {
    // A small queue per sink, so that the stopped tap's share overflows quickly.
    const r = startRouter({ sendHwm: 20 });
    const tap = cli(["tap", "--from", r.sinks.slice(1), "--stats", "--interval", "1s"]);
    const total = 300_000;
    try {
      await waitFor(() => r.router.stats().subscriptions.length > 0, "tap's subscription");
      tap.kill("SIGSTOP");
      const sender = await emitter({ endpoints: r.sources });
      await waitFor(() => sender.stats().subscriptions > 0, "the router's subscription");
      for (let i = 0; i < total; i++) sender.emit("app.tail", { i, pad: "x".repeat(100) });
      // The sender finishes and leaves while tap still sleeps: its own last
      // announcement dies in the full queue too.
      await sender.close();
      await waitFor(() => r.router.stats().eventsIn === total, "every event at the router");
      await sleep(500);
      tap.kill("SIGCONT");
      // The router announces every second: give it two.
      await sleep(2500);
      tap.kill("SIGTERM");
      const { stderr } = await finish(tap);
      const line = stderr.split("\n").find((l) => /^tap: total/.test(l)) ?? stderr;
      const match = line.match(/total (\d+) events, lost (\d+)/);
      assert.ok(match, line);
      const [received, lost] = [Number(match[1]), Number(match[2])];
      assert.ok(lost > 0, `the stopped tap lost nothing, so the test proves nothing: ${line}`);
      assert.equal(received + lost, total, line);
    } finally {
      try {
        tap.kill("SIGKILL");
      } catch { /* gone */ }
      await tap.status;
      await r.stop();
    }
  },
);

Deno.test(
  "a stream belongs to the peer that used it first; a restarted source keeps it",
  opts,
  async () => {
    const r = startRouter();
    const sink = await gather({ endpoints: r.sinks });
    // A receiver a source connects to directly judges the same way.
    const direct = await gather({ endpoints: "@tcp://127.0.0.1:*" });
    const directAt = `>${direct.collector.boundEndpoint()}`;
    const context = new ZmqContext();
    let victim = await emitter({ endpoints: [r.sources, directAt] });
    const source = victim.sourceId;
    try {
      await waitFor(() => victim.stats().subscriptions > 0, "the subscriptions");
      await sleep(500); // the same prefix from both receivers counts once
      for (let i = 0; i < 10; i++) victim.emit("app.owned", { i });
      await victim.flush();
      await waitFor(() => sink.events.length === 10 && direct.events.length === 10, "10 events");
      // Another host claims the victim's stream with a jump small enough to be plausible.
      const header = encodeHeader({ flags: 0, count: 0, source, first: 1000 });
      const frames = [new TextEncoder().encode("app.owned"), header, new Uint8Array(0)];
      await forge(context, r.sources, frames, "127.0.0.2");
      await forge(context, directAt, frames, "127.0.0.2");
      await waitFor(
        () =>
          r.router.stats().malformed.owner === 1 && direct.collector.stats().malformed.owner === 1,
        "the claims refused",
      );
      // The victim restarts from its checkpoint: same id, same host, the stream goes on.
      const positions = victim.positions();
      await victim.close();
      victim = await emitter({ endpoints: [r.sources, directAt], sourceId: source, positions });
      await waitFor(() => victim.stats().subscriptions > 0, "the subscriptions again");
      await sleep(500);
      for (let i = 10; i < 20; i++) victim.emit("app.owned", { i });
      await victim.flush();
      await waitFor(() => sink.events.length === 20 && direct.events.length === 20, "20 events");
      assert.deepEqual(sink.events.map((event) => event.i), [...Array(20).keys()]);
      assert.deepEqual(direct.events.map((event) => event.i), [...Array(20).keys()]);
      for (const stats of [r.router.stats(), sink.collector.stats(), direct.collector.stats()]) {
        assert.equal(stats.lost, 0);
        assert.equal(stats.duplicates, 0);
      }
    } finally {
      await victim.close();
      await context.terminate();
      await direct.stop();
      await sink.stop();
      await r.stop();
    }
  },
);

Deno.test(
  "with CURVE a stream belongs to a client key, even from the same address",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "owner_curve_" });
    try {
      await Deno.mkdir(`${dir}/clients`);
      for (const name of ["router", "clients/web1", "clients/evil", "clients/tap"]) {
        assert.equal((await finish(cli(["keygen", `${dir}/${name}`]))).code, 0);
      }
      const secret = readCertificate(`${dir}/router_secret`, { secret: true });
      const serverKey = readCertificate(`${dir}/router`).publicKey;
      const curveOf = (name: string) => {
        const mine = readCertificate(`${dir}/clients/${name}_secret`, { secret: true });
        return { serverKey, secretKey: mine.secretKey!, publicKey: mine.publicKey };
      };
      const r = startRouter({
        curve: { secretKey: secret.secretKey!, publicKey: secret.publicKey },
        allowKeys: `${dir}/clients`,
      });
      const sink = await gather({ endpoints: r.sinks, curve: curveOf("tap") });
      let victim = await emitter({ endpoints: r.sources, curve: curveOf("web1") });
      const source = victim.sourceId;
      try {
        await waitFor(() => victim.stats().subscriptions > 0, "the router's subscription");
        for (let i = 0; i < 10; i++) victim.emit("app.keyed", { i });
        await victim.flush();
        await waitFor(() => sink.events.length === 10, "10 events");
        // Another admitted client on the same host claims web1's source id.
        const evil = await emitter({
          endpoints: r.sources,
          curve: curveOf("evil"),
          sourceId: source,
          positions: { "app.keyed": 20 },
        });
        await waitFor(() => evil.stats().subscriptions > 0, "evil's subscription");
        evil.emit("app.keyed", { i: -1 });
        await evil.close();
        // Its event and its closing announcement, both refused.
        await waitFor(() => r.router.stats().malformed.owner === 2, "the claims refused");
        // web1 restarted: same key, same stream.
        const positions = victim.positions();
        await victim.close();
        victim = await emitter({
          endpoints: r.sources,
          curve: curveOf("web1"),
          sourceId: source,
          positions,
        });
        await waitFor(() => victim.stats().subscriptions > 0, "the subscription again");
        for (let i = 10; i < 20; i++) victim.emit("app.keyed", { i });
        await victim.flush();
        await waitFor(() => sink.events.length === 20, "20 events");
        assert.deepEqual(sink.events.map((event) => event.i), [...Array(20).keys()]);
        assert.equal(r.router.stats().lost, 0);
        assert.equal(sink.collector.stats().lost, 0);
      } finally {
        await victim.close();
        await sink.stop();
        await r.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
