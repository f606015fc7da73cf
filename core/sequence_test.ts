import assert from "node:assert/strict";
import {
  GAP_HOLD_MS,
  MAX_GAPS,
  MAX_INDEX_JUMP,
  MAX_INDEX_RATE,
  OWNER_IDLE_MS,
  SequenceTracker,
} from "./sequence.ts";

Deno.test("sequence: first sight of a stream is not loss, wherever it starts", () => {
  const tracker = new SequenceTracker();
  assert.deepEqual(tracker.observe(1n, "a", 500, 10), { skip: 0, lost: 0 });
  assert.deepEqual(tracker.observe(2n, "a", 0, 1), { skip: 0, lost: 0 });
  assert.deepEqual(tracker.streams().map((s) => [s.source, s.joinedAt, s.expected]), [
    ["1", 500, 510],
    ["2", 0, 1],
  ]);
  assert.equal(tracker.lost, 0);
});

Deno.test("sequence: contiguous messages lose nothing", () => {
  const tracker = new SequenceTracker();
  let first = 0;
  for (const count of [1, 5, 100, 2]) {
    assert.deepEqual(tracker.observe(9n, "t", first, count), { skip: 0, lost: 0 });
    first += count;
  }
  const [stream] = tracker.streams();
  assert.equal(stream.received, 108);
  assert.equal(stream.expected, 108);
  assert.equal(stream.lost, 0);
});

Deno.test("sequence: a gap is exactly the events lost", () => {
  const tracker = new SequenceTracker();
  tracker.observe(1n, "a", 0, 10);
  assert.deepEqual(tracker.observe(1n, "a", 15, 5), { skip: 0, lost: 5 });
  assert.deepEqual(tracker.observe(1n, "a", 21, 1), { skip: 0, lost: 1 });
  assert.equal(tracker.lost, 6);
  const [stream] = tracker.streams();
  assert.equal(stream.lost, 6);
  assert.equal(stream.received, 16);
  assert.equal(stream.expected, 22);
});

Deno.test("sequence: a whole replay is skipped and counted as duplicates", () => {
  const tracker = new SequenceTracker();
  tracker.observe(1n, "a", 0, 10);
  assert.deepEqual(tracker.observe(1n, "a", 0, 10), { skip: 10, lost: 0 });
  assert.deepEqual(tracker.observe(1n, "a", 3, 2), { skip: 2, lost: 0 });
  assert.equal(tracker.duplicates, 12);
  const [stream] = tracker.streams();
  assert.equal(stream.received, 10);
  assert.equal(stream.expected, 10);
  // A replay never moves the expected index backwards.
  assert.deepEqual(tracker.observe(1n, "a", 10, 1), { skip: 0, lost: 0 });
});

Deno.test("sequence: a partial overlap skips only the replayed front", () => {
  const tracker = new SequenceTracker();
  tracker.observe(1n, "a", 0, 10);
  assert.deepEqual(tracker.observe(1n, "a", 7, 6), { skip: 3, lost: 0 });
  const [stream] = tracker.streams();
  assert.equal(stream.received, 13);
  assert.equal(stream.duplicates, 3);
  assert.equal(stream.expected, 13);
});

Deno.test("sequence: a position announcement (count 0) reveals a lost tail", () => {
  const tracker = new SequenceTracker();
  tracker.observe(1n, "a", 0, 4);
  assert.deepEqual(tracker.observe(1n, "a", 4, 0), { skip: 0, lost: 0 });
  assert.deepEqual(tracker.observe(1n, "a", 9, 0), { skip: 0, lost: 5 });
  assert.deepEqual(tracker.observe(1n, "a", 9, 0), { skip: 0, lost: 0 });
  assert.equal(tracker.streams()[0].received, 4);
});

Deno.test("sequence: streams are per source and per topic", () => {
  const tracker = new SequenceTracker();
  tracker.observe(1n, "a", 0, 5);
  tracker.observe(1n, "b", 0, 5);
  tracker.observe(2n, "a", 0, 5);
  // Each stream numbers on its own: index 5 is next in all three.
  for (const [source, topic] of [[1n, "a"], [1n, "b"], [2n, "a"]] as const) {
    assert.deepEqual(tracker.observe(source, topic, 5, 1), { skip: 0, lost: 0 });
  }
  // A topic that is a prefix of another, and sources near 2^64, stay separate.
  tracker.observe(2n ** 64n - 1n, "a", 0, 1);
  tracker.observe(2n ** 64n - 1n, "a.b", 100, 1);
  assert.deepEqual(tracker.observe(2n ** 64n - 1n, "a", 1, 1), { skip: 0, lost: 0 });
  assert.equal(tracker.size, 5);
  assert.equal(tracker.lost, 0);
  assert.ok(tracker.streams().some((s) => s.source === "18446744073709551615"));
});

Deno.test("sequence: memory is bounded, the least recently seen stream goes first", () => {
  const tracker = new SequenceTracker({ maxStreams: 3 });
  tracker.observe(1n, "a", 0, 1);
  tracker.observe(2n, "a", 0, 1);
  tracker.observe(3n, "a", 0, 1);
  tracker.observe(1n, "a", 1, 1); // 1 is now the most recent; 2 is the oldest
  tracker.observe(4n, "a", 0, 1);
  assert.equal(tracker.size, 3);
  assert.deepEqual(tracker.streams().map((s) => s.source).sort(), ["1", "3", "4"]);
  // A forgotten stream starts over: its next message is a first sight, not loss.
  tracker.observe(2n, "a", 50, 1);
  assert.equal(tracker.lost, 0);
  assert.equal(tracker.size, 3);
  // Totals survive eviction.
  tracker.observe(2n, "a", 60, 1);
  assert.equal(tracker.lost, 9);
  for (let i = 0; i < 1000; i++) tracker.observe(BigInt(100 + i), "x", 0, 1);
  assert.equal(tracker.size, 3);
  assert.equal(tracker.lost, 9);
});

Deno.test("sequence: streams() is a snapshot", () => {
  const tracker = new SequenceTracker();
  tracker.observe(1n, "a", 0, 1);
  const snapshot = tracker.streams();
  snapshot[0].expected = 1000;
  tracker.observe(1n, "a", 1, 1);
  assert.equal(tracker.streams()[0].expected, 2);
  assert.equal(snapshot[0].received, 1);
});

Deno.test("sequence: a jump no sender can make is refused and moves nothing", () => {
  let now = 1_000_000;
  const tracker = new SequenceTracker({ clock: () => now });
  tracker.observe(1n, "a", 0, 10);
  // A forged announcement at 2^53 - 1 would otherwise count 9 quadrillion lost
  // and make every real event after it look like a replay.
  assert.deepEqual(tracker.observe(1n, "a", Number.MAX_SAFE_INTEGER, 0), {
    skip: 0,
    lost: 0,
    refused: "index",
  });
  assert.deepEqual(tracker.observe(1n, "a", 10 + MAX_INDEX_JUMP + 1, 1), {
    skip: 0,
    lost: 0,
    refused: "index",
  });
  assert.equal(tracker.lost, 0);
  assert.deepEqual(tracker.observe(1n, "a", 10, 5), { skip: 0, lost: 0 });
  // The largest jump allowed at once, and more as time passes.
  assert.deepEqual(tracker.observe(1n, "a", 15 + MAX_INDEX_JUMP, 1), {
    skip: 0,
    lost: MAX_INDEX_JUMP,
  });
  now += 2000;
  const expected = 16 + MAX_INDEX_JUMP;
  const allowed = MAX_INDEX_JUMP + 2 * MAX_INDEX_RATE;
  assert.equal(tracker.observe(1n, "a", expected + allowed + 1, 1).refused, "index");
  assert.deepEqual(tracker.observe(1n, "a", expected + allowed, 1), { skip: 0, lost: allowed });
  assert.equal(tracker.lost, MAX_INDEX_JUMP + allowed);
  const [stream] = tracker.streams();
  assert.equal(stream.received, 17);
});

Deno.test("sequence: a source belongs to the peer that used it first", () => {
  let now = 0;
  const tracker = new SequenceTracker({ clock: () => now });
  tracker.observe(1n, "a", 0, 10, "10.0.0.1");
  // Another peer forging source 1: refused on every topic, the stream untouched.
  assert.deepEqual(tracker.observe(1n, "a", 10, 0, "10.0.0.66"), {
    skip: 0,
    lost: 0,
    refused: "owner",
  });
  assert.equal(tracker.observe(1n, "b", 0, 3, "10.0.0.66").refused, "owner");
  assert.equal(tracker.size, 1);
  // The owner, restarted (same address), goes on; a receiver that knows no owner is not judged.
  assert.deepEqual(tracker.observe(1n, "a", 10, 5, "10.0.0.1"), { skip: 0, lost: 0 });
  assert.deepEqual(tracker.observe(1n, "a", 15, 5), { skip: 0, lost: 0 });
  // Other sources are anyone's.
  assert.deepEqual(tracker.observe(2n, "a", 0, 1, "10.0.0.66"), { skip: 0, lost: 0 });
  // An owner silent for OWNER_IDLE_MS gives the source up (a source moved hosts).
  now += OWNER_IDLE_MS;
  assert.deepEqual(tracker.observe(1n, "a", 20, 1, "10.0.0.2"), { skip: 0, lost: 0 });
  assert.equal(tracker.observe(1n, "a", 21, 1, "10.0.0.1").refused, "owner");
  assert.equal(tracker.lost, 0);
});

Deno.test("sequence: an announcement of an unknown stream is not a place to join", () => {
  const tracker = new SequenceTracker();
  // A sink that starts after a source finished hears the router announce 300 ...
  assert.deepEqual(tracker.observe(1n, "a", 300, 0), { skip: 0, lost: 0 });
  assert.equal(tracker.size, 0);
  // ... and then the source restarted from its checkpoint replays 0..299: all new to this sink.
  assert.deepEqual(tracker.observe(1n, "a", 0, 300), { skip: 0, lost: 0 });
  assert.equal(tracker.streams()[0].received, 300);
  assert.deepEqual(tracker.observe(1n, "a", 310, 0), { skip: 0, lost: 10 });
});

Deno.test("sequence: with gaps held, a slow path's copies fill the fast path's gap", () => {
  let now = 0;
  const tracker = new SequenceTracker({ gapHoldMs: 1000, clock: () => now });
  // Fast path: 0..10, then 20..30 (it missed 10..20, say its router restarted).
  assert.deepEqual(tracker.observe(1n, "a", 0, 10), { skip: 0, lost: 0 });
  assert.deepEqual(tracker.observe(1n, "a", 20, 10), { skip: 0, lost: 0 });
  // Slow path: its copies. 0..10 are replays, 10..20 fill the gap, 20..30 replays.
  assert.deepEqual(tracker.observe(1n, "a", 0, 10), { skip: 10, lost: 0 });
  assert.deepEqual(tracker.observe(1n, "a", 8, 6), { skip: 2, lost: 0, filled: 4 });
  assert.deepEqual(tracker.observe(1n, "a", 14, 10), {
    skip: 4,
    lost: 0,
    keep: [0, 6],
    filled: 6,
  });
  assert.deepEqual(tracker.observe(1n, "a", 24, 6), { skip: 6, lost: 0 });
  now = 5000;
  assert.equal(tracker.lost, 0);
  const [stream] = tracker.streams();
  assert.equal(stream.received, 30);
  assert.equal(stream.duplicates, 22);
  assert.equal(tracker.duplicates, 22);
});

Deno.test("sequence: one message can fill several gaps and run past the expected index", () => {
  const tracker = new SequenceTracker({ gapHoldMs: 1000, clock: () => 0 });
  tracker.observe(1n, "a", 0, 2);
  tracker.observe(1n, "a", 4, 2); // gap 2..4
  tracker.observe(1n, "a", 8, 2); // gap 6..8
  // 0..12 delivers 2..4, 6..8 and 10..12 only.
  assert.deepEqual(tracker.observe(1n, "a", 0, 12), {
    skip: 6,
    lost: 0,
    keep: [2, 4, 6, 8, 10, 12],
    filled: 4,
  });
  tracker.observe(1n, "a", 14, 1); // gap 12..14
  assert.deepEqual(tracker.observe(1n, "a", 13, 3), {
    skip: 1,
    lost: 0,
    keep: [0, 1, 2, 3],
    filled: 1,
  });
  assert.equal(tracker.streams()[0].received, 15); // 12 is still missing
});

Deno.test("sequence: a gap not filled within the hold is lost, counted once", () => {
  let now = 0;
  const tracker = new SequenceTracker({ gapHoldMs: 1000, clock: () => now });
  tracker.observe(1n, "a", 0, 10);
  tracker.observe(1n, "a", 15, 5);
  now = 999;
  assert.equal(tracker.lost, 0);
  now = 1000;
  assert.equal(tracker.lost, 5);
  assert.equal(tracker.lost, 5);
  assert.equal(tracker.streams()[0].lost, 5);
  // Too late: now it is a replay.
  assert.deepEqual(tracker.observe(1n, "a", 10, 5), { skip: 5, lost: 0 });
  assert.equal(tracker.lost, 5);
});

Deno.test("sequence: gaps held per stream are bounded, the oldest lost first", () => {
  const tracker = new SequenceTracker({ gapHoldMs: 60_000, clock: () => 0 });
  tracker.observe(1n, "a", 0, 1);
  for (let i = 0; i <= MAX_GAPS; i++) tracker.observe(1n, "a", 2 * i + 2, 1);
  assert.equal(tracker.lost, 1);
  // The oldest gap (index 1) is gone; the next (index 3) can still be filled.
  assert.deepEqual(tracker.observe(1n, "a", 1, 1), { skip: 1, lost: 0 });
  assert.deepEqual(tracker.observe(1n, "a", 3, 1), { skip: 0, lost: 0, filled: 1 });
});

Deno.test("sequence: a copy later than the hold is a duplicate, though nobody read lost", () => {
  let now = 0;
  const tracker = new SequenceTracker({ gapHoldMs: 1000, clock: () => now });
  tracker.observe(1n, "a", 0, 10);
  tracker.observe(1n, "a", 15, 5);
  now = 1000;
  assert.deepEqual(tracker.observe(1n, "a", 10, 5), { skip: 5, lost: 0 });
  assert.equal(tracker.lost, 5);
  assert.equal(tracker.streams()[0].received, 15);
});

Deno.test("sequence: a gap's hold runs by the gap clock; index jumps by the clock", () => {
  let now = 0, reading = 0;
  const tracker = new SequenceTracker({
    gapHoldMs: 1000,
    clock: () => now,
    gapClock: () => reading,
  });
  tracker.observe(1n, "a", 0, 10);
  tracker.observe(1n, "a", 15, 5);
  // The receiver read nothing for a minute: the hold stood still, the jump bound did not.
  now = 60_000;
  assert.equal(tracker.lost, 0);
  const far = 20 + MAX_INDEX_JUMP + MAX_INDEX_RATE * 30;
  assert.deepEqual(tracker.observe(1n, "a", far, 1), { skip: 0, lost: 0 });
  assert.deepEqual(tracker.observe(1n, "a", 10, 5), { skip: 0, lost: 0, filled: 5 });
  reading = 1000;
  assert.equal(tracker.lost, far - 20);
});

Deno.test("sequence: splitting gaps one event at a time keeps them bounded too", () => {
  const tracker = new SequenceTracker({ gapHoldMs: 60_000, clock: () => 0 });
  tracker.observe(1n, "a", 0, 1);
  tracker.observe(1n, "a", 10_000, 1); // one gap: 1..10000
  // Every other event fills a piece of it and splits what is left.
  for (let i = 0; i <= MAX_GAPS; i++) {
    assert.deepEqual(tracker.observe(1n, "a", 2 + 2 * i, 1), { skip: 0, lost: 0, filled: 1 });
  }
  // MAX_GAPS + 2 pieces were open: the two oldest (index 1 and 3) are lost.
  assert.equal(tracker.lost, 2);
  assert.deepEqual(tracker.observe(1n, "a", 1, 1), { skip: 1, lost: 0 });
  assert.deepEqual(tracker.observe(1n, "a", 3, 1), { skip: 1, lost: 0 });
  assert.deepEqual(tracker.observe(1n, "a", 5, 1), { skip: 0, lost: 0, filled: 1 });
});

Deno.test("sequence: without a hold a gap is lost at once and its late copies are replays", () => {
  const tracker = new SequenceTracker();
  tracker.observe(1n, "a", 0, 10);
  assert.deepEqual(tracker.observe(1n, "a", 20, 10), { skip: 0, lost: 10 });
  assert.deepEqual(tracker.observe(1n, "a", 10, 10), { skip: 10, lost: 0 });
});

Deno.test("sequence: a forgotten stream's open gaps are lost, once", () => {
  const tracker = new SequenceTracker({ maxStreams: 8, gapHoldMs: 60_000, clock: () => 0 });
  tracker.observe(1n, "a", 0, 1);
  tracker.observe(1n, "a", 5, 1);
  for (let i = 2n; i < 20n; i++) tracker.observe(i, "a", 0, 1);
  assert.equal(tracker.lost, 4);
});

Deno.test("sequence: a resumed stream counts replays as duplicates and a jump as lost", () => {
  const now = 1_000_000;
  const tracker = new SequenceTracker({ clock: () => now });
  tracker.resume(1n, "a", 100, now - 5000);
  tracker.resume(2n, "a", 7);
  // Below the saved position: a replay, however far back.
  assert.deepEqual(tracker.observe(1n, "a", 90, 20), { skip: 10, lost: 0 });
  assert.deepEqual(tracker.observe(2n, "a", 12, 3), { skip: 0, lost: 5 });
  // An announcement of a resumed stream is accounted (it is not a first sight).
  assert.deepEqual(tracker.observe(2n, "a", 20, 0), { skip: 0, lost: 5 });
  // Resuming again never moves a stream back.
  tracker.resume(1n, "a", 50);
  assert.deepEqual(tracker.observe(1n, "a", 110, 1), { skip: 0, lost: 0 });
  assert.equal(tracker.lost, 10);
  assert.equal(tracker.duplicates, 10);
});

Deno.test("sequence: events a crash left stored above a resumed position are not lost", () => {
  let now = 1_000_000;
  const tracker = new SequenceTracker({ clock: () => now });
  // Saved at 10; of the batch then in flight, 10..12 and 15 were written.
  tracker.resume(1n, "a", 10, now, [15, 11, 10, 12, 3, 11]);
  // The stream goes on at 20: only 13, 14 and 16..19 are lost.
  assert.deepEqual(tracker.observe(1n, "a", 20, 5), { skip: 0, lost: 6 });
  // Nothing remembered past the jump: a later one counts whole.
  assert.deepEqual(tracker.observe(1n, "a", 30, 1), { skip: 0, lost: 5 });

  // A replay first moves the stream over the present ones: they are forgotten there.
  tracker.resume(2n, "a", 0, now, [1, 2, 8]);
  assert.deepEqual(tracker.observe(2n, "a", 0, 5), { skip: 0, lost: 0 });
  assert.deepEqual(tracker.observe(2n, "a", 10, 1), { skip: 0, lost: 4 });

  // On redundant paths the parts that are missing wait as gaps, the present ones do not.
  const held = new SequenceTracker({ clock: () => now, gapHoldMs: 1000 });
  held.resume(3n, "a", 0, now, [2, 3]);
  held.observe(3n, "a", 6, 1);
  now += 1000;
  assert.equal(held.lost, 4);
});

Deno.test("sequence: the jump bound of a resumed stream counts from when it was saved", () => {
  const now = 10_000_000;
  const tracker = new SequenceTracker({ clock: () => now });
  tracker.resume(1n, "a", 0, now - 10_000);
  tracker.resume(2n, "a", 0, now);
  const jump = MAX_INDEX_JUMP + MAX_INDEX_RATE * 5;
  // Ten seconds down: a jump the rate allows is loss, counted.
  assert.deepEqual(tracker.observe(1n, "a", jump, 1), { skip: 0, lost: jump });
  // Saved just now: the same jump is impossible.
  assert.equal(tracker.observe(2n, "a", jump, 1).refused, "index");
});

Deno.test("sequence: resume ignores impossible positions", () => {
  const tracker = new SequenceTracker();
  tracker.resume(1n, "a", -1);
  tracker.resume(1n, "b", 2 ** 53);
  tracker.resume(1n, "c", Number.NaN);
  assert.equal(tracker.size, 0);
});

Deno.test("sequence: a resumed stream on redundant paths holds its gap like any other", () => {
  let now = 1_000_000;
  const tracker = new SequenceTracker({ clock: () => now, gapHoldMs: GAP_HOLD_MS });
  tracker.resume(1n, "a", 10, now);
  tracker.resume(2n, "a", 10, now);
  // The fast path is ahead: 10..14 missing, not lost yet.
  assert.deepEqual(tracker.observe(1n, "a", 15, 5), { skip: 0, lost: 0 });
  assert.deepEqual(tracker.observe(2n, "a", 15, 5), { skip: 0, lost: 0 });
  // The slow path fills stream 1's gap and replays what was stored before the restart.
  assert.deepEqual(tracker.observe(1n, "a", 5, 10), { skip: 5, lost: 0, filled: 5 });
  now += GAP_HOLD_MS;
  // Stream 2's gap was never filled: lost once the hold is over.
  assert.equal(tracker.lost, 5);
  assert.equal(tracker.duplicates, 5);
});

Deno.test("sequence: saved gaps open again at resume, their hold restarting", () => {
  let now = 1_000_000;
  const tracker = new SequenceTracker({ gapHoldMs: 1000, clock: () => now });
  // Saved long ago with two gaps (unsorted, one overlapping, one past `next`, one bad pair).
  tracker.resume(
    1n,
    "a",
    100,
    now - 60_000,
    [],
    [40, 50, 10, 20, 15, 25, 90, 120, 7, "x"] as number[],
  );
  assert.deepEqual(tracker.gapsOf(1n, "a"), [10, 25, 40, 50, 90, 100]);
  // A late copy inside a gap is delivered, the rest of the message are replays.
  const verdict = tracker.observe(1n, "a", 20, 10);
  assert.deepEqual(verdict, { skip: 5, lost: 0, keep: [0, 5], filled: 5 });
  assert.deepEqual(tracker.gapsOf(1n, "a"), [10, 20, 40, 50, 90, 100]);
  assert.equal(tracker.lost, 0);
  now += 1000;
  // The hold ran from the resume: now the rest counts lost, once.
  assert.deepEqual(tracker.gapsOf(1n, "a"), []);
  assert.equal(tracker.lost, 30);
  assert.equal(tracker.lost, 30);
});

Deno.test("sequence: saved gaps without a hold count lost at once, and only once", () => {
  const tracker = new SequenceTracker({ clock: () => 0 });
  tracker.resume(1n, "a", 10, 0, [], [2, 5]);
  assert.equal(tracker.lost, 3);
  assert.deepEqual(tracker.observe(1n, "a", 3, 1), { skip: 1, lost: 0 });
  assert.equal(tracker.lost, 3);
});
