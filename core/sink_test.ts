import assert from "node:assert/strict";
import { decodeEvents, encodeBatch } from "./codec.ts";
import { Emitter } from "./emitter.ts";
import type { Event } from "./event.ts";
import type { WireMessage } from "./protocol.ts";
import { parseEventId } from "./event_ids.ts";
import { SinkRunner, type SinkRunnerOptions, type SinkStats } from "./sink.ts";
import type { SinkBackend, WriteResult } from "./sink_backend.ts";
import type { StreamPosition } from "./sequence.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** An in-memory backend that can be switched off, like a database going away. */
class SwitchableBackend implements SinkBackend {
  readonly name = "memory";
  up = true;
  failWith = "connection refused";
  readonly stored = new Map<unknown, Event>();
  writes = 0;
  delayMs = 0;
  async write(events: Event[]): Promise<number> {
    this.writes++;
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (!this.up) throw new Error(this.failWith);
    let refused = 0;
    for (const event of events) {
      if (event.refuse) refused++;
      else this.stored.set(event._id, event);
    }
    return refused;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The same, taking undecoded messages: it decodes them itself, and notes the
 * largest write, which the batch size bounds in events.
 */
class SwitchableMessageBackend extends SwitchableBackend {
  largestWrite = 0;
  async writeMessages(messages: WireMessage[]): Promise<number> {
    const events = messages.flatMap((message) =>
      decodeEvents(message.body, { topic: message.topic }).events.map((event, i) => ({
        ...event,
        _id: `${message.header!.source}-${message.topic}-${message.header!.first + i}`,
      }))
    );
    assert.equal(events.length, messages.reduce((sum, message) => sum + message.count, 0));
    this.largestWrite = Math.max(this.largestWrite, events.length);
    return await this.write(events);
  }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function pipeline(
  backend: SwitchableBackend,
  options: Partial<SinkRunnerOptions>,
  emitterOptions: { maxEvents?: number } = {},
) {
  const runner = new SinkRunner(backend, {
    collector: { endpoints: "@tcp://127.0.0.1:*", receiveHwm: 100_000 },
    retryMs: 10,
    maxRetryMs: 50,
    log: () => {},
    ...options,
  });
  const collector = await runner.open();
  const controller = new AbortController();
  const running = runner.run(controller.signal);
  const emitter = await Emitter.open({
    endpoints: `>${collector.boundEndpoint()}`,
    ...emitterOptions,
  });
  await until(() => emitter.stats().subscriptions > 0, "subscription");
  return {
    runner,
    emitter,
    stop: async (): Promise<SinkStats> => {
      controller.abort();
      return await running;
    },
  };
}

function assertAccounted(stats: SinkStats): void {
  assert.equal(
    stats.stored + stats.duplicates + stats.droppedFull + stats.droppedUnsaved +
      stats.droppedRejected + stats.droppedShutdown + stats.buffered,
    stats.received,
    JSON.stringify(stats),
  );
}

Deno.test("sink runner: an outage shorter than the buffer costs nothing", opts, async () => {
  const backend = new SwitchableBackend();
  const p = await pipeline(backend, { bufferEvents: 10_000 });
  for (let i = 0; i < 1000; i++) p.emitter.emit("app.a", { i });
  await p.emitter.flush();
  await until(() => p.runner.stats().stored === 1000, "1000 stored");
  backend.up = false;
  for (let i = 1000; i < 5000; i++) p.emitter.emit("app.a", { i });
  await p.emitter.flush();
  await until(() => p.runner.stats().received === 5000, "5000 received during the outage");
  assert.ok(p.runner.stats().writeErrors > 0);
  assertAccounted(p.runner.stats());
  backend.up = true;
  await until(() => p.runner.stats().stored === 5000, "the buffer to drain");
  await p.emitter.close();
  const stats = await p.stop();
  assert.equal(stats.droppedFull, 0);
  assert.equal(backend.stored.size, 5000, "each event stored once, retries included");
  assertAccounted(stats);
});

Deno.test(
  "sink runner: says why writes fail, once per error and spell, and when they succeed again",
  opts,
  async () => {
    const backend = new SwitchableBackend();
    const lines: string[] = [];
    const p = await pipeline(backend, { log: (line) => lines.push(line) });
    const failFor = async (message: string, attempts: number) => {
      backend.failWith = message;
      const from = p.runner.stats().writeErrors;
      await until(() => p.runner.stats().writeErrors >= from + attempts, `${attempts} failures`);
    };
    backend.up = false;
    for (let i = 0; i < 10; i++) p.emitter.emit("app.a", { i });
    await p.emitter.flush();
    const refused = "connect ECONNREFUSED 10.0.0.1:27017 (mongodb://app:s3cret@db1:27017)";
    await failFor(`${refused}\n    at connect (driver.js:1)`, 3);
    await failFor("disk full", 2);
    await failFor(refused, 2);
    const attempts = p.runner.stats().writeErrors;
    backend.up = true;
    await until(() => p.runner.stats().stored === 10, "the buffer to drain");
    backend.up = false;
    p.emitter.emit("app.a", { i: 10 });
    await p.emitter.flush();
    await failFor("disk full", 1);
    backend.up = true;
    await until(() => p.runner.stats().stored === 11, "the last event");
    await p.emitter.close();
    await p.stop();
    const redacted = "connect ECONNREFUSED 10.0.0.1:27017 (mongodb://app:***@db1:27017)";
    assert.deepEqual(lines.slice(0, 3), [
      `sink memory: writing fails (${redacted}); retrying`,
      "sink memory: writing fails (disk full); retrying",
      `sink memory: writing succeeds again after ${attempts} failed attempts`,
    ]);
    assert.deepEqual(lines.slice(3), [
      "sink memory: writing fails (disk full); retrying",
      "sink memory: writing succeeds again after 1 failed attempt",
    ]);
    assert.equal(p.runner.stats().lastError, "disk full");
  },
);

/** The BSON size of each event `emitPadded` sends (all the same). */
const PADDED =
  encodeBatch([{ type: "app.a", time: new Date(), host: "h", i: 0, pad: "x".repeat(300) }])
    .length;

/** Emits events `[from, to)` of `PADDED` bytes each (`i` below 2^31 keeps the size). */
function emitPadded(emitter: Emitter, from: number, to: number): void {
  for (let i = from; i < to; i++) emitter.emit("app.a", { host: "h", i, pad: "x".repeat(300) });
}

/** Bounds that each hold 500 of those events: in events, in bytes, or both with either binding. */
const BOUNDS: Record<string, Partial<SinkRunnerOptions>> = {
  events: { bufferEvents: 500 },
  bytes: { bufferBytes: 500.5 * PADDED },
  "both, bytes binding": { bufferEvents: 600, bufferBytes: 500.5 * PADDED },
  "both, events binding": { bufferEvents: 500, bufferBytes: 600 * PADDED },
};

for (
  const [whenFull, taking] of [
    ["drop-newest", "events"],
    ["drop-oldest", "events"],
    ["drop-newest", "messages"],
    ["drop-oldest", "messages"],
  ] as const
) {
  for (const [bound, bounds] of Object.entries(BOUNDS)) {
    Deno.test(
      `sink runner: a full buffer (bound: ${bound}) drops ${
        whenFull === "drop-newest" ? "new" : "old"
      } events and counts them (backend taking ${taking})`,
      opts,
      async () => {
        // Undecoded messages are split where the buffer and the batches end.
        const backend = taking === "events"
          ? new SwitchableBackend()
          : new SwitchableMessageBackend();
        backend.up = false;
        const p = await pipeline(backend, { ...bounds, whenFull, batchSize: 100 });
        emitPadded(p.emitter, 0, 2000);
        await p.emitter.flush();
        await until(() => p.runner.stats().received === 2000, "2000 received");
        // Every event is the size the bounds were set from.
        assert.equal((await p.runner.open()).stats().bytes, 2000 * PADDED);
        const during = p.runner.stats();
        assert.equal(during.droppedFull, 1500);
        assertAccounted(during);
        backend.up = true;
        await until(() => p.runner.stats().buffered === 0, "the buffer to drain");
        await p.emitter.close();
        const stats = await p.stop();
        assert.equal(stats.stored, 500);
        assertAccounted(stats);
        assert.equal(backend.stored.size, 500);
        if (backend instanceof SwitchableMessageBackend) assert.equal(backend.largestWrite, 100);
        const kept = [...backend.stored.values()].map((event) => event.i as number).sort((a, b) =>
          a - b
        );
        if (whenFull === "drop-newest") {
          // The in-flight batch and the first events buffered survive.
          assert.equal(kept[0], 0);
          assert.ok(kept[kept.length - 1] < 600);
        } else {
          // The newest survive, plus the batch that was in flight when the buffer filled.
          assert.equal(kept[kept.length - 1], 1999);
          assert.ok(kept.filter((i) => i >= 1600).length === 400, `${kept.length} kept`);
        }
      },
    );
  }

  Deno.test(
    `sink runner: an event larger than the byte bound goes in alone, ${whenFull} (backend taking ${taking})`,
    opts,
    async () => {
      const backend = taking === "events"
        ? new SwitchableBackend()
        : new SwitchableMessageBackend();
      backend.up = false;
      const p = await pipeline(backend, { bufferBytes: PADDED / 2, whenFull, batchSize: 100 });
      emitPadded(p.emitter, 0, 5);
      await p.emitter.flush();
      await until(() => p.runner.stats().received === 5, "the first message");
      let stats = p.runner.stats();
      assert.equal(stats.buffered, 1);
      assert.equal(stats.droppedFull, 4);
      assertAccounted(stats);
      // Nothing else fits beside it, not even one event.
      emitPadded(p.emitter, 5, 10);
      await p.emitter.flush();
      await until(() => p.runner.stats().received === 10, "the second message");
      stats = p.runner.stats();
      assert.equal(stats.buffered, 1);
      assert.equal(stats.droppedFull, 9);
      assertAccounted(stats);
      backend.up = true;
      await until(() => p.runner.stats().stored === 1, "the one held stored");
      // Never stuck: the next lone event goes in once the buffer is empty.
      emitPadded(p.emitter, 10, 11);
      await p.emitter.flush();
      await until(() => p.runner.stats().stored === 2, "the next stored");
      await p.emitter.close();
      stats = await p.stop();
      assert.equal(stats.droppedFull, 9);
      assertAccounted(stats);
      const kept = [...backend.stored.values()].map((event) => event.i as number);
      kept.sort((a, b) => a - b);
      assert.equal(kept.length, 2);
      assert.equal(kept[1], 10);
      // The oldest is out of reach only while it is in flight (not in a retry's backoff).
      if (whenFull === "drop-newest") assert.equal(kept[0], 0);
      else assert.ok(kept[0] === 4 || kept[0] === 9, `kept ${kept}`);
    },
  );
}

Deno.test(
  "sink runner: an int64 within ±2^53 reaches the backend as a bigint (audit #4)",
  opts,
  async () => {
    // A backend that re-encodes (file --format bson, mongodb) then writes an int64 back, not an int32.
    const backend = new SwitchableBackend();
    const p = await pipeline(backend, {});
    p.emitter.emit("app.a", { small: 5n, big: 2n ** 60n, plain: 5 });
    await p.emitter.close();
    await until(() => p.runner.stats().stored === 1, "1 stored");
    await p.stop();
    const [event] = [...backend.stored.values()];
    assert.equal(event.small, 5n);
    assert.equal(event.big, 2n ** 60n);
    assert.equal(event.plain, 5);
  },
);

/** Stores every type but those in `failing`, whose events it reports as not stored. */
class PartlyFailingBackend implements SinkBackend {
  readonly name = "partial";
  readonly failing = new Set<string>();
  readonly stored: Event[] = [];
  write(events: Event[]): Promise<WriteResult | number> {
    const failed = events.filter((event) => this.failing.has(event.type));
    this.stored.push(...events.filter((event) => !this.failing.has(event.type)));
    return Promise.resolve(
      failed.length ? { failed: { events: failed, error: new Error("Not a directory") } } : 0,
    );
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test(
  "sink runner: a type the backend cannot store waits apart; the others are stored (audit #3)",
  opts,
  async () => {
    const backend = new PartlyFailingBackend();
    backend.failing.add("app.bad");
    const p = await pipeline(backend as unknown as SwitchableBackend, {
      batchSize: 7,
      shutdownTimeoutMs: 300,
    });
    for (let i = 0; i < 100; i++) {
      p.emitter.emit("app.bad", { i });
      p.emitter.emit("app.ok", { i });
    }
    await p.emitter.flush();
    await until(() => p.runner.stats().stored === 100, "the healthy type stored");
    let stats = p.runner.stats();
    assert.equal(stats.buffered, 100);
    assert.ok(stats.writeErrors > 0);
    assertAccounted(stats);
    // It heals: the events set apart are stored, each once, in their order.
    backend.failing.clear();
    await until(() => p.runner.stats().stored === 200, "the failing type stored");
    const bad = backend.stored.filter((event) => event.type === "app.bad").map((e) => e.i);
    assert.deepEqual(bad, Array.from({ length: 100 }, (_, i) => i));
    // Broken again at shutdown: what waits apart is counted as dropped there.
    backend.failing.add("app.bad");
    for (let i = 100; i < 130; i++) {
      p.emitter.emit("app.bad", { i });
      p.emitter.emit("app.ok", { i });
    }
    await p.emitter.close();
    await until(() => p.runner.stats().stored === 230, "the healthy type stored again");
    stats = await p.stop();
    assert.equal(stats.droppedShutdown, 30);
    assert.equal(stats.buffered, 0);
    assertAccounted(stats);
  },
);

Deno.test("sink runner: events refused for good are counted, not retried", opts, async () => {
  const backend = new SwitchableBackend();
  const p = await pipeline(backend, {});
  for (let i = 0; i < 100; i++) p.emitter.emit("app.a", { i, refuse: i % 10 === 0 });
  await p.emitter.close();
  await until(
    () => p.runner.stats().received === 100 && p.runner.stats().buffered === 0,
    "100 handled",
  );
  const stats = await p.stop();
  assert.equal(stats.stored, 90);
  assert.equal(stats.droppedRejected, 10);
  assertAccounted(stats);
});

for (const hang of [false, true]) {
  Deno.test(
    `sink runner: the shutdown ends --shutdown-timeout after the signal while the backend ${
      hang ? "hangs" : "fails"
    } (audit #2)`,
    opts,
    async () => {
      // Long backoffs (and, hanging, writes that take longer still) must not
      // hold the shutdown past its deadline, which starts at the signal.
      const backend = new SwitchableBackend();
      backend.up = false;
      const p = await pipeline(backend, {
        shutdownTimeoutMs: 600,
        retryMs: 3000,
        maxRetryMs: 5000,
        batchSize: 50,
      });
      if (hang) backend.delayMs = 4000;
      for (let i = 0; i < 300; i++) p.emitter.emit("app.a", { i });
      await p.emitter.close();
      await until(() => p.runner.stats().received === 300, "300 received");
      if (!hang) await until(() => p.runner.stats().writeErrors > 0, "a failed write");
      const started = Date.now();
      const stats = await p.stop();
      const took = Date.now() - started;
      assert.ok(took < 600 + 400, `shutdown took ${took} ms`);
      assert.equal(stats.stored, 0);
      assert.equal(stats.droppedShutdown, 300);
      assert.equal(stats.buffered, 0);
      assertAccounted(stats);
    },
  );
}

Deno.test(
  "sink runner: at shutdown a dead backend's buffer is counted as dropped",
  opts,
  async () => {
    const backend = new SwitchableBackend();
    backend.up = false;
    const p = await pipeline(backend, { shutdownTimeoutMs: 200 });
    for (let i = 0; i < 300; i++) p.emitter.emit("app.a", { i });
    await p.emitter.close();
    await until(() => p.runner.stats().received === 300, "300 received");
    const stats = await p.stop();
    assert.equal(stats.stored, 0);
    assert.equal(stats.droppedShutdown, 300);
    assert.equal(stats.buffered, 0);
    assertAccounted(stats);
  },
);

Deno.test("sink runner: events get stable ids from their stream position", opts, async () => {
  const backend = new SwitchableBackend();
  const p = await pipeline(backend, {});
  for (let i = 0; i < 3; i++) p.emitter.emit("app.a", { i });
  p.emitter.emit("app.b", { i: 0, _id: "mine" });
  await p.emitter.close();
  await until(() => p.runner.stats().stored === 4, "4 stored");
  await p.stop();
  const source = p.emitter.sourceId.toString(16);
  // `_id` is the sink's: a sender's own is replaced, so it cannot take another's id.
  assert.deepEqual(
    [...backend.stored.keys()].sort(),
    [`${source}-app.a-0`, `${source}-app.a-1`, `${source}-app.a-2`, `${source}-app.b-0`].sort(),
  );
});

Deno.test(
  "sink: the runner resumes the positions its backend saved, member's share only",
  opts,
  async () => {
    const saved = new Map<string, number>();
    const backend: SinkBackend = {
      name: "positions",
      write(_events, positions = []) {
        for (const { source, topic, next } of positions) saved.set(`${source}/${topic}`, next);
        return Promise.resolve();
      },
      positions: () =>
        Promise.resolve([
          { source: 2n, topic: "app.tick", next: 10, at: Date.now() },
          { source: 3n, topic: "app.tick", next: 10, at: Date.now() },
        ]),
      close: () => Promise.resolve(),
    };
    const runner = new SinkRunner(backend, {
      collector: { endpoints: "@tcp://127.0.0.1:*", member: { index: 1, count: 2 } },
    });
    const collector = await runner.open();
    const controller = new AbortController();
    const running = runner.run(controller.signal);
    const endpoint = collector.boundEndpoint();
    for (const sourceId of [2n, 3n]) {
      const out = await Emitter.open({
        endpoints: `>${endpoint}`,
        host: "h",
        sourceId,
        positions: { "app.tick": 5 },
      });
      await until(() => out.stats().subscriptions > 0, "the sink's subscription");
      for (let i = 0; i < 10; i++) out.emit("app.tick", { i });
      await out.close();
    }
    // Source 2 is this member's: 5..9 are replays, 10..14 new. Source 3 is not its own.
    await until(() => runner.stats().received === 5 && runner.stats().buffered === 0, "5 stored");
    controller.abort();
    const stats = await running;
    assert.equal(stats.duplicatesOnWire, 5);
    assert.equal(stats.stored, 5);
    assert.deepEqual([...saved], [["2/app.tick", 15]]);
  },
);

Deno.test(
  "sink runner: a backend taking messages gets them undecoded, with the wire's counters and its own",
  opts,
  async () => {
    const backend = new SwitchableMessageBackend();
    let wire: (() => { lost: number }) | undefined;
    let saved: unknown[] = [];
    const runner = new SinkRunner(
      Object.assign(backend, {
        start: (read: () => { lost: number }) => wire = read,
        counters: () => ({ pages: 2, received: -1 }),
        positions: () => Promise.resolve([]),
        writeMessages: (messages: WireMessage[], positions?: unknown[]) => {
          saved = positions ?? [];
          return SwitchableMessageBackend.prototype.writeMessages.call(backend, messages);
        },
      }),
      { collector: { endpoints: "@tcp://127.0.0.1:*" } },
    );
    const collector = await runner.open();
    const controller = new AbortController();
    const running = runner.run(controller.signal);
    const out = await Emitter.open({
      endpoints: `>${collector.boundEndpoint()}`,
      sourceId: 7n,
      positions: { "app.a": 10 },
    });
    await until(() => out.stats().subscriptions > 0, "subscription");
    for (let i = 0; i < 25; i++) out.emit("app.a", { i });
    await out.close();
    await until(() => runner.stats().stored === 25, "25 stored");
    assert.ok(wire !== undefined, "start was given the wire's counters");
    assert.equal(wire().lost, 0);
    assert.deepEqual(
      saved.map((p) => ({ ...(p as object), at: 0 })),
      [{ source: 7n, topic: "app.a", next: 35, at: 0 }],
    );
    const counters = runner.counters();
    assert.equal(counters.pages, 2, "the backend's own counter");
    assert.equal(counters.received, 25, "a shared name keeps the runner's meaning");
    controller.abort();
    const stats = await running;
    assertAccounted(stats);
    assert.deepEqual([...backend.stored.keys()].slice(0, 2), ["7-app.a-10", "7-app.a-11"]);
  },
);

/**
 * Two batches in flight, answered in a later task as a writer thread answers;
 * keeps SinkBackend.concurrency's contract: once a batch fails, the ones given
 * before the runner saw the failure fail too.
 */
class PipelinedBackend implements SinkBackend {
  readonly name = "pipelined";
  readonly concurrency = 2;
  readonly order: number[] = [];
  failNext = 0;
  inFlight = 0;
  maxInFlight = 0;
  #failed = false;
  #resume = false;
  write(events: Event[]): Promise<number> {
    const resume = this.#resume;
    this.#resume = false;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve, reject) =>
      setTimeout(() => {
        this.inFlight--;
        if (resume) this.#failed = false;
        if (this.failNext > 0) {
          this.failNext--;
          this.#failed = true;
        }
        if (this.#failed) {
          this.#resume = true;
          reject(new Error("disk full"));
          return;
        }
        for (const event of events) this.order.push(event.i as number);
        resolve(0);
      }, 1)
    );
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test(
  "sink runner: a backend with two batches in flight stores each event once, in order, across failures",
  opts,
  async () => {
    const backend = new PipelinedBackend();
    backend.failNext = 3;
    const p = await pipeline(backend as unknown as SwitchableBackend, {
      bufferEvents: 20_000,
      batchSize: 100,
    });
    for (let i = 0; i < 5000; i++) p.emitter.emit("app.a", { i });
    await p.emitter.flush();
    await until(() => p.runner.stats().stored === 5000, "5000 stored");
    await p.emitter.close();
    const stats = await p.stop();
    assert.equal(backend.maxInFlight, 2, "the next batch was handed over before the last settled");
    assert.ok(stats.writeErrors >= 1, JSON.stringify(stats));
    assert.deepEqual(backend.order, Array.from({ length: 5000 }, (_, i) => i));
    assert.equal(stats.duplicates, 0);
    assertAccounted(stats);
  },
);

/**
 * Two batches in flight on "another thread" (answered in a later task), which can
 * stall; notes the events the runner held at each write.
 */
class SettlingBackend implements SinkBackend {
  readonly name = "settling";
  readonly concurrency = 2;
  runner: SinkRunner | undefined;
  stored = 0;
  /** The events the runner held at each write. */
  readonly held: number[] = [];
  #gate: Promise<void> | undefined;
  #open: () => void = () => {};
  stall(): void {
    this.#gate = new Promise((resolve) => this.#open = resolve);
  }
  resume(): void {
    this.#open();
    this.#gate = undefined;
  }
  async write(events: Event[]): Promise<void> {
    this.held.push(this.runner!.stats().buffered);
    await new Promise((resolve) => setTimeout(resolve, 2));
    await this.#gate;
    this.stored += events.length;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test(
  "sink runner: a burst the writer cannot keep pace with goes into the buffer, while writes are in flight",
  opts,
  async () => {
    const backend = new SettlingBackend();
    const p = await pipeline(
      backend as unknown as SwitchableBackend,
      { bufferEvents: 10_000, batchSize: 100, whenFull: "block" },
      { maxEvents: 100 },
    );
    backend.runner = p.runner;
    // 200 messages at once against writes of 100 events that take 2 ms or more each: a
    // reader that stepped out with a zero timer (2 ms a message) took them in no faster
    // than the writer stored them, leaving the burst in the socket's queue (and, past its
    // high-water mark, to the router, which drops what overflows).
    for (let i = 0; i < 20_000; i++) p.emitter.emit("app.a", { i });
    await p.emitter.flush();
    await until(() => backend.stored === 20_000, "20000 stored");
    const most = Math.max(...backend.held);
    assert.ok(most >= 5000, `held at most ${most}`);
    // No write settles: the reader still takes in what the buffer holds.
    backend.stall();
    for (let i = 0; i < 6000; i++) p.emitter.emit("app.a", { i });
    await p.emitter.flush();
    await until(() => p.runner.stats().buffered >= 5000, "the stall taken into the buffer");
    backend.resume();
    await until(() => backend.stored === 26_000, "26000 stored");
    await p.emitter.close();
    const stats = await p.stop();
    assert.equal(stats.droppedFull + stats.lostOnWire, 0, JSON.stringify(stats));
    assertAccounted(stats);
  },
);

/** Records the positions each write and save gave, and can hold writes back. */
class GapsBackend implements SinkBackend {
  readonly name = "gaps";
  readonly writes: { indexes: number[]; positions: StreamPosition[] }[] = [];
  readonly saves: StreamPosition[][] = [];
  stored = 0;
  #gate: Promise<void> | undefined;
  #open: () => void = () => {};
  hold(): void {
    this.#gate = new Promise((resolve) => this.#open = resolve);
  }
  release(): void {
    this.#open();
    this.#gate = undefined;
  }
  async write(events: Event[], positions: StreamPosition[] = []): Promise<void> {
    await this.#gate;
    const indexes = events.map((event) => parseEventId(event._id)!.index);
    this.writes.push({ indexes, positions: structuredClone(positions) });
    this.stored += events.length;
  }
  positions(): Promise<StreamPosition[]> {
    return Promise.resolve([]);
  }
  savePositions(positions: StreamPosition[]): Promise<void> {
    this.saves.push(structuredClone(positions));
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** One path of a redundant stream: a bound emitter of source 7's `app.tick` from `from` on. */
function redundantPath(from: number): Promise<Emitter> {
  return Emitter.open({
    endpoints: "@tcp://127.0.0.1:*",
    host: "h",
    sourceId: 7n,
    positions: { "app.tick": from },
  });
}

async function sendOn(path: Emitter, from: number, to: number): Promise<void> {
  await until(() => path.stats().subscriptions > 0, "the sink's subscription");
  for (let i = from; i < to; i++) path.emit("app.tick", { i });
  await path.ready();
}

/** Stores 0..9 through `early`, then 20..29 through `ahead`: `[10, 20)` is a gap, saved. */
async function openGap(backend: GapsBackend, early: Emitter, ahead: Emitter): Promise<void> {
  await sendOn(early, 0, 10);
  await until(() => backend.stored === 10, "0..9 stored");
  await sendOn(ahead, 20, 30);
  await until(() => backend.stored === 20, "20..29 stored");
  assert.deepEqual(backend.writes.at(-1)!.positions[0].gaps, [10, 20]);
}

/**
 * Runs a sink of `backend` subscribed to every path, its gaps held `gapHoldMs`;
 * `stop` closes the paths, then the sink.
 */
function runOnPaths(
  backend: SinkBackend,
  paths: Emitter[],
  gapHoldMs: number,
  options: Omit<SinkRunnerOptions, "collector"> = {},
): { runner: SinkRunner; stop: () => Promise<void> } {
  const runner = new SinkRunner(backend, {
    collector: { endpoints: paths.map((path) => `>${path.boundEndpoint()}`).join(","), gapHoldMs },
    log: () => {},
    ...options,
  });
  const controller = new AbortController();
  const running = runner.run(controller.signal);
  return {
    runner,
    stop: async () => {
      for (const path of paths) await path.close();
      controller.abort();
      await running;
    },
  };
}

Deno.test(
  "sink runner: late copies taken in but not stored yet are saved as gaps with later positions",
  opts,
  async () => {
    const paths = [await redundantPath(0), await redundantPath(200), await redundantPath(100)];
    const [early, ahead, late] = paths;
    const backend = new GapsBackend();
    const { runner, stop } = runOnPaths(backend, paths, 60_000, { batchSize: 10 });
    try {
      await sendOn(early, 0, 100);
      await until(() => backend.stored === 100, "0..99 stored");
      await sendOn(ahead, 200, 300);
      await until(() => backend.stored === 200, "200..299 stored");
      assert.deepEqual(backend.writes.at(-1)!.positions[0].gaps, [100, 200]);
      // Writes held: 300..309 in flight, then 310..319 and the late copies 100..149 wait.
      backend.hold();
      await sendOn(ahead, 300, 310);
      await until(() => runner.stats().buffered === 10, "300..309 handed over");
      await sendOn(ahead, 310, 320);
      await sendOn(late, 100, 150);
      await until(() => runner.stats().received === 270, "the late copies taken in");
      backend.release();
      await until(() => backend.stored === 270, "all stored");
      // 310..319 were saved after 100..149 filled the gap in the collector, before those
      // were stored: a crash then must find them missing, so the gaps saved with every
      // write keep [100, 200) but for the late copies stored so far, in any batching.
      const held = backend.writes.findIndex((write) => write.indexes.includes(300));
      let filled = 100;
      for (const write of backend.writes.slice(held)) {
        filled += write.indexes.filter((i) => i >= 100 && i < 150).length;
        assert.deepEqual(write.positions[0].gaps, [filled, 200], JSON.stringify(write.indexes));
      }
      assert.equal(filled, 150);
    } finally {
      await stop();
    }
    // The stop counts the rest lost and saves the position with no gaps.
    const last = backend.saves.at(-1)!;
    assert.deepEqual(last.map(({ next, gaps }) => ({ next, gaps })), [{
      next: 320,
      gaps: undefined,
    }]);
    assert.equal(runner.stats().lostOnWire, 50);
  },
);

Deno.test(
  "sink runner: an idle sink saves again the gaps it saved once they are counted lost",
  opts,
  async () => {
    const paths = [await redundantPath(0), await redundantPath(20)];
    const [early, ahead] = paths;
    const backend = new GapsBackend();
    const { runner, stop } = runOnPaths(backend, paths, 2000);
    try {
      await openGap(backend, early, ahead);
      // No more events: past the hold the gap is lost, and saved so.
      await until(
        () => backend.saves.some((save) => save[0]?.gaps?.length === 0),
        "the position saved again without the gap",
      );
      assert.deepEqual(backend.saves.at(-1), [
        { source: 7n, topic: "app.tick", next: 30, at: backend.saves.at(-1)![0].at, gaps: [] },
      ]);
      assert.equal(runner.stats().lostOnWire, 10);
    } finally {
      await stop();
    }
  },
);

Deno.test(
  "sink runner: a gap past its hold counts as lost only once the gaps saved no longer hold it",
  opts,
  async () => {
    const paths = [await redundantPath(0), await redundantPath(20)];
    const [early, ahead] = paths;
    const backend = new GapsBackend();
    // What the counter said while each save was under way, and whether the save failed.
    const attempts: { gaps: readonly number[] | undefined; lost: number; failed: boolean }[] = [];
    let failing = true;
    const { runner, stop } = runOnPaths(
      Object.assign(backend, {
        savePositions(positions: StreamPosition[]) {
          const lost = runner.stats().lostOnWire;
          attempts.push({ gaps: positions[0]?.gaps, lost, failed: failing });
          if (failing) return Promise.reject(new Error("database is locked"));
          backend.saves.push(structuredClone(positions));
          return Promise.resolve();
        },
      }),
      paths,
      300,
    );
    try {
      await openGap(backend, early, ahead);
      // Past the hold the gap is lost, but the saved gaps still hold it: a crash now
      // brings it back, and the next run counts it. So this run does not, yet.
      await until(
        () => attempts.filter(({ gaps }) => gaps?.length === 0).length >= 2,
        "two failed saves of the position without the gap",
      );
      assert.equal(runner.stats().lostOnWire, 0);
      failing = false;
      await until(() => backend.saves.length > 0, "the position saved without the gap");
      assert.deepEqual(backend.saves[0][0].gaps, []);
      assert.equal(runner.stats().lostOnWire, 10);
      assert.ok(attempts.every(({ lost }) => lost === 0), JSON.stringify(attempts));
    } finally {
      await stop();
    }
    assert.equal(runner.stats().lostOnWire, 10);
  },
);

Deno.test(
  "sink runner: a busy sink saves again, between batches, the gaps of a quiet stream counted lost",
  opts,
  async () => {
    const paths = [await redundantPath(0), await redundantPath(20)];
    const busy = await Emitter.open({
      endpoints: "@tcp://127.0.0.1:*",
      host: "h",
      sourceId: 8n,
    });
    const [early, ahead] = paths;
    const backend = new GapsBackend();
    const savedWhileBusy: StreamPosition[][] = [];
    const { runner, stop } = runOnPaths(
      Object.assign(backend, {
        // Two batches in flight, as the store's: they settle before the gaps are saved.
        concurrency: 2,
        savePositions(positions: StreamPosition[]) {
          if (runner.stats().buffered > 0) savedWhileBusy.push(structuredClone(positions));
          return Promise.resolve();
        },
        write: async (events: Event[], positions: StreamPosition[] = []) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return GapsBackend.prototype.write.call(backend, events, positions);
        },
      }),
      [...paths, busy],
      1500,
      { batchSize: 5 },
    );
    try {
      // 0..9 stored before 20..29 is sent: two paths keep no order between them, and a
      // stream seen first at 20 would start there, 0..9 then duplicates.
      await openGap(backend, early, ahead);
      await until(() => busy.stats().subscriptions > 0, "the sink's subscription");
      // Another stream keeps the sink writing past the hold, with a backlog of some 200
      // events (400 ms of writes) so that it never idles however slow the timers: the
      // gap counted lost is saved once, idle or not.
      const deadline = Date.now() + 20_000;
      while (!savedWhileBusy.some((save) => save[0]?.gaps?.length === 0)) {
        if (Date.now() > deadline) throw new Error("no save of the gap while busy");
        if (runner.stats().buffered < 200) {
          for (let i = 0; i < 20; i++) busy.emit("app.busy", { i });
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const save = savedWhileBusy.find((save) => save[0]?.gaps?.length === 0)!;
      assert.deepEqual(save.map(({ source, next }) => ({ source, next })), [{
        source: 7n,
        next: 30,
      }]);
      assert.equal(runner.stats().lostOnWire, 10);
    } finally {
      await stop();
    }
  },
);

/** Stores like `SwitchableBackend`, but a write waits while the backend is stalled. */
class StallingBackend extends SwitchableBackend {
  #release: (() => void) | undefined;
  #stalled: Promise<void> | undefined;
  stall(): void {
    this.#stalled = new Promise((resolve) => this.#release = resolve);
  }
  resume(): void {
    this.#release?.();
    this.#stalled = undefined;
  }
  override async write(events: Event[]): Promise<number> {
    while (this.#stalled !== undefined) await this.#stalled;
    return await super.write(events);
  }
}

Deno.test(
  "sink runner: --when-full block drops nothing through a stall; the events arrive after it",
  opts,
  async () => {
    const backend = new StallingBackend();
    backend.stall();
    const p = await pipeline(backend, { bufferEvents: 500, whenFull: "block", batchSize: 100 });
    emitPadded(p.emitter, 0, 5000);
    // The sink takes in what fits in its buffer, then reads no more: the rest waits in the queues.
    await until(() => p.runner.stats().buffered >= 500, "the buffer full");
    const during = p.runner.stats();
    assert.equal(during.droppedFull, 0);
    assert.equal(during.stored, 0);
    assert.ok(during.received <= 500 + 1000, `${during.received} taken in`);
    assertAccounted(during);
    backend.resume();
    await p.emitter.flush();
    await until(() => p.runner.stats().stored === 5000, "all stored after the stall");
    await p.emitter.close();
    const stats = await p.stop();
    assert.equal(stats.droppedFull, 0);
    assert.equal(stats.lostOnWire, 0);
    assertAccounted(stats);
    assert.deepEqual(
      [...backend.stored.values()].map((event) => event.i),
      Array.from({ length: 5000 }, (_, i) => i),
    );
  },
);

Deno.test(
  "sink runner: --when-full block, a stall longer than the queues: the loss is counted as lost, exactly",
  opts,
  async () => {
    const backend = new StallingBackend();
    backend.stall();
    const runner = new SinkRunner(backend, {
      collector: { endpoints: "@tcp://127.0.0.1:*", receiveHwm: 2 },
      bufferEvents: 500,
      whenFull: "block",
      batchSize: 100,
      retryMs: 10,
      log: () => {},
    });
    const collector = await runner.open();
    const controller = new AbortController();
    const running = runner.run(controller.signal);
    // The sender's queue stands for the router's per-sink queue: small, dropping its oldest.
    const emitter = await Emitter.open({
      endpoints: `>${collector.boundEndpoint()}`,
      sendHwm: 2,
      maxPendingBytes: 256 * 1024,
      maxEvents: 100,
    });
    await until(() => emitter.stats().subscriptions > 0, "subscription");
    // Far more than the buffer, libzmq's queues and the kernel's socket buffers hold.
    const total = 60_000;
    for (let i = 0; i < total; i += 500) {
      emitPadded(emitter, i, i + 500);
      // A turn for the link to send: the queues fill from the sink's side, not at once here.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await until(() => emitter.stats().dropped > 0, "the sender's queue to overflow");
    backend.resume();
    await emitter.flush();
    // A last event after the rest reveals a loss at the tail too.
    emitPadded(emitter, total, total + 1);
    await emitter.flush();
    await until(
      () => runner.stats().stored + runner.stats().lostOnWire === total + 1,
      "every event stored or counted lost",
    );
    const dropped = emitter.stats().dropped;
    await emitter.close();
    controller.abort();
    const stats = await running;
    assert.equal(stats.droppedFull, 0);
    assert.ok(stats.lostOnWire > 0);
    assert.equal(stats.lostOnWire, dropped, "lost on the wire: what the sender dropped");
    assert.equal(stats.received, stats.stored);
    assert.equal(stats.stored + stats.lostOnWire, total + 1);
    assert.equal(backend.stored.size, stats.stored);
    assertAccounted(stats);
  },
);

Deno.test(
  "sink runner: --when-full block, a gap's hold waits while the sink reads nothing; the late copies queued fill it",
  opts,
  async () => {
    const paths = [await redundantPath(0), await redundantPath(20), await redundantPath(10)];
    const [early, ahead, late] = paths;
    const backend = new GapsBackend();
    const { runner, stop } = runOnPaths(backend, paths, 1000, {
      bufferEvents: 10,
      whenFull: "block",
      batchSize: 10,
    });
    try {
      await openGap(backend, early, ahead);
      // 30..39 in flight fill the buffer: the sink reads no more, 40..59 wait in the queues.
      backend.hold();
      for (let from = 30; from < 60; from += 10) {
        await sendOn(ahead, from, from + 10);
        await ahead.flush();
      }
      await until(() => runner.stats().received === 30, "the buffer full");
      // The late copies of the gap queue behind the blocked reader, and stay there for
      // longer than the hold: it is the reader that is late, not the copies.
      await sendOn(late, 10, 20);
      await late.flush();
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(runner.stats().received, 30, "the reader blocked");
      assert.equal(runner.stats().lostOnWire + runner.stats().lostUnsaved, 0);
      backend.release();
      await until(() => backend.stored === 60, "every event stored");
      assert.equal(runner.stats().lostOnWire, 0);
      assert.equal(runner.stats().duplicates, 0);
    } finally {
      await stop();
    }
    const stats = runner.stats();
    assert.equal(stats.lostOnWire, 0);
    assert.equal(stats.stored, 60);
    assertAccounted(stats);
  },
);

Deno.test(
  "sink runner: --when-full block still stops at the shutdown deadline, everything counted",
  opts,
  async () => {
    const backend = new StallingBackend();
    backend.stall();
    const p = await pipeline(backend, {
      bufferEvents: 500,
      whenFull: "block",
      batchSize: 100,
      shutdownTimeoutMs: 300,
    });
    emitPadded(p.emitter, 0, 3000);
    await until(() => p.runner.stats().buffered >= 500, "the buffer full");
    const started = Date.now();
    const stats = await p.stop();
    // The shutdown's deadline ends the wait for room; the stalled write is given up.
    assert.ok(Date.now() - started < 300 + 2000, `${Date.now() - started} ms`);
    assert.equal(stats.droppedFull, 0);
    assert.equal(stats.stored, 0);
    assert.equal(stats.buffered, 0);
    assert.ok(stats.droppedShutdown >= 500);
    assertAccounted(stats);
    backend.resume();
    // Nobody receives any more: the emitter gives up what it holds after its close timeout.
    await p.emitter.close();
  },
);
