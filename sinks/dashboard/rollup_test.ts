import assert from "node:assert/strict";
import type { Event } from "@eventstorm/core";
import { DashboardAggregator, type Frame } from "./aggregator.ts";
import { emptyFrame } from "./history.ts";
import { LogHistogram } from "./histogram.ts";
import { FrameRollup, type FrameRollupChange, type RollupLevel } from "./rollup.ts";
import { applyRollups, perMinute, trimFrames } from "./page/series.js";

const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);
const DAY = 86_400_000;

function frame(t: number, fields: Partial<Frame> = {}): Frame {
  return { ...emptyFrame(t, 1), ...fields };
}

const parse = (json: string[]): Frame[] => json.map((text) => JSON.parse(text) as Frame);
const sum = (frames: Frame[], read: (frame: Frame) => number) =>
  frames.reduce((total, f) => total + read(f), 0);

/** Frames in time order that never overlap: no second counted twice. */
function assertOrdered(frames: Frame[]): void {
  for (let i = 1; i < frames.length; i++) {
    const previous = frames[i - 1];
    assert.ok(
      previous.t + previous.dt * 1000 <= frames[i].t + 1e-6,
      `frame ${i - 1} (t ${previous.t}, dt ${previous.dt}) overlaps frame ${i} (t ${frames[i].t})`,
    );
  }
}

Deno.test("--history 7d: a simulated week keeps about 3,400 frames, and their totals are exact", () => {
  let now = T0;
  const aggregator = new DashboardAggregator({ historyMs: 7 * DAY, now: () => now });
  const hits: Event[] = [
    { type: "http.hit", time: new Date(T0), host: "web1", status: 200, request_time: 0.01 },
    { type: "http.hit", time: new Date(T0), host: "web1", status: 503, request_time: 0.03 },
  ];
  const seconds = 7 * 86_400 + 1800;
  for (let second = 1; second <= seconds; second++) {
    aggregator.addBatch({ topic: "http.hit", events: hits });
    aggregator.addBatch({
      topic: "host.cpu",
      events: [{ type: "host.cpu", time: new Date(now), host: "web1", busy_percent: second % 60 }],
    });
    if (second % 60 === 0) {
      aggregator.addBatch({
        topic: "ssh.login",
        events: [{ type: "ssh.login", time: new Date(now), host: "b", result: "failed" }],
      });
    }
    now = T0 + second * 1000;
    aggregator.tick(now);
  }
  // 15 minutes of seconds, a day of minutes (less those 15), ten-minute frames for the rest.
  assert.ok(aggregator.frameCount <= 900 + 1440 + 6 * 24 * 6 + 2, `${aggregator.frameCount}`);
  const frames = parse(aggregator.framesJson());
  assert.equal(frames.length, aggregator.frameCount);
  assertOrdered(frames);
  assert.ok(frames.slice(-900).every((f) => f.dt === 1));
  assert.ok(frames.slice(0, 6 * 24 * 6 - 1).every((f) => f.dt === 600));
  assert.equal(frames.filter((f) => f.dt === 60).length, 24 * 60 - 15);
  const covered = sum(frames, (f) => f.dt);
  assert.ok(covered > 7 * 86_400 - 600 && covered <= 7 * 86_400, `covered ${covered} s`);
  // Every second held two requests, one 2xx and one 5xx, and a CPU sample.
  assert.equal(sum(frames, (f) => f.http.requests), 2 * covered);
  assert.equal(sum(frames, (f) => f.topics["http.hit"]), 2 * covered);
  assert.equal(sum(frames, (f) => f.topics["host.cpu"]), covered);
  assert.equal(sum(frames, (f) => f.http.status[1]), covered);
  assert.equal(sum(frames, (f) => f.http.status[4]), covered);
  assert.equal(sum(frames, (f) => f.ssh.failed), covered / 60);
  for (const f of frames.filter((f) => f.dt >= 60)) {
    // Nearest rank of {10 ms, 30 ms}, through the histogram (0.5%).
    const [p50, p95, p99] = f.http.latencyMs!;
    assert.ok(Math.abs(p50 - 10) <= 0.05 && Math.abs(p95 - 30) <= 0.15 && p99 === p95, `${p50}`);
    assert.equal(f.hosts.web1.cpu, 29.5, "the mean of 0..59");
  }
  // What a new page is sent: a week in under 2 MB, not 200 MB.
  const bytes = aggregator.framesChunks().reduce((total, chunk) => total + chunk.length, 0);
  assert.ok(bytes < 2_000_000, `${bytes} bytes`);
  assert.equal(
    new TextDecoder().decode(joinChunks(aggregator.framesChunks())),
    aggregator.framesJson().join(","),
  );
});

function joinChunks(chunks: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const chunk of chunks) {
    if (parts.length > 0) parts.push(new Uint8Array([0x2c]));
    parts.push(chunk);
  }
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const SMALL: RollupLevel[] = [
  { stepMs: 10_000, afterMs: 20_000 },
  { stepMs: 60_000, afterMs: 120_000 },
];

Deno.test("merged frames: sums exact, percentiles of every request, host means, bounded keys", () => {
  const rollup = new FrameRollup({ historyMs: 3_600_000, levels: SMALL, maxKeys: 2 });
  const all = new LogHistogram();
  const perTick: number[] = [];
  const changes: FrameRollupChange[] = [];
  for (let second = 0; second < 10; second++) {
    // Nine quiet seconds of one 1 ms request each, then one of a hundred 1 s requests.
    const latency = new LogHistogram();
    const values = second < 9 ? [0.001] : Array(100).fill(1);
    for (const value of values) {
      latency.add(value);
      all.add(value);
    }
    perTick.push(latency.percentile(50)! * 1000);
    changes.push(...rollup.add(
      frame(T0 + second * 1000, {
        topics: { a: 1, b: 2, [`c${second}`]: 3 },
        lost: { [`source ${second}`]: 1 },
        lostAll: 1,
        http: {
          requests: values.length,
          status: [0, values.length, 0, 0, 0, 0],
          bytes: 10,
          latencyMs: [perTick[second], perTick[second], perTick[second]],
        },
        hosts: { ["__proto__"]: { cpu: second * 10 }, web1: { mem: 50 }, web2: { cpu: 1 } },
      }),
      latency,
    ));
  }
  assert.equal(changes.length, 0);
  // 30 s later the first ten seconds are 20 s old: one frame.
  for (let second = 10; second < 31; second++) {
    changes.push(...rollup.add(frame(T0 + second * 1000)));
  }
  assert.equal(changes.length, 1);
  assert.deepEqual([changes[0].from, changes[0].to], [T0, T0 + 9001]);
  const merged = JSON.parse(changes[0].frame) as Frame;
  assert.deepEqual(parse(rollup.json())[0], merged);
  assert.equal(merged.t, T0);
  assert.equal(merged.dt, 10);
  assert.deepEqual(merged.topics, { a: 10, b: 20, other: 30 }, "past 2 topics, under other");
  assert.deepEqual(merged.lost, { "source 0": 1, "source 1": 1 });
  assert.equal(merged.lostAll, 10, "losses of sources left out still counted");
  assert.equal(merged.http.requests, 109);
  assert.deepEqual(merged.http.status, [0, 109, 0, 0, 0, 0]);
  assert.equal(merged.http.bytes, 100);
  // p50 of 109 requests, 100 of which took a second, is a second; the mean of
  // the ticks' p50s would say about 0.9 s (weighted) or 0.1 s (not).
  const expected = [50, 95, 99].map((p) => Number((all.percentile(p)! * 1000).toPrecision(3)));
  assert.deepEqual(merged.http.latencyMs, expected);
  assert.ok(Math.abs(merged.http.latencyMs![0] - 1000) <= 5);
  assert.ok(Object.hasOwn(merged.hosts, "__proto__"));
  assert.equal(merged.hosts.__proto__.cpu, 45, "time-weighted mean of 0, 10, .. 90");
  assert.deepEqual(merged.hosts.web1, { mem: 50 });
  assert.equal(Object.keys(merged.hosts).length, 2, "past 2 hosts, left out");

  // The tens of seconds become minutes two minutes on.
  for (let second = 31; second < 200; second++) {
    changes.push(...rollup.add(frame(T0 + second * 1000)));
  }
  const frames = parse(rollup.json());
  assertOrdered(frames);
  assert.equal(frames[0].dt, 60);
  assert.equal(frames[0].http.requests, 109);
  assert.deepEqual(frames[0].http.latencyMs, expected, "the minute's histogram, not the 10 s");
  assert.equal(sum(frames, (f) => f.dt), 200);
});

Deno.test("history from a store merges with the ticks; its percentiles by weighted mean", () => {
  const rollup = new FrameRollup({ historyMs: 3_600_000, levels: SMALL });
  const start = T0 + 25_000;
  const history = [
    // A store's frames: a partial one at the start of the range, whole ones, and
    // a partial one up to the dashboard's start.
    frame(T0 - 40_000, { dt: 4, http: req(4, 40) }),
    frame(T0 - 30_000, { dt: 10, http: req(10, 10) }),
    frame(T0 - 20_000, { dt: 10, http: req(30, 30) }),
    frame(T0 - 10_000, { dt: 10, http: req(0, 0) }),
    frame(T0, { dt: 10, http: req(10, 20) }),
    frame(T0 + 10_000, { dt: 10, http: req(10, 20) }),
    frame(T0 + 20_000, { dt: 5, http: req(5, 100) }),
  ];
  rollup.addHistory(history);
  assert.equal(rollup.size, 7);
  const latency = new LogHistogram();
  for (let i = 0; i < 5; i++) latency.add(0.1);
  const changes = rollup.add(frame(start, { dt: 5, http: req(5, 100) }), latency);
  latency.reset();
  for (let second = 30; second < 300; second++) {
    changes.push(...rollup.add(frame(T0 + second * 1000)));
  }
  const frames = parse(rollup.json());
  assertOrdered(frames);
  assert.equal(sum(frames, (f) => f.http.requests), 74, "every request once");
  assert.equal(sum(frames, (f) => f.dt), 4 + 50 + 5 + 5 + 270);
  const minute = frames.find((f) => f.t === T0)!;
  assert.equal(minute.dt, 60);
  // Stored 10 + 10 + 5 requests at 20, 20, 100 ms and 5 live at 100 ms (histogram).
  assert.equal(minute.http.requests, 30);
  const mean = (10 * 20 + 10 * 20 + 5 * 100 + 5 * 100) / 30;
  assert.ok(Math.abs(minute.http.latencyMs![0] - mean) < 0.5, `${minute.http.latencyMs}`);
  const before = frames.find((f) => f.t === T0 - 40_000)!;
  assert.equal(before.dt, 34, "the store's minute before the start, merged");
  assert.equal(
    before.http.latencyMs![0],
    Number(((4 * 40 + 10 * 10 + 30 * 30) / 44).toPrecision(3)),
  );
});

function req(requests: number, ms: number): Frame["http"] {
  return {
    requests,
    status: [0, requests, 0, 0, 0, 0],
    bytes: 0,
    latencyMs: requests === 0 ? null : [ms, ms, ms],
  };
}

Deno.test("a page that applies the pushed rollups holds what a new page is sent", () => {
  let now = T0 + 500;
  const historyMs = 300_000;
  const aggregator = new DashboardAggregator({ historyMs, now: () => now, rollup: SMALL });
  aggregator.addHistory([frame(T0 - 60_000, { dt: 60, http: req(3, 5) })]);
  const page = parse(aggregator.framesJson());
  let rollups = 0;
  for (let second = 1; second <= 900; second++) {
    if (second % 7 === 0) {
      aggregator.addBatch({
        topic: "smtp.deferred",
        events: [{ type: "smtp.deferred", time: new Date(now), host: "mx" }],
      });
    }
    now = T0 + second * 1000;
    const tick = aggregator.tick(now);
    // What app.js does with a frame message.
    page.push(JSON.parse(JSON.stringify(tick)));
    const changes = aggregator.rollups.map((change) => ({
      ...change,
      frame: JSON.parse(change.frame),
    }));
    rollups += changes.length;
    applyRollups(page, changes);
    trimFrames(page, historyMs);
    if (second % 97 === 0 || second === 900) {
      assert.deepEqual(page, parse(aggregator.framesJson()), `after ${second} s`);
    }
  }
  assert.ok(rollups > 50, `${rollups} rollups`);
  assert.ok(page.length < 40, `${page.length} frames on the page`);
});

Deno.test("the page's per-minute charts show a ten-minute frame as its rate, over its span", () => {
  const frames = [
    frame(T0, { dt: 600, mail: { delivered: 120, deferred: 0, bounced: 0, rejected: 6 } }),
    frame(T0 + 600_000, { dt: 60, mail: { delivered: 7, deferred: 0, bounced: 0, rejected: 0 } }),
    frame(T0 + 660_000, { mail: { delivered: 1, deferred: 0, bounced: 0, rejected: 0 } }),
    frame(T0 + 661_000, { mail: { delivered: 2, deferred: 0, bounced: 0, rejected: 0 } }),
  ];
  const { x, columns } = perMinute(frames, (f) => [f.mail.delivered, f.mail.rejected], 2);
  const t0 = T0 / 1000;
  assert.deepEqual(x, [t0, t0 + 600, t0 + 660, t0 + 720]);
  assert.deepEqual(columns[0], [12, 7, 3, 3]);
  assert.deepEqual(columns[1], [0.6, 0, 0, 0]);
  // Steps hold each value to the next point: the area is every delivery.
  const area = x.slice(0, -1).reduce(
    (total, at, i) => total + columns[0][i] * (x[i + 1] - at) / 60,
    0,
  );
  assert.equal(area, 120 + 7 + 3);
});

Deno.test("frame blocks that did not change are the same arrays from call to call", () => {
  const rollup = new FrameRollup({ historyMs: 3_600_000, levels: SMALL });
  for (let second = 0; second < 300; second++) {
    rollup.add(frame(T0 + second * 1000, { topics: { a: second } }));
  }
  const first = rollup.chunks();
  const again = rollup.chunks();
  assert.equal(again.length, first.length);
  assert.ok(again.every((chunk, i) => chunk === first[i]));
  rollup.add(frame(T0 + 300_000));
  const next = rollup.chunks();
  // Only the newest block (this minute's ticks) is new.
  assert.ok(next.slice(0, -1).every((chunk, i) => chunk === first[i]), "older blocks shared");
  assert.notEqual(next.at(-1), first.at(-1));
  assert.equal(new TextDecoder().decode(joinChunks(next)), rollup.json().join(","));
});

Deno.test("rollup levels that do not nest are refused", () => {
  for (
    const levels of [
      [{ stepMs: 0, afterMs: 1 }],
      [{ stepMs: 60_000, afterMs: 60_000 }, { stepMs: 90_000, afterMs: 120_000 }],
      [{ stepMs: 60_000, afterMs: 60_000 }, { stepMs: 120_000, afterMs: 60_000 }],
    ]
  ) {
    assert.throws(() => new FrameRollup({ historyMs: 1, levels }), RangeError);
  }
});
