import assert from "node:assert/strict";
import { parseMeminfo, readMemory } from "./memory.ts";

const MEMINFO = `MemTotal:       24684096 kB
MemFree:        23535664 kB
MemAvailable:   24296256 kB
Buffers:           21544 kB
Cached:           897920 kB
SwapCached:            0 kB
Active(anon):       1552 kB
SwapTotal:       2097148 kB
SwapFree:        1048574 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
`;

Deno.test("parseMeminfo reports bytes and the share really used", () => {
  const m = parseMeminfo(MEMINFO);
  assert.equal(m.total_bytes, 24684096 * 1024);
  assert.equal(m.available_bytes, 24296256 * 1024);
  assert.equal(m.used_bytes, (24684096 - 24296256) * 1024);
  assert.equal(m.used_percent, 1.57);
  assert.equal(m.free_bytes, 23535664 * 1024);
  assert.equal(m.buffers_bytes, 21544 * 1024);
  assert.equal(m.cached_bytes, 897920 * 1024);
  assert.equal(m.swap_total_bytes, 2097148 * 1024);
  assert.equal(m.swap_used_bytes, (2097148 - 1048574) * 1024);
  assert.equal(m.swap_used_percent, 50);
});

Deno.test("parseMeminfo estimates available memory on kernels before 3.14", () => {
  const m = parseMeminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n");
  assert.equal(m.available_bytes, 400 * 1024);
  assert.equal(m.used_percent, 60);
  assert.equal(m.swap_total_bytes, 0);
  assert.equal(m.swap_used_percent, 0);
});

Deno.test("parseMeminfo rejects text without MemTotal", () => {
  assert.throws(() => parseMeminfo("MemFree: 1 kB\n"), SyntaxError);
  assert.throws(() => parseMeminfo(""), SyntaxError);
});

Deno.test("readMemory agrees with the kernel's total as Deno sees it", async () => {
  const m = await readMemory();
  assert.equal(m.total_bytes, Deno.systemMemoryInfo().total);
  assert.ok(m.available_bytes > 0 && m.available_bytes <= m.total_bytes);
  assert.ok(m.used_percent > 0 && m.used_percent < 100);
});
