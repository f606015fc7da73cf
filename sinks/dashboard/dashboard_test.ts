import assert from "node:assert/strict";
import { Emitter } from "@eventstorm/core";
import { EventStore } from "@eventstorm/sink-store";
import { eventId } from "@eventstorm/core/sink";
import { DashboardBackend } from "./backend.ts";
import { Dashboard } from "./dashboard.ts";
import type { DashboardState, Frame } from "./aggregator.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("dashboard opens with the store's last hour and continues live", opts, async () => {
  const dir = await Deno.makeTempDir();
  const db = `${dir}/events.db`;
  const store = EventStore.open(db);
  const tenMinutesAgo = Date.now() - 10 * 60_000;
  store.insertBatch(
    Array.from({ length: 30 }, (_, i) => ({
      type: "http.hit",
      time: new Date(tenMinutesAgo + i),
      host: "web1",
      status: 200,
      request_time: 0.05,
    })),
  );
  store.close();

  const dashboard = await Dashboard.start({
    collector: { endpoints: "@tcp://127.0.0.1:*" },
    port: 0,
    db,
    log: () => {},
  });
  const out = await Emitter.open({ endpoints: `>${dashboard.boundEndpoint()}`, lingerMs: 1 });
  const messages: { type: string; frames?: Frame[]; frame?: Frame; state: DashboardState }[] = [];
  const socket = new WebSocket(`ws://127.0.0.1:${dashboard.port}/ws`);
  // The hello comes as one binary message (the sink's cached UTF-8 blocks joined), updates as text.
  socket.binaryType = "arraybuffer";
  const decoder = new TextDecoder();
  socket.onmessage = (message) =>
    messages.push(
      JSON.parse(typeof message.data === "string" ? message.data : decoder.decode(message.data)),
    );
  try {
    await until(() => messages.length > 0, "the hello message");
    const hello = messages[0];
    assert.equal(hello.type, "hello");
    const history = hello.frames!.filter((frame) => frame.dt === 60);
    assert.ok(history.length >= 59, `history frames: ${history.length}`);
    assert.equal(history.reduce((sum, frame) => sum + frame.http.requests, 0), 30);

    await until(() => out.stats().subscriptions > 0, "the dashboard's subscription");
    for (let i = 0; i < 250; i++) {
      out.emit("http.hit", { host: "web2", status: 503, request_time: 0.2, path: "/live" });
    }
    await out.flush();
    const live = () =>
      messages.filter((m) => m.type === "frame").reduce(
        (sum, m) => sum + m.frame!.http.requests,
        0,
      );
    await until(() => live() === 250, "250 live requests in pushed frames");
    const last = messages.at(-1)!;
    assert.deepEqual(last.state.top.paths, [["/live", 250]]);
    assert.equal(last.state.totals.events, 250);
    const pushed = messages.filter((m) => m.type === "frame").map((m) => m.frame!);
    const withLatency = pushed.filter((frame) => frame.http.latencyMs !== null);
    assert.ok(withLatency.every((frame) => Math.abs(frame.http.latencyMs![2] - 200) <= 1));
    // Frames keep coming while idle, one per tick, never the raw events.
    const count = pushed.length;
    await until(
      () => messages.filter((m) => m.type === "frame").length >= count + 2,
      "idle frames",
    );
    assert.ok(messages.every((m) => !JSON.stringify(m).includes('"type":"http.hit"')));
    assert.equal(dashboard.stats().clients, 1);
  } finally {
    socket.close();
    await out.close();
    await dashboard.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the dashboard backend aggregates decoded events too, by stream", async () => {
  const backend = await DashboardBackend.open({ port: 0, log: () => {} });
  try {
    const time = new Date();
    const result = await backend.write([
      { _id: eventId(0xabn, "http.hit", 0), type: "http.hit", time, host: "web1", status: 200 },
      { _id: eventId(0xabn, "http.hit", 1), type: "http.hit", time, host: "web1", status: 500 },
      { _id: eventId(0xcdn, "ssh.login", 0), type: "ssh.login", time, host: "bastion" },
    ]);
    assert.deepEqual(result, {});
    assert.equal(backend.aggregator.events, 3);
    const frame = backend.aggregator.tick(Date.now());
    assert.deepEqual(frame.topics, { "http.hit": 2, "ssh.login": 1 });
    assert.deepEqual(backend.counters(), { clients: 0, frames: 1 });
  } finally {
    await backend.close();
  }
});

Deno.test("history from a store beyond a day comes in ten-minute frames, the last day in minutes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = `${dir}/events.db`;
    const store = EventStore.open(db);
    const now = Date.now();
    const at = (ago: number, request_time: number) => ({
      type: "http.hit",
      time: new Date(now - ago),
      host: "web1",
      status: 200,
      request_time,
    });
    store.insertBatch([
      at(2 * 86_400_000, 0.5),
      at(2 * 86_400_000 - 1000, 0.5),
      at(10 * 60_000, 0.02),
    ]);
    store.close();
    const backend = await DashboardBackend.open({
      port: 0,
      db,
      historyMs: 3 * 86_400_000,
      log: () => {},
    });
    try {
      const frames = backend.aggregator.framesJson().map((json) => JSON.parse(json) as Frame);
      const old = frames.find((frame) => frame.http.requests === 2)!;
      assert.equal(old.dt, 600);
      assert.deepEqual(old.http.latencyMs, [500, 500, 500]);
      const recent = frames.find((frame) => frame.http.requests === 1)!;
      assert.equal(recent.dt, 60);
      const count = (dt: number) => frames.filter((frame) => frame.dt === dt).length;
      // Two days of ten minutes, a day of minutes from the ten-minute line before it.
      assert.ok(count(600) >= 286 && count(600) <= 288, `${count(600)} ten-minute frames`);
      assert.ok(count(60) >= 1439 && count(60) <= 1450, `${count(60)} minute frames`);
      const covered = frames.reduce((sum, frame) => sum + frame.dt, 0);
      assert.ok(Math.abs(covered - 3 * 86_400) < 1, `${covered} s covered`);
    } finally {
      await backend.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
