import assert from "node:assert/strict";
import type { Event } from "@eventstorm/core";
import { decodeEvents, encodeBatch, MAX_NESTING } from "@eventstorm/core/protocol";
import { DemoEvents } from "@eventstorm/source-demo";
import { Long, ObjectId } from "bson";
import { farDatedEvent } from "../../core/testdata/far_date.ts";
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

/** An http.hit whose field `deep` makes the whole document `depth` levels deep. */
function nestedHit(depth: number): Uint8Array {
  const utf8 = new TextEncoder();
  const document = (elements: number[]) => {
    const bytes = new Uint8Array(4 + elements.length + 1);
    new DataView(bytes.buffer).setInt32(0, bytes.length, true);
    bytes.set(elements, 4);
    return [...bytes];
  };
  const int32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
  const string = (key: string, value: string) => [
    0x02,
    ...utf8.encode(key),
    0,
    ...int32(utf8.encode(value).length + 1),
    ...utf8.encode(value),
    0,
  ];
  // `depth - 1` documents {a: {a: …}} inside each other, 8 bytes a level, written in place.
  const levels = depth - 1;
  const innerBytes = new Uint8Array(5 + 8 * (levels - 1));
  const view = new DataView(innerBytes.buffer);
  for (let level = 0; level < levels; level++) {
    const at = 7 * level;
    const size = innerBytes.length - 8 * level;
    view.setInt32(at, size, true);
    if (level < levels - 1) innerBytes.set([0x03, 0x61, 0], at + 4);
  }
  const inner = [...innerBytes];
  return new Uint8Array(document([
    ...string("type", "http.hit"),
    0x09,
    ...utf8.encode("time"),
    0,
    ...new Array(8).fill(0),
    ...string("host", "web1"),
    0x03,
    ...utf8.encode("deep"),
    0,
    ...inner,
  ]));
}

Deno.test("scanHttpHits drops documents deeper than the protocol allows, as a full decode does", () => {
  const allowed = nestedHit(MAX_NESTING);
  const deeper = nestedHit(MAX_NESTING + 1);
  assert.deepEqual(
    [decodeEvents(allowed).events.length, decodeEvents(deeper).rejected],
    [1, 1],
  );
  const kept = scanAll(allowed);
  assert.deepEqual([kept.events, kept.rejected, kept.hits[0].host], [1, 0, "web1"]);
  assert.equal(scanAll(deeper).events, 0);
  assert.equal(scanAll(deeper).rejected, 1);
  // 100,000 deep: counted, no stack involved.
  assert.equal(scanAll(nestedHit(100_000)).rejected, 1);
});

Deno.test("scanHttpHits drops a date no Date holds, as time or deep in a field, as a full decode does", () => {
  for (const depth of [0, 1, 4]) {
    for (const [ms, kept] of [[8_640_000_000_000_000n, 1], [8_640_000_000_000_001n, 0]] as const) {
      const body = farDatedEvent("http.hit", ms, depth);
      assert.equal(decodeEvents(body).events.length, kept);
      const scanned = scanAll(body);
      assert.deepEqual([scanned.events, scanned.rejected], [kept, 1 - kept], `${ms} at ${depth}`);
    }
  }
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
