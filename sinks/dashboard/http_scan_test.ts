import assert from "node:assert/strict";
import type { Event } from "@eventstorm/core";
import { decodeEvents, encodeBatch } from "@eventstorm/core/protocol";
import { DemoEvents } from "@eventstorm/source-demo";
import { Long, ObjectId } from "bson";
import { type HttpHitFields, scanHttpHits } from "./http_scan.ts";

function expected(event: Event): HttpHitFields {
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  return {
    host: str(event.host),
    status: num(event.status),
    bytes: num(event.body_bytes_sent),
    requestTime: num(event.request_time),
    path: str(event.path),
    address: str(event.remote_addr),
    agent: str(event.http_user_agent),
  };
}

function scanAll(body: Uint8Array) {
  const hits: HttpHitFields[] = [];
  const result = scanHttpHits(body, (hit) => hits.push({ ...hit }));
  return { hits, ...result };
}

Deno.test("scanHttpHits reads what a full decode reads", () => {
  const demo = new DemoEvents({ seed: 3 });
  const events: Event[] = [];
  while (events.length < 2000) {
    const event = demo.next(new Date());
    if (event.type === "http.hit") events.push(event);
  }
  events.push({
    type: "http.hit",
    time: new Date(),
    host: "wéb-ü",
    status: Long.fromNumber(503) as unknown as number,
    body_bytes_sent: 2 ** 40,
    request_time: 0,
    path: "/ünïcode/" + "x".repeat(400),
    remote_addr: "2001:db8::1",
    http_user_agent: "<script>alert(1)</script>",
    upstream_response_time_list: [0.1, null, 0.2],
    nested: { a: 1 },
    flag: true,
    nothing: null,
    id: new ObjectId(),
    bin: new Uint8Array([1, 2, 3]),
    ratio: 1.5,
  });
  const body = encodeBatch(events);
  const { hits, events: count, rejected } = scanAll(body);
  assert.equal(rejected, 0);
  assert.equal(count, events.length);
  const decoded = decodeEvents(body, { topic: "http.hit" }).events;
  const want = decoded.map((event) => {
    const fields = expected(event);
    // bson decodes an int64 that fits as a number too (or Long, as configured).
    if (typeof event.status === "object") fields.status = Number(event.status);
    return fields;
  });
  assert.deepEqual(hits, want);
  assert.equal(hits.at(-1)!.status, 503);
  assert.equal(hits.at(-1)!.bytes, 2 ** 40);
});

Deno.test("scanHttpHits rejects bad envelopes and bad BSON without throwing", () => {
  const good = { type: "http.hit", time: new Date(), host: "web1", status: 200 };
  const body = encodeBatch([
    good,
    { ...good, type: "http.other" },
    { ...good, time: "yesterday" },
    { type: "http.hit", time: new Date(), status: 200 },
    { ...good, host: 5 },
    good,
  ]);
  const { events, rejected, hits } = scanAll(body);
  assert.equal(events, 2);
  assert.equal(rejected, 4);
  assert.deepEqual(hits.map((h) => h.status), [200, 200]);

  // Every single-byte corruption and every truncation: counted, never thrown.
  const one = encodeBatch([{ ...good, path: "/a", http_user_agent: "curl" }]);
  for (let i = 0; i < one.length; i++) {
    for (const value of [0x00, 0x7f, 0xff, one[i] ^ 0x01]) {
      const copy = one.slice();
      copy[i] = value;
      const result = scanHttpHits(copy, () => {});
      assert.equal(result.events + result.rejected >= 1, true);
    }
    const cut = scanHttpHits(one.subarray(0, i), () => {});
    assert.equal(cut.events, 0, `truncated at ${i}`);
  }
});
