import assert from "node:assert/strict";
import { netRates, parseNetDev, readNetCounters } from "./net.ts";

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 232928699   12619    1    2    0     0          0         0   912089    9147    3    4    0     0       0          0
wlp2s0:123456789012 99 0 0 0 0 0 0 5 1 0 0 0 0 0 0
  bad0: 1 2 3
`;

Deno.test("parseNetDev reads the counters of every well-formed interface", () => {
  const interfaces = parseNetDev(NET_DEV);
  assert.deepEqual([...interfaces.keys()], ["lo", "eth0", "wlp2s0"]);
  assert.deepEqual(interfaces.get("eth0"), {
    rx_bytes: 232928699,
    rx_packets: 12619,
    rx_errors: 1,
    rx_drops: 2,
    tx_bytes: 912089,
    tx_packets: 9147,
    tx_errors: 3,
    tx_drops: 4,
  });
  assert.equal(interfaces.get("wlp2s0")?.rx_bytes, 123456789012);
});

Deno.test("netRates divides deltas by the interval and keeps totals", () => {
  const before = parseNetDev(NET_DEV);
  const eth0 = before.get("eth0")!;
  const after = new Map(before);
  after.set("eth0", {
    ...eth0,
    rx_bytes: eth0.rx_bytes + 20_000,
    tx_bytes: eth0.tx_bytes + 5_000,
    rx_packets: eth0.rx_packets + 30,
    rx_errors: eth0.rx_errors + 2,
  });
  const rates = netRates(before, after, 4);
  const r = rates.find((x) => x.interface === "eth0")!;
  assert.equal(r.rx_bytes_per_s, 5000);
  assert.equal(r.tx_bytes_per_s, 1250);
  assert.equal(r.rx_packets_per_s, 7.5);
  assert.equal(r.tx_packets_per_s, 0);
  assert.equal(r.rx_errors, 2);
  assert.equal(r.rx_errors_total, 3);
  assert.equal(r.rx_bytes_total, eth0.rx_bytes + 20_000);
  assert.equal(r.interval_s, 4);
  assert.equal(rates.find((x) => x.interface === "lo")!.rx_bytes_per_s, 0);
});

Deno.test("netRates leaves out reset and new interfaces", () => {
  const before = parseNetDev(NET_DEV);
  const after = new Map(before);
  after.set("eth0", { ...before.get("eth0")!, rx_bytes: 10 });
  after.set("veth9", { ...before.get("lo")! });
  const names = netRates(before, after, 1).map((r) => r.interface).sort();
  assert.deepEqual(names, ["lo", "wlp2s0"]);
  assert.deepEqual(netRates(before, after, 0), []);
});

Deno.test("readNetCounters sees loopback traffic made by this test", async () => {
  const before = await readNetCounters();
  assert.ok(before.has("lo"), "no loopback interface");
  const payload = new Uint8Array(1 << 20);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received = (async () => {
    const conn = await listener.accept();
    let total = 0;
    for await (const chunk of conn.readable) total += chunk.length;
    return total;
  })();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const writer = client.writable.getWriter();
  await writer.write(payload);
  await writer.close();
  assert.equal(await received, payload.length);
  listener.close();
  const after = await readNetCounters();
  const [rates] = netRates(new Map([["lo", before.get("lo")!]]), after, 1);
  assert.ok(rates.rx_bytes_per_s >= payload.length, `lo grew by ${rates.rx_bytes_per_s} only`);
  assert.ok(rates.tx_bytes_per_s >= payload.length);
});
