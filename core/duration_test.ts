import assert from "node:assert/strict";
import { formatDuration, MAX_SPAN_MS, MAX_TIMER_MS, parseDuration } from "./duration.ts";
import { UsageError } from "./flags.ts";

Deno.test("duration: every unit, fractions and spaces", () => {
  const cases: [string, number][] = [
    ["250ms", 250],
    ["0s", 0],
    ["10s", 10_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1.5h", 5_400_000],
    ["24d", 2_073_600_000],
    ["2w", 1_209_600_000],
    [" 10 s ", 10_000],
    ["0.0015s", 2],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

Deno.test("duration: anything else is a UsageError naming the flag", () => {
  for (const text of ["", "10", "s", "-1s", "1e3ms", "10 sec", "1.s", ".5s", "1h30m", "10S"]) {
    assert.throws(() => parseDuration(text, "interval"), (error: unknown) => {
      assert.ok(error instanceof UsageError, text);
      assert.match(error.message, /^--interval must be a duration/);
      assert.ok(error.message.includes(`'${text}'`));
      return true;
    });
  }
  assert.throws(() => parseDuration("x"), /^UsageError: must be a duration/);
});

Deno.test("duration: at most 24d, what a timer can wait; a span up to 36500d", () => {
  // setTimeout and setInterval fire after 1 ms when given more than 2^31 - 1 ms
  // (24.8 days): a 30d interval busy-looped (audit finding 3).
  assert.ok(MAX_TIMER_MS < 2 ** 31 - 1);
  assert.equal(parseDuration("24d"), MAX_TIMER_MS);
  for (const text of ["30d", "24.5d", "4w", "2073600001ms", "99999999999999999999999d"]) {
    assert.throws(
      () => parseDuration(text, "interval"),
      new RegExp(`^UsageError: --interval must be at most 24d, got '${text}'$`),
    );
  }
  assert.throws(() => parseDuration("30d"), /^UsageError: must be at most 24d, got '30d'$/);
  // Compared with event times, not waited for: up to 100 years, within a Date's range.
  assert.equal(parseDuration("30d", "retain", { span: true }), 2_592_000_000);
  assert.equal(parseDuration("36500d", "since", { span: true }), MAX_SPAN_MS);
  assert.throws(
    () => parseDuration("999999999d", "since", { span: true }),
    /^UsageError: --since must be at most 36500d, got '999999999d'$/,
  );
});

Deno.test("duration: formatDuration picks the largest unit", () => {
  assert.equal(formatDuration(0), "0ms");
  assert.equal(formatDuration(999), "999ms");
  assert.equal(formatDuration(1000), "1s");
  assert.equal(formatDuration(1500), "1.5s");
  assert.equal(formatDuration(90_000), "1.5m");
  assert.equal(formatDuration(3_600_000), "1h");
  assert.equal(formatDuration(86_400_000 * 2), "2d");
  assert.equal(formatDuration(61_000), "1.02m");
  for (const ms of [1000, 1500, 90_000, 3_600_000, 172_800_000]) {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
});
