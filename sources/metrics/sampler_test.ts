import assert from "node:assert/strict";
import { isEvent } from "@eventstorm/core";
import { waitFor } from "../../tests/wait.ts";
import { readCpuTimes } from "./cpu.ts";
import { MetricsSampler } from "./sampler.ts";

const NET_HEADER = "Inter-|   Receive  |  Transmit\n face |bytes packets|bytes packets\n";

async function fakeProc(): Promise<string> {
  const proc = await Deno.makeTempDir();
  await Deno.mkdir(`${proc}/net`);
  await Deno.mkdir(`${proc}/self`);
  await Deno.writeTextFile(`${proc}/stat`, "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1\ncpu1 1\n");
  await Deno.writeTextFile(
    `${proc}/meminfo`,
    "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 250 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
  );
  await Deno.writeTextFile(`${proc}/loadavg`, "1.50 0.75 0.25 3/120 999\n");
  await Deno.writeTextFile(
    `${proc}/net/dev`,
    NET_HEADER + "  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n",
  );
  await Deno.writeTextFile(
    `${proc}/self/mountinfo`,
    "27 1 254:0 / / rw - ext4 /dev/vda rw\n22 27 0:21 / /proc rw - proc proc rw\n",
  );
  return proc;
}

Deno.test("MetricsSampler turns /proc readings into host.* events", async () => {
  const proc = await fakeProc();
  const time = new Date("2025-01-02T03:04:05Z");
  let clock = 5000;
  using sampler = new MetricsSampler({
    host: "box",
    procRoot: proc,
    now: () => time,
    monotonic: () => clock,
  });
  try {
    // Without a previous reading there is no rate to report yet.
    const first = await sampler.sample();
    assert.deepEqual(first.map((e) => e.type).sort(), ["host.disk", "host.load", "host.memory"]);
    for (const event of first) {
      assert.ok(isEvent(event));
      assert.equal(event.host, "box");
      assert.equal(event.time, time);
    }
    const memory = first.find((e) => e.type === "host.memory")!;
    assert.equal(memory.used_percent, 75);
    assert.equal(memory.total_bytes, 1000 * 1024);
    assert.deepEqual(
      { ...first.find((e) => e.type === "host.load")!, type: 0, time: 0, host: 0 },
      { type: 0, time: 0, host: 0, load1: 1.5, load5: 0.75, load15: 0.25, running: 3, procs: 120 },
    );
    const disk = first.find((e) => e.type === "host.disk")!;
    assert.equal(disk.mount, "/");
    assert.equal(disk.fs, "ext4");
    assert.ok((disk.total_bytes as number) > 0);

    await Deno.writeTextFile(`${proc}/stat`, "cpu  130 0 110 850 10 0 0 0 0 0\ncpu0 1\ncpu1 1\n");
    clock += 2000;
    await Deno.writeTextFile(
      `${proc}/net/dev`,
      NET_HEADER + "  eth0: 11000 20 0 1 0 0 0 0 2000 20 0 0 0 0 0 0\n",
    );
    const second = await sampler.sample();
    assert.deepEqual(
      second.map((e) => e.type).sort(),
      ["host.cpu", "host.disk", "host.load", "host.memory", "host.net"],
    );
    const cpu = second.find((e) => e.type === "host.cpu")!;
    assert.equal(cpu.user_percent, 30);
    assert.equal(cpu.system_percent, 10);
    assert.equal(cpu.idle_percent, 50);
    assert.equal(cpu.iowait_percent, 10);
    assert.equal(cpu.busy_percent, 40);
    assert.equal(cpu.cpus, 2);
    const net = second.find((e) => e.type === "host.net")!;
    assert.equal(net.interface, "eth0");
    assert.equal(net.rx_bytes_total, 11000);
    assert.equal(net.rx_drops, 1);
    assert.equal(net.tx_bytes_per_s, 0);
    assert.equal(net.interval_s, 2);
    assert.equal(net.rx_bytes_per_s, 5000, "10,000 bytes over the 2 s the clock moved");
    assert.equal(net.rx_packets_per_s, 5);
    assert.equal(sampler.errors, 0);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("MetricsSampler reports a family it cannot read and still sends the others", async () => {
  const proc = await fakeProc();
  const problems: string[] = [];
  using sampler = new MetricsSampler({
    procRoot: proc,
    kinds: ["memory", "load", "net"],
    onError: (kind, error) => problems.push(`${kind}: ${error.message}`),
  });
  try {
    await Deno.writeTextFile(`${proc}/loadavg`, "garbage\n");
    await Deno.remove(`${proc}/net/dev`);
    await sampler.prime();
    const events = await sampler.sample();
    assert.deepEqual(events.map((e) => e.type), ["host.memory"]);
    assert.equal(sampler.errors, 3);
    assert.equal(problems.length, 3);
    assert.match(problems[0], /^net: /);
    assert.ok(problems.some((p) => p.startsWith("load: unexpected /proc/loadavg")));
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("MetricsSampler reads all five families on this machine", async () => {
  const problems: string[] = [];
  let clock = 0;
  using sampler = new MetricsSampler({
    host: "here",
    monotonic: () => clock,
    onError: (kind, error) => problems.push(`${kind}: ${error.message}`),
  });
  await sampler.prime();
  // A CPU rate needs the kernel's tick counters to have moved since prime();
  // the network rate needs only time, which the injected clock provides.
  const primed = JSON.stringify(await readCpuTimes("/proc"));
  await waitFor(async () => JSON.stringify(await readCpuTimes("/proc")) !== primed, "a CPU tick");
  clock += 1000;
  const events = await sampler.sample();
  assert.deepEqual(problems, []);
  const types = new Set(events.map((e) => e.type));
  assert.deepEqual([...types].sort(), [
    "host.cpu",
    "host.disk",
    "host.load",
    "host.memory",
    "host.net",
  ]);
  assert.ok(events.some((e) => e.type === "host.disk" && e.mount === "/"));
  assert.ok(events.some((e) => e.type === "host.net" && e.interface === "lo"));
  assert.equal(new Set(events.map((e) => e.time.getTime())).size, 1, "one time per sample");
});
