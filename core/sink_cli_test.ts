import assert from "node:assert/strict";
import { formatSinkLine } from "./sink_cli.ts";

Deno.test("sink line: the write latency has one decimal, as docs/specs/stats.md shows (audit #7)", () => {
  const counters = {
    received: 1,
    stored: 1,
    buffered: 0,
    dropped: 0,
    lost: 0,
    malformed: 0,
    rejected: 0,
  };
  const line = formatSinkLine("store", { ...counters, latency_ms_avg: 21.28 }, { stored: 0 }, 1000);
  assert.ok(line.endsWith(", write 21.3ms avg"), line);
  const fast = formatSinkLine("store", { ...counters, latency_ms_avg: 0.04 }, { stored: 0 }, 1000);
  assert.ok(fast.endsWith(", write 0ms avg"), fast);
});
