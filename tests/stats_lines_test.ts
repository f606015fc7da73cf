/**
 * docs/specs/stats.md shows each component's stats line: the code prints exactly
 * those lines, in the units the page names (`ev/s`, binary sizes and byte rates).
 *
 * @module
 */
import assert from "node:assert/strict";
import { formatRouterLine } from "@eventstorm/router";
import { formatSinkLine } from "@eventstorm/core/sink";
import { formatEventsLine, formatSourceLine } from "@eventstorm/core/source";
import type { CollectorStats } from "@eventstorm/core";
import { formatTapLine } from "../cli/tap.ts";

const SPEC = Deno.readTextFileSync(new URL("../docs/specs/stats.md", import.meta.url));

/** The example line of the spec that starts with `start`, its wrapping undone. */
function specLine(start: string): string {
  const match = new RegExp("`(" + start + "[^`]*)`").exec(SPEC);
  assert.ok(match, `docs/specs/stats.md shows a line starting '${start}'`);
  return match[1].replace(/\s*\n\s*/g, " ");
}

const MIB = 1024 * 1024;

Deno.test("the router's line is the spec's, its byte rate in MiB/s", () => {
  const line = formatRouterLine(
    { received: 12_000, sent: 12_000, bytes: 1.2 * MIB, lost: 0, denied: 0, malformed: 0 },
    { received: 10_000, sent: 10_000, bytes: 0 },
    1000,
  );
  assert.equal(line, specLine("router: "));
});

Deno.test("the router's line names duplicates when there are any", () => {
  const current = { received: 300, sent: 300, bytes: 0, lost: 0, denied: 0, malformed: 0 };
  assert.doesNotMatch(formatRouterLine(current, {}, 1000), /duplicates/);
  assert.match(
    formatRouterLine({ ...current, duplicates: 300 }, {}, 1000),
    /, malformed 0, duplicates 300$/,
  );
});

Deno.test("the sink and dashboard lines are the spec's", () => {
  const counters = {
    received: 12_000,
    stored: 12_000,
    buffered: 0,
    dropped: 0,
    lost: 0,
    malformed: 0,
    rejected: 0,
  };
  assert.equal(
    formatSinkLine("store", { ...counters, latency_ms_avg: 1.2 }, { stored: 10_000 }, 1000),
    specLine("sink store: "),
  );
  assert.equal(
    formatSinkLine(
      "dashboard",
      { ...counters, latency_ms_avg: 0.3, clients: 1, frames: 61 },
      { stored: 10_000 },
      1000,
      ["clients", "frames"],
    ),
    specLine("sink dashboard: "),
  );
});

Deno.test("a file source's line is the spec's, its bytes in MiB", () => {
  const line = formatSourceLine(
    "nginx",
    {
      lines: 12_000,
      bytes: Math.round(2.4 * MIB),
      events: 12_000,
      unparsed: 0,
      too_long: 0,
      rotations: 0,
      truncations: 0,
      files: 1,
    },
    { lines: 10_000 },
    1000,
  );
  assert.equal(line, specLine("source nginx: "));
});

Deno.test("demo's and metrics' lines give their rate in ev/s, as the spec", () => {
  const line = formatEventsLine(
    "demo",
    { events: 3000, sent: 3000, dropped: 0 },
    { events: 2000 },
    1000,
  );
  assert.equal(line, specLine("source demo: "));
  assert.match(
    formatEventsLine("metrics", { events: 8, sent: 8, dropped: 0, samples: 1 }, {}, 1000),
    /^source metrics: 8 ev\/s; events 8, sent 8, dropped 0, samples 1$/,
  );
});

Deno.test("tap --stats gives its byte rate in binary units, not rounded to whole MB", () => {
  const stats = (events: number, bytes: number) =>
    ({
      events,
      bytes,
      lost: 0,
      duplicates: 0,
      malformed: {},
      rejectedEvents: 0,
      streams: [],
    }) as unknown as CollectorStats;
  assert.match(
    formatTapLine(stats(2000, 400_000), stats(0, 0), 1000),
    /^tap: 2.00k ev\/s 390.6KiB\/s \| /,
  );
});
