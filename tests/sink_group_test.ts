/**
 * Sink groups (`--member I/N`): three real store sinks share one router's stream;
 * every source's events end up in exactly one of them, all of them, and each
 * member's loss accounting stays exact.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Collector, Emitter, memberOf } from "@eventstorm/core";
import { EventStore, queryEvents } from "@eventstorm/sink-store";
import { cli, finish, startRouter, storedCount, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SOURCES = 9;
const EVENTS = 2000;

Deno.test(
  "sink group: 3 store sinks with --member keep every source whole, once, nothing lost",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "sink_group_" });
    const router = startRouter();
    try {
      const sinks = [1, 2, 3].map((index) =>
        cli([
          "sink",
          "store",
          "--db",
          `${dir}/member${index}.db`,
          "--from",
          router.sinks,
          "--topic",
          "app.",
          "--member",
          `${index}/3`,
          "--stats-interval",
          "1h",
          "--stats-to",
          "none",
        ])
      );
      const emitters = await Promise.all(
        Array.from({ length: SOURCES }, () => Emitter.open({ endpoints: router.sources })),
      );
      await waitFor(
        () => emitters.every((emitter) => emitter.stats().subscriptions >= 1),
        "every sink's subscription at every source",
      );
      // Three subscribers each: wait until all three sinks are connected to the router.
      await waitFor(() => router.router.stats().subscriptions.length > 0, "subscriptions");
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (let i = 0; i < EVENTS; i++) {
        for (const [n, emitter] of emitters.entries()) emitter.emit("app.group", { n, i });
      }
      await Promise.all(emitters.map((emitter) => emitter.close()));
      const dbs = [1, 2, 3].map((index) => `${dir}/member${index}.db`);
      await waitFor(
        () => dbs.reduce((sum, db) => sum + storedCount(db), 0) >= SOURCES * EVENTS,
        "every event stored by some member",
      );
      const lines: string[] = [];
      for (const sink of sinks) {
        sink.kill("SIGTERM");
        const result = await finish(sink);
        assert.equal(result.code, 0, result.stderr);
        lines.push(result.stderr.trim().split("\n").pop()!);
      }
      let total = 0;
      for (const [i, db] of dbs.entries()) {
        const store = EventStore.open(db, { readOnly: true });
        const events = queryEvents(store, { type: "app." });
        store.close();
        total += events.length;
        const owners = new Set(events.map((event) => event.n));
        for (const n of owners) {
          const source = emitters[n as number].sourceId;
          assert.equal(memberOf(source, 3), i + 1, `source ${n} stored by member ${i + 1}`);
          assert.equal(events.filter((event) => event.n === n).length, EVENTS, `source ${n} whole`);
        }
        assert.match(lines[i], /lost on wire 0/);
        assert.match(lines[i], /left to other members \d+ msgs/);
      }
      assert.equal(total, SOURCES * EVENTS);
    } finally {
      await router.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("sink group: a collector skips other members' messages before decoding", async () => {
  const router = startRouter();
  const members = await Promise.all(
    [1, 2].map((index) => Collector.open({ endpoints: router.sinks, member: { index, count: 2 } })),
  );
  const received = [0, 0];
  const loops = members.map((collector, i) =>
    (async () => {
      for await (const batch of collector.batches()) received[i] += batch.events.length;
    })()
  );
  const emitters = await Promise.all(
    Array.from({ length: 6 }, () => Emitter.open({ endpoints: router.sources })),
  );
  await waitFor(() => emitters.every((e) => e.stats().subscriptions > 0), "subscriptions");
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (const emitter of emitters) for (let i = 0; i < 100; i++) emitter.emit("app.m", { i });
  await Promise.all(emitters.map((emitter) => emitter.close()));
  const expected = [1, 2].map((member) =>
    emitters.filter((emitter) => memberOf(emitter.sourceId, 2) === member).length * 100
  );
  await waitFor(
    () => received[0] === expected[0] && received[1] === expected[1],
    `${expected} events`,
  );
  for (const [i, collector] of members.entries()) {
    const stats = collector.stats();
    assert.equal(stats.lost, 0);
    assert.equal(stats.otherMembersEvents, expected[1 - i]);
    await collector.close();
    await loops[i];
  }
  await router.stop();
});
