/**
 * Issue 11 item 2 across a sink restart, for every durable sink: the stream
 * positions the backend saved make a replay after the restart count as
 * duplicates (never stored), and events sent while the sink was down count as
 * lost, exactly as if it had never stopped.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Emitter, type Event } from "@eventstorm/core";
import { eventId, type SinkBackend, type SinkStats } from "@eventstorm/core/sink";
import { gather, startRouter } from "./helpers.ts";
import { runSink } from "./sink_run.ts";
import { waitFor } from "./wait.ts";

/** How a scenario opens the sink's backend (the same store each time) and counts its rows. */
export interface RestartTarget {
  /** A fresh backend over the same durable store. */
  open: () => Promise<SinkBackend>;
  /** Rows (events) the store holds now. */
  rows: () => Promise<number>;
  /** How long each wait may take, ms (slow servers under a loaded machine). */
  timeoutMs?: number;
}

/** Sinks a scenario started: stopped in its `finally`, so a failed check leaves none running. */
type Started = Array<{ stop: () => Promise<SinkStats> }>;

async function startSink(
  started: Started,
  backend: SinkBackend,
  endpoints: string,
  topics?: string[],
) {
  const sink = await runSink(backend, endpoints, { collector: { topics } });
  started.push(sink);
  return sink;
}

async function stopAll(started: Started): Promise<void> {
  await Promise.allSettled(started.map((sink) => sink.stop()));
}

/**
 * (a) 30 events stored, the sink stopped, the source replays from index 10 (a
 * re-read from an older checkpoint, same source id): after the restart the 20
 * already stored are duplicates, the 10 new ones stored, 40 rows.
 */
export async function replayAfterRestart(target: RestartTarget, source: bigint): Promise<void> {
  const timeout = target.timeoutMs ?? 20_000;
  const r = startRouter();
  const started: Started = [];
  try {
    const first = await startSink(started, await target.open(), r.sinks);
    const out = await Emitter.open({ endpoints: r.sources, host: "h", sourceId: source });
    await waitFor(() => out.stats().subscriptions > 0, "the sink's subscription", timeout);
    for (let i = 0; i < 30; i++) out.emit("app.tick", { i });
    await out.close();
    await waitFor(
      () => {
        const stats = first.runner.stats();
        return stats.received === 30 && stats.buffered === 0;
      },
      "30 events written",
      timeout,
    );
    assert.equal((await first.stop()).stored, 30);

    const second = await startSink(started, await target.open(), r.sinks);
    const replay = await Emitter.open({
      endpoints: r.sources,
      host: "h",
      sourceId: source,
      positions: { "app.tick": 10 },
    });
    await waitFor(
      () => replay.stats().subscriptions > 0,
      "the restarted sink's subscription",
      timeout,
    );
    for (let i = 10; i < 40; i++) replay.emit("app.tick", { i });
    await replay.close();
    await waitFor(
      () => {
        const stats = second.runner.stats();
        return stats.received + stats.duplicatesOnWire >= 30 && stats.buffered === 0;
      },
      "the replay accounted",
      timeout,
    );
    const stats = await second.stop();
    assert.deepEqual(
      {
        stored: stats.stored,
        duplicatesOnWire: stats.duplicatesOnWire,
        duplicates: stats.duplicates,
        lostOnWire: stats.lostOnWire,
      },
      { stored: 10, duplicatesOnWire: 20, duplicates: 0, lostOnWire: 0 },
    );
    assert.equal(await target.rows(), 40);
  } finally {
    await stopAll(started);
    await r.stop();
  }
}

/**
 * (b) 10 events stored, the sink stopped, 25 events sent meanwhile (another
 * subscriber keeps them flowing through the router), the sink restarted, 5 more:
 * the restarted sink counts exactly 25 lost and stores 5.
 */
export async function lostWhileDown(target: RestartTarget, source: bigint): Promise<void> {
  const timeout = target.timeoutMs ?? 20_000;
  const r = startRouter();
  const started: Started = [];
  // A wider prefix than the sink's, so the emitter sees the sink's own come and go.
  const other = await gather({ endpoints: r.sinks, topics: ["app."] });
  const out = await Emitter.open({ endpoints: r.sources, host: "h", sourceId: source });
  try {
    const first = await startSink(started, await target.open(), r.sinks, ["app.tick"]);
    await waitFor(() => out.stats().subscriptions === 2, "both subscriptions", timeout);
    for (let i = 0; i < 10; i++) out.emit("app.tick", { i });
    await waitFor(
      () => {
        const stats = first.runner.stats();
        return stats.received === 10 && stats.buffered === 0;
      },
      "10 events written",
      timeout,
    );
    assert.equal((await first.stop()).stored, 10);
    await waitFor(
      () => !r.router.stats().subscriptions.includes("app.tick"),
      "the sink's unsubscription",
      timeout,
    );
    for (let i = 10; i < 35; i++) out.emit("app.tick", { i });
    await waitFor(() => other.events.length === 35, "the other subscriber's 35 events", timeout);

    const second = await startSink(started, await target.open(), r.sinks, ["app.tick"]);
    await waitFor(
      () => r.router.stats().subscriptions.includes("app.tick"),
      "the sink's new subscription",
      timeout,
    );
    for (let i = 35; i < 40; i++) out.emit("app.tick", { i });
    await out.close();
    await waitFor(
      () => {
        const stats = second.runner.stats();
        return stats.received === 5 && stats.buffered === 0;
      },
      "5 events written",
      timeout,
    );
    const stats = await second.stop();
    assert.deepEqual(
      {
        stored: stats.stored,
        lostOnWire: stats.lostOnWire,
        duplicatesOnWire: stats.duplicatesOnWire,
      },
      { stored: 5, lostOnWire: 25, duplicatesOnWire: 0 },
    );
    assert.equal(await target.rows(), 15);
  } finally {
    await stopAll(started);
    await out.close();
    await other.stop();
    await r.stop();
  }
}

/**
 * A stream's tail lost before the sink (events its source dropped, here) shows only in
 * position announcements, which the router repeats for a while (`--announce-for`): a
 * sink stopped cleanly after counting it must not count it again when it restarts
 * (protocol 5.3). Over both runs: 11 stored, 5 lost, each counted once.
 */
export async function tailLostOnce(
  open: () => Promise<SinkBackend>,
  source: bigint,
): Promise<void> {
  const r = startRouter();
  try {
    const first = await runSink(await open(), r.sinks, { collector: { topics: ["app.tick"] } });
    const out = await Emitter.open({
      endpoints: r.sources,
      host: "h",
      sourceId: source,
      maxEventBytes: 200,
    });
    await waitFor(() => out.stats().subscriptions > 0, "the sink's subscription");
    for (let i = 0; i < 10; i++) out.emit("app.tick", { i });
    // Too large to send: dropped by the source, their indexes a gap at the stream's end.
    for (let i = 10; i < 15; i++) out.emit("app.tick", { i, pad: "x".repeat(300) });
    await out.close();
    assert.equal(out.stats().oversized, 5);
    await waitFor(() => {
      const stats = first.runner.stats();
      return stats.stored === 10 && stats.lostOnWire === 5;
    }, "10 stored and the tail counted lost");
    const one = await first.stop();

    const second = await runSink(await open(), r.sinks, { collector: { topics: ["app.tick"] } });
    const more = await Emitter.open({
      endpoints: r.sources,
      host: "h",
      sourceId: source,
      positions: { "app.tick": 15 },
    });
    await waitFor(() => more.stats().subscriptions > 0, "the restarted sink's subscription");
    more.emit("app.tick", { i: 15 });
    await more.close();
    await waitFor(() => second.runner.stats().stored === 1, "event 15 stored");
    const two = await second.stop();
    // 16 events: 11 stored, 5 lost, each counted once over both runs.
    assert.deepEqual(
      { stored: one.stored + two.stored, lost: one.lostOnWire + two.lostOnWire },
      { stored: 11, lost: 5 },
    );
  } finally {
    await r.stop();
  }
}

/**
 * The gaps of a position (`StreamPosition.gaps`) are saved with it and read
 * back by the next run, replaced when a batch fills part of them (its `next`
 * below the saved one, which stays), and cleared by a save without them.
 */
export async function gapsSavedAndLoaded(
  open: () => Promise<SinkBackend>,
  source: bigint,
): Promise<void> {
  const topic = "app.tick";
  const events = (from: number, to: number): Event[] =>
    Array.from({ length: to - from }, (_, i) => ({
      type: topic,
      time: new Date(),
      host: "h",
      i: from + i,
      _id: eventId(source, topic, from + i),
    }));
  const saved = async () => {
    const backend = await open();
    try {
      return (await backend.positions!()).filter((p) => p.source === source)
        .map(({ next, gaps }) => ({ next, gaps: gaps ?? [] }));
    } finally {
      await backend.close();
    }
  };
  const first = await open();
  try {
    await first.positions!();
    await first.write(events(0, 100), [{ source, topic, next: 100, at: Date.now() }]);
    await first.write(events(200, 300), [{
      source,
      topic,
      next: 300,
      at: Date.now(),
      gaps: [100, 200],
    }]);
  } finally {
    await first.close();
  }
  assert.deepEqual(await saved(), [{ next: 300, gaps: [100, 200] }]);

  const second = await open();
  try {
    await second.positions!();
    // Late copies of 100..149: the stream's position stays at 300, its gap shrinks.
    await second.write(events(100, 150), [{
      source,
      topic,
      next: 150,
      at: Date.now(),
      gaps: [150, 200],
    }]);
  } finally {
    await second.close();
  }
  assert.deepEqual(await saved(), [{ next: 300, gaps: [150, 200] }]);

  const third = await open();
  try {
    await third.positions!();
    // The rest counted lost: saved without gaps.
    await third.savePositions!([{ source, topic, next: 300, at: Date.now() }]);
  } finally {
    await third.close();
  }
  assert.deepEqual(await saved(), [{ next: 300, gaps: [] }]);
}
