import assert from "node:assert/strict";
import { fromJsonLine } from "@eventstorm/core/protocol";
import { ObjectId } from "bson";
import { bucketOf, createTableCql, idText, insertCql, rowOf } from "./schema.ts";

Deno.test("bucketOf: UTC hour or day", () => {
  const time = new Date("2026-11-23T18:42:07.123Z");
  assert.equal(bucketOf(time, "hour"), "2026-11-23T18");
  assert.equal(bucketOf(time, "day"), "2026-11-23");
  assert.equal(bucketOf(new Date("2026-01-01T00:00:00+02:00"), "hour"), "2025-12-31T22");
  assert.equal(bucketOf(new Date(0), "hour"), "1970-01-01T00");
  assert.equal(bucketOf(new Date("0099-03-04T05:00:00Z"), "day"), "0099-03-04");
  assert.equal(bucketOf(new Date(Date.UTC(12345, 0, 2, 3)), "hour"), "+012345-01-02T03");
  assert.equal(bucketOf(new Date(Date.UTC(-50, 0, 2, 3)), "day"), "-000050-01-02");
});

Deno.test("idText: strings as they are, ObjectIds as hex, others as JSON", () => {
  const oid = new ObjectId();
  assert.equal(idText("ff-http.hit-7"), "ff-http.hit-7");
  assert.equal(idText(oid), oid.toHexString());
  assert.equal(idText(7), "7");
  assert.equal(idText({ a: 1 }), '{"a":1}');
});

Deno.test("rowOf: envelope columns and the whole event as Extended JSON", () => {
  const event = {
    type: "http.hit",
    time: new Date("2026-11-23T18:42:07.123Z"),
    host: "web1",
    _id: "ab-http.hit-3",
    status: 200,
    at: new Date(0),
  };
  const [type, bucket, time, id, host, json] = rowOf(event, "hour");
  assert.deepEqual([type, bucket, time, id, host], [
    "http.hit",
    "2026-11-23T18",
    event.time,
    "ab-http.hit-3",
    "web1",
  ]);
  assert.deepEqual(fromJsonLine(json), event);
});

Deno.test("CQL: table keyed by ((type, bucket), time, id); TTL only when asked", () => {
  const name = { keyspace: "ks", table: "events" };
  assert.match(createTableCql(name), /PRIMARY KEY \(\(type, bucket\), time, id\)/);
  assert.equal(
    insertCql(name),
    'INSERT INTO "ks"."events" (type, bucket, time, id, host, event) VALUES (?, ?, ?, ?, ?, ?)',
  );
  assert.match(insertCql(name, 86400), / USING TTL 86400$/);
});
