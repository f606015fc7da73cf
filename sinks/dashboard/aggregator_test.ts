import assert from "node:assert/strict";
import type { CollectorStats, Event } from "@eventstorm/core";
import { DashboardAggregator, type Frame } from "./aggregator.ts";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function clock(start = T0) {
  let now = start;
  return { now: () => now, set: (value: number) => (now = value) };
}

function hit(fields: Record<string, unknown>): Event {
  return { type: "http.hit", time: new Date(T0), host: "web1", ...fields };
}

function wire(
  streams: { source: string; topic: string; lost: number }[],
  extra = {},
): CollectorStats {
  return {
    messages: 0,
    events: 0,
    bytes: 0,
    lost: streams.reduce((sum, s) => sum + s.lost, 0),
    duplicates: 0,
    unaccounted: 0,
    malformed: {},
    rejectedEvents: 0,
    otherMembers: 0,
    otherMembersEvents: 0,
    streams: streams.map((s) => ({
      ...s,
      expected: 0,
      joinedAt: 0,
      received: 10,
      duplicates: 0,
      malformed: 0,
    })),
    ...extra,
  };
}

Deno.test("http.hit: status classes, bytes, latency percentiles and top lists", () => {
  const c = clock();
  const aggregator = new DashboardAggregator({ now: c.now });
  const events: Event[] = [];
  for (let i = 1; i <= 100; i++) {
    events.push(hit({
      status: i <= 70 ? 200 : i <= 80 ? 304 : i <= 95 ? 404 : 503,
      body_bytes_sent: 100,
      request_time: i / 1000,
      path: i % 2 ? "/a" : "/b",
      remote_addr: i % 10 === 0 ? "203.0.113.9" : `192.0.2.${i}`,
      http_user_agent: "curl/8",
    }));
  }
  events.push(hit({ status: "weird", request_time: "slow", body_bytes_sent: -5, path: 42 }));
  aggregator.addBatch({ topic: "http.hit", events });
  c.set(T0 + 1000);
  const frame = aggregator.tick();
  assert.equal(frame.t, T0);
  assert.equal(frame.dt, 1);
  assert.deepEqual(frame.topics, { "http.hit": 101 });
  assert.equal(frame.http.requests, 101);
  assert.deepEqual(frame.http.status, [0, 70, 10, 15, 5, 1]);
  assert.equal(frame.http.bytes, 10_000);
  const [p50, p95, p99] = frame.http.latencyMs!;
  // Nearest rank of 1..100 ms is 50, 95, 99 ms; the histogram is within 0.5%.
  assert.ok(Math.abs(p50 - 50) <= 0.3 && Math.abs(p95 - 95) <= 0.5 && Math.abs(p99 - 99) <= 0.5);
  const state = aggregator.state();
  assert.deepEqual(state.top.paths, [["/a", 50], ["/b", 50]]);
  assert.deepEqual(state.top.clients[0], ["203.0.113.9", 10]);
  assert.deepEqual(state.top.agents, [["curl/8", 100]]);
  assert.equal(state.totals.events, 101);

  // The next frame starts empty.
  c.set(T0 + 2000);
  const next = aggregator.tick();
  assert.equal(next.http.requests, 0);
  assert.equal(next.http.latencyMs, null);
  assert.deepEqual(next.topics, {});
});

Deno.test("mail, ssh and host metrics", () => {
  const c = clock();
  const aggregator = new DashboardAggregator({ now: c.now });
  const e = (type: string, fields: Record<string, unknown>): Event => ({
    type,
    time: new Date(T0),
    host: "mx",
    ...fields,
  });
  aggregator.addBatch({
    topic: "smtp.transaction",
    events: [
      e("smtp.transaction", {
        recipients: [{ status: "sent" }, { status: "sent" }, { status: "bounced" }, null, 7],
      }),
      e("smtp.transaction", { recipients: [{ status: "expired" }, { status: "deferred" }] }),
      e("smtp.transaction", { recipients: "not a list" }),
    ],
  });
  aggregator.addBatch({ topic: "smtp.deferred", events: [e("smtp.deferred", {})] });
  aggregator.addBatch({
    topic: "smtp.reject",
    events: [e("smtp.reject", {}), e("smtp.reject", {})],
  });
  aggregator.addBatch({
    topic: "ssh.login",
    events: [
      e("ssh.login", { result: "failed", address: "198.51.100.1", repeated: 5 }),
      e("ssh.login", { result: "failed", address: "198.51.100.2" }),
      e("ssh.login", { result: "invalid_user", address: "198.51.100.1" }),
      e("ssh.login", { result: "not_allowed", address: "198.51.100.3" }),
      e("ssh.login", { result: "accepted", address: "192.0.2.1" }),
      e("ssh.login", { result: "what", address: "192.0.2.2" }),
    ],
  });
  aggregator.addBatch({
    topic: "host.cpu",
    events: [e("host.cpu", { host: "web1", busy_percent: 37.5 })],
  });
  aggregator.addBatch({
    topic: "host.memory",
    events: [e("host.memory", { host: "web1", used_percent: 61 })],
  });
  aggregator.addBatch({
    topic: "host.disk",
    events: [
      e("host.disk", { host: "web1", mount: "/", used_percent: 40 }),
      e("host.disk", { host: "web1", mount: "/var", used_percent: 88 }),
      e("host.disk", { host: "web1", mount: "/boot", used_percent: "full" }),
    ],
  });
  aggregator.addBatch({
    topic: "host.net",
    events: [
      e("host.net", { host: "web1", interface: "lo", rx_bytes_per_s: 1e9, tx_bytes_per_s: 1e9 }),
      e("host.net", { host: "web1", interface: "eth0", rx_bytes_per_s: 100, tx_bytes_per_s: 50 }),
      e("host.net", { host: "web1", interface: "eth1", rx_bytes_per_s: 1, tx_bytes_per_s: 2 }),
    ],
  });
  aggregator.addBatch({
    topic: "host.load",
    events: [e("host.load", { host: "web1", load1: 0.75 }), e("host.load", { host: 5 })],
  });
  c.set(T0 + 1000);
  const frame = aggregator.tick();
  assert.deepEqual(frame.mail, { delivered: 2, deferred: 1, bounced: 2, rejected: 2 });
  assert.deepEqual(frame.ssh, { failed: 6, invalid: 2, accepted: 1 });
  assert.deepEqual(frame.hosts, { web1: { cpu: 37.5, mem: 61, disk: 88 } });
  const state = aggregator.state();
  assert.deepEqual(state.top.sshAddresses, [["198.51.100.1", 6], [
    "198.51.100.2",
    1,
  ], ["198.51.100.3", 1]]);
  assert.equal(state.hosts.length, 1);
  const host = state.hosts[0];
  assert.equal(host.host, "web1");
  assert.equal(host.disk, 88);
  assert.equal(host.diskMount, "/var");
  assert.equal(host.rxBytes, 101);
  assert.equal(host.txBytes, 52);
  assert.equal(host.load1, 0.75);
});

Deno.test("losses on the wire per source, as counts per frame", () => {
  const c = clock();
  const aggregator = new DashboardAggregator({ now: c.now });
  aggregator.addBatch({
    topic: "app.x",
    source: 0xabcdefn,
    events: [{ type: "app.x", time: new Date(T0), host: "batch1" }],
  });
  c.set(T0 + 1000);
  let frame = aggregator.tick(
    c.now(),
    wire([{ source: String(0xabcdef), topic: "app.x", lost: 7 }, {
      source: "99",
      topic: "app.y",
      lost: 0,
    }]),
  );
  assert.deepEqual(frame.lost, { "batch1 (abcdef)": 7 });
  assert.equal(frame.lostAll, 7);
  c.set(T0 + 2000);
  frame = aggregator.tick(
    c.now(),
    wire([
      { source: String(0xabcdef), topic: "app.x", lost: 10 },
      { source: String(0x1234), topic: "app.z", lost: 4 },
    ], { malformed: { bson: 2 }, rejectedEvents: 1 }),
  );
  // 3 more from the known source; a source never delivered is still shown.
  assert.deepEqual(frame.lost, { "batch1 (abcdef)": 3, "source 001234": 4 });
  assert.equal(frame.lostAll, 7);
  assert.equal(frame.bad, 3);
  const state = aggregator.state();
  assert.equal(state.totals.lost, 14);
  assert.equal(state.totals.malformed, 2);
  assert.deepEqual(state.sources.map((s) => [s.label, s.lost]), [
    ["batch1 (abcdef)", 10],
    ["source 001234", 4],
  ]);
});

Deno.test("memory stays bounded: frames, topics, hosts, sources and strings", () => {
  const c = clock();
  const aggregator = new DashboardAggregator({
    now: c.now,
    historyMs: 60_000,
    maxTopics: 3,
    maxHosts: 4,
    maxSources: 5,
    maxKeyLength: 20,
  });
  for (let second = 1; second <= 600; second++) {
    for (let i = 0; i < 5; i++) {
      aggregator.addBatch({
        topic: `topic.t${second % 7}`,
        source: BigInt(second * 10 + i),
        events: [{ type: `topic.t${second % 7}`, time: new Date(c.now()), host: `h${second}` }],
      });
    }
    aggregator.addBatch({
      topic: "host.cpu",
      events: [{
        type: "host.cpu",
        time: new Date(c.now()),
        host: `host-${second}-${"x".repeat(100)}`,
        busy_percent: 1,
      }],
    });
    aggregator.addBatch({ topic: "http.hit", events: [hit({ path: "/p".repeat(500) })] });
    c.set(T0 + second * 1000);
    aggregator.tick(c.now(), wire([{ source: String(second), topic: "x", lost: 1 }]));
  }
  assert.ok(aggregator.frameCount <= 61, `frames ${aggregator.frameCount}`);
  const frames = aggregator.framesJson().map((json) => JSON.parse(json) as Frame);
  const topics = new Set(frames.flatMap((frame) => Object.keys(frame.topics)));
  assert.ok(topics.size <= 3 + 1, `topics ${[...topics]}`);
  assert.ok(topics.has("other"));
  const state = aggregator.state();
  assert.equal(state.hosts.length, 4);
  assert.ok(state.hosts.every((h) => h.host.length <= 20));
  // The most recently seen hosts are the ones kept.
  assert.ok(state.hosts.some((h) => h.host.startsWith("host-600-")));
  assert.ok(state.sources.length <= 5);
  assert.ok(state.top.paths[0][0].length <= 20);
});

Deno.test("history frames come first and age out", () => {
  const c = clock();
  const aggregator = new DashboardAggregator({ now: c.now, historyMs: 120_000 });
  const past = (t: number): Frame => ({
    t,
    dt: 60,
    topics: { "http.hit": 60 },
    lost: {},
    lostAll: 0,
    bad: 0,
    http: { requests: 60, status: [0, 60, 0, 0, 0, 0], bytes: 0, latencyMs: null },
    mail: { delivered: 0, deferred: 0, bounced: 0, rejected: 0 },
    ssh: { failed: 0, invalid: 0, accepted: 0 },
    hosts: {},
  });
  aggregator.addHistory([past(T0 - 60_000), past(T0 - 120_000), past(T0 + 5000)]);
  assert.equal(aggregator.frameCount, 2, "a frame after the start is not history");
  c.set(T0 + 1000);
  aggregator.tick();
  const times = aggregator.framesJson().map((json) => (JSON.parse(json) as Frame).t);
  assert.deepEqual(times, [T0 - 120_000, T0 - 60_000, T0]);
  c.set(T0 + 61_000);
  aggregator.tick();
  // The frame at T0+1s is 120 s after T0-119s: the oldest history frame left.
  assert.deepEqual(
    aggregator.framesJson().map((json) => (JSON.parse(json) as Frame).t),
    [T0 - 60_000, T0, T0 + 1000],
  );
});

Deno.test("undecoded messages aggregate exactly like decoded batches", async () => {
  const { encodeBatch, decodeEvents } = await import("@eventstorm/core/protocol");
  const { DemoEvents } = await import("@eventstorm/source-demo");
  const demo = new DemoEvents({ seed: 11 });
  const byTopic = new Map<string, Event[]>();
  for (let i = 0; i < 3000; i++) {
    const event = demo.next(new Date(T0));
    byTopic.set(event.type, [...(byTopic.get(event.type) ?? []), event]);
  }
  const a = clock();
  const b = clock();
  const viaMessages = new DashboardAggregator({ now: a.now });
  const viaBatches = new DashboardAggregator({ now: b.now });
  for (const [topic, events] of byTopic) {
    const body = encodeBatch(events);
    const header = { flags: 0, count: events.length, source: 77n, first: 0 };
    viaMessages.addMessage({ topic, header, body, count: events.length });
    viaBatches.addBatch({ topic, source: 77n, events: decodeEvents(body, { topic }).events });
  }
  a.set(T0 + 1000);
  b.set(T0 + 1000);
  assert.deepEqual(viaMessages.tick(), viaBatches.tick());
  assert.deepEqual(viaMessages.state(), viaBatches.state());
  assert.ok(viaMessages.state().sources.length === 0, "no wire stats given");

  // Bad bodies are counted, not thrown, on both paths.
  const bad = encodeBatch([{ type: "http.hit", time: "now", host: "x" }]);
  viaMessages.addMessage({ topic: "http.hit", body: bad, count: 1 });
  viaMessages.addMessage({ topic: "ssh.login", body: bad, count: 1 });
  viaMessages.addMessage({ topic: "ssh.login", body: new Uint8Array([9, 0, 0, 0, 1]), count: 1 });
  a.set(T0 + 2000);
  assert.equal(viaMessages.tick().bad, 3);
  assert.equal(viaMessages.state().totals.rejected, 3);
});

Deno.test("host names like constructor, toString and __proto__ are plain keys", () => {
  const c = clock();
  const aggregator = new DashboardAggregator({ now: c.now });
  const names = ["constructor", "toString", "__proto__"];
  aggregator.addBatch({
    topic: "host.cpu",
    events: names.map((host, i) => ({
      type: "host.cpu",
      time: new Date(T0),
      host,
      busy_percent: 10 + i,
    })),
  });
  c.set(T0 + 1000);
  const frame = aggregator.tick(T0 + 1000, wire([{ source: "4660", topic: "x", lost: 3 }]));
  assert.deepEqual(Object.keys(frame.hosts).sort(), [...names].sort());
  names.forEach((host, i) => assert.equal(frame.hosts[host].cpu, 10 + i, host));
  assert.ok(Object.values(frame.lost).includes(3));
  assert.equal(JSON.parse(JSON.stringify(frame)).hosts.__proto__.cpu, 12);
  assert.equal(aggregator.state().hosts.length, 3);
});
