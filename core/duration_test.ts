import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "./duration.ts";
import { UsageError } from "./flags.ts";

Deno.test("duration: every unit, fractions and spaces", () => {
  const cases: [string, number][] = [
    ["250ms", 250],
    ["0s", 0],
    ["10s", 10_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1.5h", 5_400_000],
    ["30d", 2_592_000_000],
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
