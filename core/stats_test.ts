import assert from "node:assert/strict";
import {
  type Counters,
  formatBytes,
  formatCount,
  formatStatsLine,
  parseStatsInterval,
  rate,
  STATS_INTERVAL_FLAG,
  statsIntervalFlag,
  StatsReporter,
} from "./stats.ts";
import { parseFlags, UsageError } from "./flags.ts";

Deno.test("stats: formatCount", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [950, "950"],
    [999, "999"],
    [1000, "1.00k"],
    [1234, "1.23k"],
    [12_345, "12.3k"],
    [9_996, "10.0k"],
    [9_996_000, "10.0M"],
    [999_000, "999.0k"],
    [1_000_000, "1.00M"],
    [4_560_000, "4.56M"],
    [45_600_000, "45.6M"],
    [2_500_000_000, "2.50G"],
    [-1234, "-1.23k"],
    [12.6, "13"],
  ];
  for (const [value, text] of cases) assert.equal(formatCount(value), text, String(value));
});

Deno.test({
  name: "stats: formatCount never prints 1000 of a unit",
  fn() {
    assert.equal(formatCount(999_999), "1.00M");
    assert.equal(formatCount(999_999_999), "1.00G");
  },
});

Deno.test("stats: formatBytes", () => {
  const cases: [number, string][] = [
    [0, "0B"],
    [512, "512B"],
    [1023, "1023B"],
    [1024, "1.0KiB"],
    [1536, "1.5KiB"],
    [3.2 * 1024 * 1024, "3.2MiB"],
    [5 * 1024 ** 3, "5.0GiB"],
    [2 * 1024 ** 4, "2.0TiB"],
    [2048 * 1024 ** 4, "2048.0TiB"],
  ];
  for (const [value, text] of cases) assert.equal(formatBytes(value), text, String(value));
});

Deno.test("stats: rate", () => {
  assert.equal(rate(1500, 500, 2000), 500);
  assert.equal(rate(10, 10, 1000), 0);
  assert.equal(rate(10, 0, 0), 0);
  assert.equal(rate(5, 0, 500), 10);
});

Deno.test("stats: report prints the line and publishes the counters", () => {
  let events = 10;
  const lines: string[] = [];
  const published: Record<string, number | string>[] = [];
  const seen: [Counters, Counters][] = [];
  const reporter = new StatsReporter({
    component: "unit",
    intervalMs: 60_000,
    snapshot: () => ({ events }),
    format: (current, previous) => {
      seen.push([current, previous]);
      return `${current.events - (previous.events ?? 0)} new`;
    },
    print: (line) => lines.push(line),
    publish: (fields) => published.push(fields),
  });
  reporter.start();
  events = 25;
  reporter.report();
  events = 26;
  reporter.report();
  reporter.stop();
  assert.deepEqual(lines, ["15 new", "1 new"]);
  assert.deepEqual(seen.map(([c, p]) => [c.events, p.events]), [[25, 10], [26, 25]]);
  assert.equal(published.length, 2);
  assert.equal(published[0].component, "unit");
  assert.equal(published[0].events, 25);
  assert.equal(typeof published[0].interval_ms, "number");
  assert.ok((published[0].interval_ms as number) >= 0);
});

Deno.test("stats: the interval reports on its own and stops", async () => {
  let calls = 0;
  const reporter = new StatsReporter({
    component: "unit",
    intervalMs: 10,
    snapshot: () => ({ calls }),
    format: () => "line",
    print: () => calls++,
  });
  reporter.start();
  reporter.start(); // idempotent: one timer only
  const deadline = Date.now() + 5000;
  while (calls < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  reporter.stop();
  assert.ok(calls >= 3, `${calls} reports`);
  const after = calls;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls, after);
});

Deno.test("stats: interval 0 disables reporting", async () => {
  let calls = 0;
  const reporter = new StatsReporter({
    component: "unit",
    intervalMs: 0,
    snapshot: () => ({}),
    format: () => "line",
    print: () => calls++,
  });
  reporter.start();
  await new Promise((r) => setTimeout(r, 30));
  reporter.stop();
  assert.equal(calls, 0);
});

Deno.test("stats: one rule for --stats-interval: any zero is 0, else 100ms or more", () => {
  for (const zero of ["0", "0s", "00ms", "0.0m", " 0h "]) assert.equal(parseStatsInterval(zero), 0);
  assert.equal(parseStatsInterval("10s"), 10_000);
  assert.equal(parseStatsInterval("100ms"), 100);
  const flags = { "stats-interval": STATS_INTERVAL_FLAG };
  assert.equal(
    statsIntervalFlag(parseFlags([], { name: "x", summary: "x", flags }).values),
    10_000,
  );
  assert.equal(statsIntervalFlag({ "stats-interval": "1m" }), 60_000);
  assert.throws(
    () => parseStatsInterval("50ms", "stats-interval"),
    /--stats-interval must be 0 .* or 100ms or more/,
  );
  // Without a flag, the message names none: a config file puts its key in front.
  assert.throws(
    () => parseStatsInterval("50ms"),
    (error: Error) => /^must be 0 .* or 100ms or more/.test(error.message),
  );
  assert.throws(() => parseStatsInterval("soon"), UsageError);
  assert.throws(() => parseStatsInterval("1ms", "stats_interval"), /--stats_interval/);
  // Longer than a timer can wait would fire every millisecond instead (audit finding 3).
  assert.equal(parseStatsInterval("24d"), 24 * 86_400_000);
  for (const big of ["30d", "25d", "4w", "999999999999d"]) {
    assert.throws(
      () => parseStatsInterval(big, "stats-interval"),
      new RegExp(`^UsageError: --stats-interval must be at most 24d, got '${big}'$`),
    );
  }
});

Deno.test("stats: formatStatsLine shows the rate, every always counter, the others when not 0", () => {
  const spec = {
    rate: "lines",
    always: [["lines", "lines"], ["bytes", (c: Counters) => `bytes ${c.bytes ?? 0}B`]],
    ifAny: [["dropped", "dropped"], ["parser_errors", "parser errors"]],
  } as const;
  assert.equal(
    formatStatsLine("source x", spec, { lines: 3000, bytes: 9, dropped: 0 }, { lines: 1000 }, 2000),
    "source x: 1.00k lines/s; lines 3000, bytes 9B",
  );
  assert.equal(
    formatStatsLine("source x", spec, { lines: 5, parser_errors: 2 }, {}, 1000),
    "source x: 5 lines/s; lines 5, bytes 0B, parser errors 2",
  );
});
