import assert from "node:assert/strict";
import { Collector, type Event } from "./mod.ts";
import { Emitter } from "./emitter.ts";
import { EmitterLink } from "./link.ts";
import { waitFor } from "../tests/wait.ts";

Deno.test("link: emitters on one connection keep their own streams, numbering and counters", async () => {
  const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*" });
  const received: Event[] = [];
  const reading = (async () => {
    for await (const event of collector.events()) received.push(event);
  })();
  const link = await EmitterLink.open({ endpoints: `>${collector.boundEndpoint()}` });
  try {
    const web = await Emitter.open({ link, host: "web", maxEvents: 7 });
    const mail = await Emitter.open({ link, host: "mail", positions: { "smtp.tx": 100 } });
    assert.notEqual(web.sourceId, mail.sourceId);
    for (let n = 0; n < 50; n++) {
      web.emit("http.hit", { n });
      if (n % 2 === 0) mail.emit("smtp.tx", { n });
    }
    // One closes while the other goes on over the same connection.
    await mail.close();
    for (let n = 50; n < 60; n++) web.emit("http.hit", { n });
    await web.flush();
    await waitFor(() => received.length === 85, "every event", 10_000);

    assert.deepEqual(web.positions(), { "http.hit": 60 });
    assert.deepEqual(mail.positions(), { "smtp.tx": 125 });
    assert.equal(web.stats().eventsSent, 60);
    assert.equal(mail.stats().eventsSent, 25);
    assert.equal(web.stats().dropped + mail.stats().dropped, 0);
    const streams = collector.stats().streams.map((s) => [s.source, s.topic, s.expected]).sort();
    assert.deepEqual(
      streams,
      [
        [web.sourceId.toString(), "http.hit", 60],
        [mail.sourceId.toString(), "smtp.tx", 125],
      ].sort(),
    );
    assert.equal(collector.stats().lost, 0);
    assert.deepEqual(
      received.filter((e) => e.host === "web").map((e) => e.n),
      Array.from({ length: 60 }, (_, n) => n),
    );
    assert.throws(() => mail.emit("smtp.tx", {}), /closed/);
    await web.close();
    assert.equal(link.closed, false, "closing an emitter leaves a shared link open");
  } finally {
    await link.close();
    await collector.close();
    await reading;
  }
});

Deno.test("link: what a link cannot send counts as its senders' drops", async () => {
  // Nobody subscribes: a short close timeout, and the held events are dropped, each
  // counted by the emitter that queued it.
  const link = await EmitterLink.open({ endpoints: ">tcp://127.0.0.1:1", closeTimeoutMs: 200 });
  const a = await Emitter.open({ link, closeTimeoutMs: 100 });
  const b = await Emitter.open({ link, closeTimeoutMs: 100 });
  for (let n = 0; n < 3; n++) a.emit("a.x", { n });
  for (let n = 0; n < 5; n++) b.emit("b.x", { n });
  await a.close();
  assert.equal(a.stats().dropped, 3);
  assert.equal(a.stats().pending, 0);
  assert.equal(b.stats().pending, 5, "the other emitter's events stay held");
  await link.close();
  assert.equal(b.stats().dropped, 5);
  await b.close();
  assert.equal(b.stats().dropped, 5);
});

Deno.test("link: an emitter takes endpoints or a link, not both", async () => {
  assert.throws(() => new Emitter({}), /either endpoints or a link/);
  const link = await EmitterLink.open({ endpoints: ">tcp://127.0.0.1:1" });
  try {
    assert.throws(
      () => new Emitter({ link, endpoints: ">tcp://127.0.0.1:2" }),
      /either endpoints or a link/,
    );
  } finally {
    await link.close();
  }
});

Deno.test("link: an emitter closing on a shared link knows its last messages left (one peer)", async () => {
  const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*" });
  const reading = (async () => {
    for await (const _ of collector.batches()) { /* taken */ }
  })();
  const link = await EmitterLink.open({ endpoints: `>${collector.boundEndpoint()}`, sendHwm: 4 });
  try {
    const web = await Emitter.open({ link, maxEvents: 1 });
    const other = await Emitter.open({ link, maxEvents: 1 });
    await waitFor(() => web.stats().subscriptions > 0, "a subscriber");
    for (let i = 0; i < 20; i++) web.emit("http.hit", { i });
    other.emit("smtp.tx", {});
    await web.flush();
    // libzmq may still hold the last sendHwm + 1 messages.
    assert.ok(web.deliveredMark().safe < 20, JSON.stringify(web.deliveredMark()));
    await web.close();
    const mark = web.deliveredMark();
    assert.ok(mark.safe >= 20, `everything emitted is known out: ${JSON.stringify(mark)}`);
    assert.equal(link.closed, false, "the link stays open for the other emitter");
    assert.equal(web.stats().dropped, 0);
    await other.close();
  } finally {
    await link.close();
    await collector.close();
    await reading;
  }
});

Deno.test("link: closed after its emitters, a link with two peers tells them it drained", async () => {
  const collectors = await Promise.all(
    [0, 1].map(() => Collector.open({ endpoints: "@tcp://127.0.0.1:*" })),
  );
  const reading = collectors.map(async (collector) => {
    for await (const _ of collector.batches()) { /* taken */ }
  });
  const link = await EmitterLink.open({
    endpoints: collectors.map((c) => `>${c.boundEndpoint()}`),
    sendHwm: 4,
  });
  try {
    const a = await Emitter.open({ link, maxEvents: 1 });
    const b = await Emitter.open({ link, maxEvents: 1 });
    await waitFor(() => link.subscriptions > 0, "subscribers");
    for (let i = 0; i < 20; i++) {
      a.emit("a.x", { i });
      b.emit("b.x", { i });
    }
    const closing = link.close({ afterEmitters: true });
    const closedA = a.close().then(() => link.closed);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(link.closed, false, "the link waits for b");
    await b.close();
    assert.ok(await closedA, "a's close waited for the link");
    await closing;
    for (const emitter of [a, b]) {
      const mark = emitter.deliveredMark();
      assert.ok(mark.sent >= 20 && mark.safe === mark.sent, JSON.stringify(mark));
    }
  } finally {
    await link.close();
    await Promise.all(collectors.map((c) => c.close()));
    await Promise.all(reading);
  }
});
