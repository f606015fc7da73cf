import assert from "node:assert/strict";
import { BSON } from "bson";
import { encodeBatch } from "./codec.ts";
import { Collector, type CollectorOptions, type EventBatch } from "./collector.ts";
import { Emitter } from "./emitter.ts";
import { DROP_REASONS, encodeHeader, type Header } from "./protocol.ts";
import { SocketType, ZmqContext, type ZmqSocket } from "./zmq/socket.ts";
import { sleep, waitFor } from "../tests/wait.ts";

const utf8 = new TextEncoder();
const time = new Date("2026-11-23T10:00:00Z");

/** A collector bound on a free port whose batches are gathered in the background. */
async function gather(options: Partial<CollectorOptions> = {}) {
  const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*", ...options });
  const batches: EventBatch[] = [];
  const loop = (async () => {
    for await (const batch of collector.batches()) batches.push(batch);
  })();
  return {
    collector,
    batches,
    endpoint: collector.boundEndpoint(),
    events: () => batches.flatMap((batch) => batch.events),
    stop: async () => {
      await collector.close();
      await loop;
    },
  };
}

/**
 * A raw publisher connected to `endpoint`. It is an XPUB so the test can wait for
 * the collector's subscription instead of guessing when the connection is up.
 */
async function rawPublisher(context: ZmqContext, endpoint: string): Promise<ZmqSocket> {
  const socket = context.socket(SocketType.XPUB);
  socket.configure({ lingerMs: 0, sendHwm: 100_000 });
  socket.attach({ bind: false, address: endpoint });
  const buffers = [new Uint8Array(256)];
  const sizes = new Int32Array(1);
  await waitFor(() => socket.receive(buffers, sizes) > 0, "the collector's subscription");
  return socket;
}

function event(n: number, type = "a.b", extra: Record<string, unknown> = {}) {
  return { type, time, host: "h", n, ...extra };
}

function header(fields: Partial<Header> = {}): Uint8Array {
  return encodeHeader({ flags: 0, count: 1, source: 77n, first: 0, ...fields });
}

function sum(counts: Partial<Record<string, number>>): number {
  return Object.values(counts).reduce((total: number, n) => total + (n ?? 0), 0);
}

Deno.test("collector: every malformed message is dropped and counted by reason", async () => {
  const { collector, batches, endpoint, stop } = await gather();
  const context = new ZmqContext();
  try {
    const publisher = await rawPublisher(context, endpoint);
    const topic = utf8.encode("a.b");
    const body = encodeBatch([event(0)]);
    const badBson = encodeBatch([{ ...event(0), s: "abcd" }]);
    badBson[badBson.lastIndexOf(0x61)] = 0xff; // invalid UTF-8 in a string value
    const flip = (bytes: Uint8Array, at: number, value: number) => {
      const copy = bytes.slice();
      copy[at] = value;
      return copy;
    };
    const bigFirst = header();
    new DataView(bigFirst.buffer).setBigUint64(16, 2n ** 60n, true);
    const cases: [string, Uint8Array[]][] = [
      ["frames", [topic]],
      ["frames", [topic, header(), body, body]],
      ["frames", [topic, header(), body, body, body, body]],
      ["topic", [new Uint8Array([0x61, 0xff, 0x62]), header(), body]],
      ["topic", [utf8.encode("Not A Type"), header(), body]],
      ["topic", [new Uint8Array(0), body]],
      ["header_size", [topic, new Uint8Array(23), body]],
      ["header_size", [topic, new Uint8Array(25), body]],
      ["magic", [topic, flip(header(), 0, 0xe6), body]],
      ["version", [topic, flip(header(), 1, 2), body]],
      ["flags", [topic, flip(header(), 3, 0x80), body]],
      ["index", [topic, bigFirst, body]],
      ["count", [topic, header({ count: 2 }), body]],
      ["count", [topic, new Uint8Array(0)]],
      ["truncated", [topic, header(), body.subarray(0, 3)]],
      ["oversized", [topic, header(), body.subarray(0, body.length - 2)]],
      ["bson", [topic, header(), flip(body, body.length - 1, 1)]],
      ["bson", [topic, header({ source: 5n }), badBson]],
      // A topic frame larger than the collector's topic buffer is longer than any valid type.
      ["topic", [utf8.encode("a".repeat(2000)), header(), body]],
    ];
    const expected: Record<string, number> = {};
    for (const [reason, frames] of cases) {
      assert.ok(publisher.send(frames));
      expected[reason] = (expected[reason] ?? 0) + 1;
    }
    const valid = [topic, header({ source: 8n, first: 3 }), encodeBatch([event(42)])];
    assert.ok(publisher.send(valid));
    await waitFor(() => batches.length > 0, "the valid message");
    const stats = collector.stats();
    assert.deepEqual(stats.malformed, expected);
    assert.equal(stats.messages, cases.length + 1);
    assert.equal(batches.length, 1);
    assert.equal(batches[0].events[0].n, 42);
    assert.equal(batches[0].source, 8n);
    assert.equal(batches[0].first, 3);
    assert.equal(stats.events, 1);
    // The undecodable message had a valid header: it is charged to its stream.
    const stream5 = stats.streams.find((stream) => stream.source === "5");
    assert.equal(stream5?.malformed, 1);
    for (const reason of Object.keys(stats.malformed)) {
      assert.ok((DROP_REASONS as readonly string[]).includes(reason), reason);
    }
  } finally {
    await context.terminate();
    await stop();
  }
});

Deno.test("collector: a two-frame message is delivered and counted as unaccounted", async () => {
  const { collector, batches, endpoint, stop } = await gather();
  const context = new ZmqContext();
  try {
    const publisher = await rawPublisher(context, endpoint);
    publisher.send([utf8.encode("min.x"), encodeBatch([event(1, "min.x"), event(2, "min.x")])]);
    await waitFor(() => batches.length === 1, "the minimal message");
    assert.deepEqual(batches[0].events.map((e) => e.n), [1, 2]);
    assert.equal(batches[0].source, undefined);
    assert.equal(batches[0].first, undefined);
    assert.ok(batches[0].events[0].time instanceof Date);
    const stats = collector.stats();
    assert.equal(stats.unaccounted, 2);
    assert.equal(stats.events, 2);
    assert.equal(stats.lost, 0);
    assert.deepEqual(stats.streams, []);
  } finally {
    await context.terminate();
    await stop();
  }
});

Deno.test("collector: bad envelopes and off-topic documents are rejected one by one", async () => {
  const { collector, batches, endpoint, stop } = await gather();
  const context = new ZmqContext();
  try {
    const publisher = await rawPublisher(context, endpoint);
    const docs = [event(0), { type: "a.b", host: "h", n: 1 }, event(2, "c.d"), event(3)];
    publisher.send([utf8.encode("a.b"), header({ first: 10, count: 4 }), encodeBatch(docs)]);
    await waitFor(() => batches.length === 2, "the message, in two runs");
    // Split around the rejected ones, each batch's events[i] is stream index first + i.
    assert.deepEqual(batches.map((b) => [b.first, b.events.map((e) => e.n)]), [
      [10, [0]],
      [13, [3]],
    ]);
    assert.equal(collector.stats().rejectedEvents, 2);
    assert.equal(collector.stats().events, 2);
  } finally {
    await context.terminate();
    await stop();
  }
});

Deno.test("collector: stream indexes give exact loss and skip replays", async () => {
  const { collector, batches, endpoint, stop } = await gather();
  const context = new ZmqContext();
  try {
    const publisher = await rawPublisher(context, endpoint);
    const topic = utf8.encode("a.b");
    const send = (first: number, ns: number[]) =>
      publisher.send([
        topic,
        header({ first, count: ns.length }),
        encodeBatch(ns.map((n) => event(n))),
      ]);
    send(10, [10, 11, 12]); // joins the stream at 10: not loss
    send(15, [15]); // 13, 14 lost
    send(11, [11, 12]); // a whole replay: skipped
    send(14, [14, 15, 16]); // 14 arrives late (was counted lost), 15 replayed, 16 new
    publisher.send([topic, header({ first: 20, count: 0 }), new Uint8Array(0)]); // 17..19 lost
    send(20, [20]);
    await waitFor(() => batches.some((b) => b.events.some((e) => e.n === 20)), "the last");
    assert.deepEqual(batches.map((b) => [b.first, b.events.map((e) => e.n)]), [
      [10, [10, 11, 12]],
      [15, [15]],
      [16, [16]],
      [20, [20]],
    ]);
    const stats = collector.stats();
    assert.equal(stats.lost, 5);
    assert.equal(stats.duplicates, 4);
    assert.equal(stats.events, 6);
    assert.equal(stats.messages, 6);
    assert.deepEqual(stats.malformed, {});
    const [stream] = stats.streams;
    assert.equal(stream.source, "77");
    assert.equal(stream.joinedAt, 10);
    assert.equal(stream.expected, 21);
  } finally {
    await context.terminate();
    await stop();
  }
});

Deno.test({
  name: "collector: a rejected event inside a replayed prefix does not eat a new event",
  async fn() {
    const { batches, endpoint, stop } = await gather();
    const context = new ZmqContext();
    try {
      const publisher = await rawPublisher(context, endpoint);
      const topic = utf8.encode("a.b");
      publisher.send([topic, header({ first: 0, count: 2 }), encodeBatch([event(0), event(1)])]);
      const bad = { type: "a.b", host: "h", n: 1 }; // index 1 again, without a time
      publisher.send([
        topic,
        header({ first: 1, count: 3 }),
        encodeBatch([bad, event(2), event(3)]),
      ]);
      await waitFor(() => batches.length === 2, "both messages");
      assert.deepEqual(batches[1].events.map((e) => e.n), [2, 3]);
      assert.equal(batches[1].first, 2);
    } finally {
      await context.terminate();
      await stop();
    }
  },
});

Deno.test({
  name: "collector: per-stream received counts only delivered events",
  async fn() {
    const { collector, batches, endpoint, stop } = await gather();
    const context = new ZmqContext();
    try {
      const publisher = await rawPublisher(context, endpoint);
      const topic = utf8.encode("a.b");
      const badBson = encodeBatch([{ ...event(0), s: "abcd" }]);
      badBson[badBson.lastIndexOf(0x61)] = 0xff;
      publisher.send([topic, header({ first: 0 }), badBson]);
      publisher.send([topic, header({ first: 1 }), encodeBatch([event(1)])]);
      await waitFor(() => batches.length === 1, "the good message");
      const stats = collector.stats();
      assert.equal(stats.events, 1);
      assert.equal(stats.streams[0].received, stats.events);
    } finally {
      await context.terminate();
      await stop();
    }
  },
});

Deno.test("collector: messages() yields checked bodies with replays trimmed", async () => {
  const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*" });
  const messages: { topic: string; first?: number; count: number; body: Uint8Array }[] = [];
  const reading = (async () => {
    for await (const message of collector.messages()) {
      messages.push({ ...message, first: message.header?.first });
    }
  })();
  const context = new ZmqContext();
  try {
    const publisher = await rawPublisher(context, collector.boundEndpoint());
    const topic = utf8.encode("a.b");
    const docs = (ns: number[]) => ns.map((n) => event(n));
    publisher.send([topic, header({ first: 0, count: 3 }), encodeBatch(docs([0, 1, 2]))]);
    publisher.send([topic, header({ first: 1, count: 4 }), encodeBatch(docs([1, 2, 3, 4]))]);
    publisher.send([topic, header({ first: 0, count: 2 }), encodeBatch(docs([0, 1]))]);
    publisher.send([topic, encodeBatch(docs([9]))]);
    // Undecodable content passes: messages() checks structure only.
    const odd = encodeBatch([{ no: "envelope" }]);
    publisher.send([topic, header({ first: 5, count: 1 }), odd]);
    await waitFor(() => messages.length === 4, "four messages");
    assert.deepEqual(messages.map((m) => [m.first, m.count]), [
      [0, 3],
      [3, 2],
      [undefined, 1],
      [5, 1],
    ]);
    // The trimmed body holds exactly the new documents, and is a copy that later
    // receives do not overwrite.
    assert.deepEqual(messages[1].body, encodeBatch(docs([3, 4])));
    assert.deepEqual(messages[0].body, encodeBatch(docs([0, 1, 2])));
    assert.deepEqual(messages[3].body, odd);
    const stats = collector.stats();
    assert.equal(stats.duplicates, 4);
    assert.equal(stats.events, 7);
    assert.equal(stats.unaccounted, 1);
  } finally {
    await context.terminate();
    await collector.close();
    await reading;
  }
});

Deno.test("collector: topics option subscribes by prefix", async () => {
  const { collector, batches, endpoint, stop } = await gather({ topics: ["http.", "ssh.login"] });
  const emitter = await Emitter.open({ endpoints: `>${endpoint}`, host: "h" });
  try {
    for (const type of ["http.hit", "ssh.logout", "ssh.login", "mail.sent", "http.error"]) {
      emitter.emit(type, { n: 1 });
    }
    emitter.emit("zz.end");
    await emitter.flush();
    await waitFor(() => batches.length >= 3, "three topics");
    await sleep(100);
    assert.deepEqual(batches.map((batch) => batch.topic).sort(), [
      "http.error",
      "http.hit",
      "ssh.login",
    ]);
    assert.equal(collector.stats().messages, 3);
    // The emitter knows which of its events nobody subscribed to.
    await emitter.close();
    assert.equal(emitter.stats().unsubscribed, 3);
  } finally {
    await emitter.close();
    await stop();
  }
});

Deno.test("collector: finish() during a wait unsubscribes once the wait returns, then ends the reader", async () => {
  const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*", topics: ["a.", "b."] });
  const context = new ZmqContext();
  const batches: EventBatch[] = [];
  try {
    const reading = (async () => {
      for await (const batch of collector.batches()) batches.push(batch);
    })();
    const publisher = await rawPublisher(context, collector.boundEndpoint());
    const buffers = [new Uint8Array(256)];
    const sizes = new Int32Array(1);
    await waitFor(() => publisher.receive(buffers, sizes) > 0, "the second subscription");
    // Nothing to read: the reader is now parked in zmq_poll on the worker thread.
    await sleep(50);
    collector.finish({ idleMs: 100 });
    const unsubscribed: string[] = [];
    await waitFor(() => {
      while (publisher.receive(buffers, sizes) > 0) {
        const frame = buffers[0].subarray(0, sizes[0]);
        unsubscribed.push(`${frame[0]}:${new TextDecoder().decode(frame.subarray(1))}`);
      }
      return unsubscribed.length >= 2;
    }, "the unsubscriptions");
    assert.deepEqual(unsubscribed.sort(), ["0:a.", "0:b."]);
    await reading;
    assert.deepEqual(batches, []);
  } finally {
    await context.terminate();
    await collector.close();
  }
});

Deno.test("collector: ZMQ_MAXMSGSIZE cuts off a peer sending a too large message", async () => {
  const { collector, batches, endpoint, stop } = await gather({ maxMessageSize: 4096 });
  const emitter = await Emitter.open({ endpoints: `>${endpoint}`, host: "h", lingerMs: 1 });
  try {
    emitter.emit("a.b", { n: 0 });
    await emitter.flush();
    await waitFor(() => batches.length === 1, "the first event");
    emitter.emit("a.b", { n: 1, pad: "x".repeat(10_000) });
    await emitter.flush();
    // Messages sent while libzmq tears the connection down are lost too (and
    // counted): keep sending until one arrives over the new connection.
    let n = 2;
    await waitFor(
      () => {
        if (batches.length === 1) emitter.emit("a.b", { n: n++ });
        return batches.length > 1;
      },
      "an event after the reconnect",
      15_000,
    );
    const delivered = batches.flatMap((batch) => batch.events.map((e) => e.n));
    assert.equal(delivered[0], 0);
    assert.ok(!delivered.includes(1), "the oversized message is never delivered");
    const stats = collector.stats();
    assert.equal(sum(stats.malformed), 0);
    assert.ok(stats.lost >= 1, "the cut message shows as a gap");
    const [stream] = stats.streams;
    assert.equal(stream.received + stream.lost, stream.expected, "every index is accounted");
  } finally {
    await emitter.close();
    await stop();
  }
});

Deno.test("collector: one reader at a time; close ends the reader; close twice is fine", async () => {
  const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*" });
  const first = collector.batches();
  const pending = first.next();
  await sleep(20);
  await assert.rejects(() => collector.batches().next(), /one reader at a time/);
  await collector.close();
  assert.deepEqual(await pending, { done: true, value: undefined });
  await collector.close();
});

Deno.test("collector: an endpoint problem is a clear error and leaks nothing", async () => {
  await assert.rejects(
    async () => await Collector.open({ endpoints: "@tcp://nonsense" }),
    /invalid endpoint '@tcp:\/\/nonsense'/,
  );
  const taken = await Collector.open({ endpoints: "@tcp://127.0.0.1:*" });
  try {
    await assert.rejects(
      async () => await Collector.open({ endpoints: `@${taken.boundEndpoint()}` }),
      /cannot bind/,
    );
  } finally {
    await taken.close();
  }
});

Deno.test("collector: events() flattens batches and stats add up", async () => {
  const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*" });
  const emitter = await Emitter.open({
    endpoints: `>${collector.boundEndpoint()}`,
    host: "h",
    maxEvents: 7,
  });
  const seen: number[] = [];
  try {
    for (let n = 0; n < 50; n++) emitter.emit("a.b", { n });
    // A SUB socket only sends its subscription to a new peer when it is used, so
    // read while flushing: flush() waits for the subscription.
    const flushed = emitter.flush();
    for await (const event of collector.events()) {
      seen.push(event.n as number);
      if (seen.length === 50) break;
    }
    await flushed;
    assert.deepEqual(seen, Array.from({ length: 50 }, (_, n) => n));
    const stats = collector.stats();
    assert.equal(stats.events, 50);
    assert.equal(stats.messages, 8);
    assert.equal(stats.lost, 0);
    const bodyBytes = Array.from(
      { length: 50 },
      (_, n) => BSON.calculateObjectSize({ type: "a.b", time, host: "h", n }),
    ).reduce((a, b) => a + b, 0);
    assert.equal(stats.bytes, bodyBytes);
    assert.equal(sum(stats.malformed), 0);
  } finally {
    await emitter.close();
    await collector.close();
  }
});

Deno.test("collector: with gaps held, late events that fill gaps are delivered in pieces", async () => {
  const { collector, batches, endpoint, stop } = await gather({ gapHoldMs: 60_000 });
  const raw = await Collector.open({ endpoints: "@tcp://127.0.0.1:*", gapHoldMs: 60_000 });
  const messages: { first?: number; count: number; body: Uint8Array }[] = [];
  const reading = (async () => {
    for await (const message of raw.messages()) {
      messages.push({ ...message, first: message.header?.first });
    }
  })();
  const context = new ZmqContext();
  try {
    const publishers = [
      await rawPublisher(context, endpoint),
      await rawPublisher(context, raw.boundEndpoint()),
    ];
    const topic = utf8.encode("a.b");
    const ns = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
    const send = (first: number, count: number) => {
      for (const publisher of publishers) {
        publisher.send([
          topic,
          header({ first, count }),
          encodeBatch(ns(first, first + count).map((n) => event(n))),
        ]);
      }
    };
    send(0, 2);
    send(4, 2); // 2..4 is a gap, held
    send(8, 2); // 6..8 too
    send(0, 12); // the other path: fills both gaps and brings 10, 11
    await waitFor(() => batches.length === 6 && messages.length === 6, "six batches each");
    assert.deepEqual(batches.map((b) => [b.first, b.events.map((e) => e.n)]), [
      [0, [0, 1]],
      [4, [4, 5]],
      [8, [8, 9]],
      [2, [2, 3]],
      [6, [6, 7]],
      [10, [10, 11]],
    ]);
    assert.deepEqual(messages.slice(3).map((m) => [m.first, m.count]), [[2, 2], [6, 2], [10, 2]]);
    assert.deepEqual(messages[4].body, encodeBatch([event(6), event(7)]));
    for (const stats of [collector.stats(), raw.stats()]) {
      assert.equal(stats.events, 12);
      assert.equal(stats.lost, 0);
      assert.equal(stats.duplicates, 6);
    }
  } finally {
    await context.terminate();
    await raw.close();
    await reading;
    await stop();
  }
});

Deno.test("collector: a late copy's gap stays in gapsOf until the reader takes in the next message", async () => {
  // A durable sink saves gapsOf with its positions while it waits for room for a
  // message: what the collector handed out but the sink has not taken in yet is
  // still a gap, or a crash then would leave it neither stored nor counted.
  const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*", gapHoldMs: 60_000 });
  const context = new ZmqContext();
  const reading = collector.messages()[Symbol.asyncIterator]();
  // Reading makes the socket subscribe, which the publisher waits for.
  let pending: ReturnType<typeof reading.next> | undefined = reading.next();
  try {
    const publisher = await rawPublisher(context, collector.boundEndpoint());
    const topic = utf8.encode("a.b");
    const send = (first: number, count: number) =>
      publisher.send([
        topic,
        header({ first, count }),
        encodeBatch(Array.from({ length: count }, (_, i) => event(first + i))),
      ]);
    send(0, 2);
    send(4, 2); // 2..4 is a gap, held
    send(8, 2); // 6..8 too
    send(0, 12); // the other path's copy: fills both gaps and brings 10, 11
    const next = async () => {
      const { value } = await (pending ?? reading.next());
      pending = undefined;
      return [value!.header!.first, value!.count, value!.fill === true];
    };
    assert.deepEqual(await next(), [0, 2, false]);
    assert.deepEqual(await next(), [4, 2, false]);
    assert.deepEqual(await next(), [8, 2, false]);
    assert.deepEqual(collector.gapsOf(77n, "a.b"), [2, 4, 6, 8]);
    assert.deepEqual(await next(), [2, 2, true]);
    assert.deepEqual(collector.gapsOf(77n, "a.b"), [2, 4, 6, 8], "handed out, not taken in");
    assert.deepEqual(await next(), [6, 2, true]);
    assert.deepEqual(collector.gapsOf(77n, "a.b"), [6, 8]);
    assert.deepEqual(await next(), [10, 2, false]);
    assert.deepEqual(collector.gapsOf(77n, "a.b"), []);
    await reading.return?.(undefined);
  } finally {
    await context.terminate();
    await collector.close();
  }
});

Deno.test("collector: bound and connected endpoints together judge no owner, so a copy through a router is a duplicate", async () => {
  const context = new ZmqContext();
  // The second path: a "router" this collector connects to, bound here on another
  // address (owners are told apart by the peer's address).
  const upstream = context.socket(SocketType.XPUB);
  upstream.configure({ lingerMs: 0, sendHwm: 100_000 });
  upstream.attach({ bind: true, address: "tcp://127.0.0.2:*" });
  const { collector, batches, endpoint, stop } = await gather({
    // The bound one last: boundEndpoint() reads the last endpoint attached.
    endpoints: `>${upstream.lastEndpoint()},@tcp://127.0.0.1:*`,
  });
  try {
    const direct = await rawPublisher(context, endpoint);
    const buffers = [new Uint8Array(256)];
    const sizes = new Int32Array(1);
    await waitFor(() => upstream.receive(buffers, sizes) > 0, "the collector's subscription");
    const topic = utf8.encode("a.b");
    const message = (first: number) => [
      topic,
      header({ first, count: 1 }),
      encodeBatch([event(first)]),
    ];
    direct.send(message(0));
    await waitFor(() => batches.length === 1, "the direct copy");
    upstream.send(message(0)); // the same event the other way: a replay
    upstream.send(message(1)); // then the stream goes on that way
    await waitFor(() => batches.length === 2, "the next event");
    const stats = collector.stats();
    assert.deepEqual(batches.map((b) => b.events.map((e) => e.n)), [[0], [1]]);
    assert.equal(stats.duplicates, 1);
    assert.equal(stats.lost, 0);
    assert.deepEqual(stats.malformed, {});
  } finally {
    await stop();
    await context.terminate();
  }
});
