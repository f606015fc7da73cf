import assert from "node:assert/strict";
import type { Event } from "@eventstorm/core";
import { EventStore } from "@eventstorm/sink-store";
import { StoreReader } from "@eventstorm/sink-store/reader";
import { loadHistory } from "./history.ts";

const NOW = Date.UTC(2026, 0, 1, 12, 30, 20);
const MINUTE = 60_000;

function at(ms: number, type: string, fields: Record<string, unknown>, host = "web1"): Event {
  return { type, time: new Date(ms), host, ...fields };
}

Deno.test("loadHistory: per-minute frames of the last hour from a store", () => {
  const store = EventStore.open(":memory:");
  const tenMinutesAgo = NOW - 10 * MINUTE;
  const minute = tenMinutesAgo - (tenMinutesAgo % MINUTE);
  const events: Event[] = [];
  for (let i = 1; i <= 20; i++) {
    events.push(at(minute + i * 1000, "http.hit", {
      status: i <= 15 ? 200 : 502,
      body_bytes_sent: 1000,
      request_time: i / 100,
    }));
  }
  events.push(
    at(minute + 500, "smtp.transaction", {
      recipients: [{ status: "sent" }, { status: "bounced" }, { status: "expired" }],
    }, "mx"),
    at(minute + 600, "smtp.deferred", {}, "mx"),
    at(minute + 700, "smtp.reject", {}, "mx"),
    at(minute + 800, "ssh.login", { result: "failed", repeated: 3 }, "bastion"),
    at(minute + 900, "ssh.login", { result: "invalid_user" }, "bastion"),
    at(minute + 1000, "host.cpu", { busy_percent: 12.5 }),
    at(minute + 1000, "host.memory", { used_percent: 40 }),
    at(minute + 1000, "host.disk", { mount: "/", used_percent: 20 }),
    at(minute + 1000, "host.disk", { mount: "/data", used_percent: 91 }),
    // Outside the range: before it, and after the dashboard started.
    at(NOW - 2 * 3_600_000, "http.hit", { status: 200 }),
    at(NOW + 1000, "http.hit", { status: 200 }),
  );
  store.insertBatch(events);
  const frames = loadHistory(StoreReader.of(store), { since: NOW - 3_600_000, until: NOW });
  store.close();

  // 60 whole minutes plus the partial ones at both ends.
  assert.equal(frames.length, 61);
  assert.equal(frames[0].t, NOW - 3_600_000);
  assert.equal(frames[0].dt, 40);
  assert.equal(frames.at(-1)!.dt, 20);
  const frame = frames.find((f) => f.t === minute)!;
  assert.equal(frame.dt, 60);
  assert.equal(frame.topics["http.hit"], 20);
  assert.equal(frame.http.requests, 20);
  assert.deepEqual(frame.http.status, [0, 15, 0, 0, 5, 0]);
  assert.equal(frame.http.bytes, 20_000);
  // Exact nearest-rank over 10..200 ms.
  assert.deepEqual(frame.http.latencyMs, [100, 190, 200]);
  assert.deepEqual(frame.mail, { delivered: 1, deferred: 1, bounced: 2, rejected: 1 });
  assert.deepEqual(frame.ssh, { failed: 3, invalid: 1, accepted: 0 });
  assert.deepEqual(frame.hosts, { web1: { cpu: 12.5, mem: 40, disk: 91 } });
  const total = frames.reduce((sum, f) => sum + f.http.requests, 0);
  assert.equal(total, 20, "nothing outside [since, until)");
  assert.ok(frames.filter((f) => f !== frame).every((f) => f.http.latencyMs === null));
});

Deno.test("loadHistory: an empty store or range gives empty frames or none", () => {
  const store = EventStore.open(":memory:");
  const frames = loadHistory(StoreReader.of(store), { since: NOW - 5 * MINUTE, until: NOW });
  assert.ok(frames.length >= 5 && frames.length <= 6);
  assert.ok(frames.every((f) => Object.keys(f.topics).length === 0 && f.http.requests === 0));
  assert.deepEqual(loadHistory(StoreReader.of(store), { since: NOW, until: NOW }), []);
  store.close();
});

Deno.test("loadHistory: host names like constructor, toString and __proto__ are plain keys", () => {
  const store = EventStore.open(":memory:");
  const minute = NOW - 10 * MINUTE - ((NOW - 10 * MINUTE) % MINUTE);
  const names = ["constructor", "toString", "__proto__", "hasOwnProperty"];
  store.insertBatch(
    names.map((host, i) => at(minute + 1000, "host.cpu", { busy_percent: 40 + i }, host)),
  );
  const frames = loadHistory(StoreReader.of(store), { since: NOW - 3_600_000, until: NOW });
  store.close();
  const frame = frames.find((f) => f.t === minute)!;
  assert.deepEqual(Object.keys(frame.hosts).sort(), [...names].sort());
  names.forEach((host, i) => {
    assert.ok(Object.hasOwn(frame.hosts, host), host);
    assert.equal(frame.hosts[host].cpu, 40 + i, host);
  });
  assert.equal((Object as unknown as Record<string, unknown>).cpu, undefined);
  assert.equal(typeof Object.prototype.toString, "function");
  // What the page receives keeps them too.
  const sent = JSON.parse(JSON.stringify(frame));
  assert.equal(sent.hosts.__proto__.cpu, 42);
});
