import assert from "node:assert/strict";
import { cpuUsage, parseProcStat, readCpuTimes } from "./cpu.ts";

const STAT = `cpu  19705 3 6303 74296 437 0 118 56 0 0
cpu0 9376 0 2927 38072 67 0 10 23 0 0
cpu1 10329 3 3376 36224 370 0 107 32 0 0
intr 179022 0 0 0
ctxt 790520
btime 1795461272
processes 11058
procs_running 7
procs_blocked 0
softirq 185003 0 18927 7 16604 70654 0 570 32664 1 45576
`;

Deno.test("parseProcStat reads the aggregate line and counts CPUs", () => {
  const times = parseProcStat(STAT);
  assert.deepEqual(times, {
    user: 19705,
    nice: 3,
    system: 6303,
    idle: 74296,
    iowait: 437,
    irq: 0,
    softirq: 118,
    steal: 56,
    cpus: 2,
  });
});

Deno.test("parseProcStat fills columns that old kernels lack with 0", () => {
  const times = parseProcStat("cpu  1 2 3 4\ncpu0 1 2 3 4\n");
  assert.equal(times.iowait, 0);
  assert.equal(times.steal, 0);
  assert.equal(times.idle, 4);
});

Deno.test("parseProcStat rejects text without a cpu line", () => {
  assert.throws(() => parseProcStat("intr 1 2 3\n"), SyntaxError);
  assert.throws(() => parseProcStat("cpu  a b c d\n"), SyntaxError);
  assert.throws(() => parseProcStat(""), SyntaxError);
});

Deno.test("cpuUsage turns deltas into percentages that add up to 100", () => {
  const before = parseProcStat(STAT);
  const after = {
    ...before,
    user: before.user + 30,
    system: before.system + 10,
    idle: before.idle + 50,
    iowait: before.iowait + 5,
    steal: before.steal + 5,
  };
  const usage = cpuUsage(before, after)!;
  assert.equal(usage.user_percent, 30);
  assert.equal(usage.system_percent, 10);
  assert.equal(usage.idle_percent, 50);
  assert.equal(usage.iowait_percent, 5);
  assert.equal(usage.steal_percent, 5);
  assert.equal(usage.busy_percent, 45);
  assert.equal(usage.cpus, 2);
  const sum = usage.user_percent + usage.nice_percent + usage.system_percent +
    usage.idle_percent + usage.iowait_percent + usage.irq_percent + usage.softirq_percent +
    usage.steal_percent;
  assert.equal(Math.round(sum), 100);
});

Deno.test("cpuUsage ignores counters that went backwards and needs elapsed time", () => {
  const before = parseProcStat(STAT);
  assert.equal(cpuUsage(before, before), undefined);
  const after = { ...before, idle: before.idle + 100, iowait: before.iowait - 20 };
  const usage = cpuUsage(before, after)!;
  assert.equal(usage.idle_percent, 100);
  assert.equal(usage.iowait_percent, 0);
  assert.equal(usage.busy_percent, 0);
});

Deno.test("readCpuTimes sees this machine's CPUs and user time spent by this test", async () => {
  const before = await readCpuTimes();
  assert.ok(before.cpus >= 1);
  // Spin until the kernel has charged user time (ticks are 1-10 ms), whatever the load.
  const deadline = Date.now() + 10_000;
  let after = before;
  while (after.user + after.nice <= before.user + before.nice && Date.now() < deadline) {
    const until = performance.now() + 50;
    while (performance.now() < until) { /* burn */ }
    after = await readCpuTimes();
  }
  const usage = cpuUsage(before, after);
  assert.ok(usage, "no CPU time passed");
  assert.ok(usage.user_percent + usage.nice_percent > 0);
  assert.ok(usage.busy_percent > 0 && usage.busy_percent <= 100);
});
