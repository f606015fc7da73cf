/**
 * Fuzzing of the Postfix tracker with generated mail logs, mutated and random: the
 * tracker keeps state across lines, so the lines of a run go through one tracker,
 * with its timeouts, a checkpoint round trip (snapshot → JSON → restore) now and
 * then, and the end of input. Whatever the lines hold, it returns events the emitter
 * can send or nothing, and its state stays JSON.
 */
import assert from "node:assert/strict";
import type { Event } from "@eventstorm/core";
import { LogGenerator } from "../../cli/demo/loggen.ts";
import {
  assertSendable,
  FUZZ_ITERATIONS,
  FUZZ_SEED,
  LineFuzzer,
  withSeed,
} from "../../tests/fuzz.ts";
import { PostfixTracker } from "./tracker.ts";

Deno.test("fuzz: the Postfix tracker returns sendable events or nothing, and restores its state", () => {
  const fuzzer = new LineFuzzer(FUZZ_SEED);
  let clock = Date.parse("2026-12-04T05:00:00Z");
  const generator = new LogGenerator({
    seed: FUZZ_SEED,
    hostname: "mx1",
    utcOffsetMinutes: 0,
    now: () => new Date(clock += 700),
  });
  const samples: string[] = [];
  while (samples.length < 2000) samples.push(...generator.postfixTransaction());
  const readAt = new Date("2026-12-04T06:00:00Z");
  const context = { path: "mail.log", host: "fuzz", readAt };
  let tracker = new PostfixTracker({ utc: true, maxOpen: 500, maxSessions: 200 });
  const check = (events: Event[] | undefined, line: string) => assertSendable(events ?? [], line);
  withSeed(() => {
    for (let i = 0; i < FUZZ_ITERATIONS; i++) {
      // Runs of real lines between mutations, so transactions open and close.
      const line = i % 3 === 0 ? fuzzer.line(samples) : samples[i % samples.length];
      check(tracker.parse(line, context), line);
      if (i % 997 === 0) check(tracker.tick(new Date(readAt.getTime() + i * 1000)), "(tick)");
      if (i % 2003 === 0) {
        const state = JSON.parse(JSON.stringify(tracker.snapshot()));
        tracker = new PostfixTracker({ utc: true, maxOpen: 500, maxSessions: 200 });
        tracker.restore(state);
      }
    }
    check(tracker.end(), "(end)");
    assert.equal(tracker.openCount, 0, "the end of input closes every message");
  });
});
