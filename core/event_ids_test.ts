import assert from "node:assert/strict";
import { eventId, parseEventId, positionsOf } from "./event_ids.ts";

Deno.test("positionsOf reads each stream's position after a batch from the ids", () => {
  const events = [
    { _id: eventId(0xffn, "a-b", 7) },
    { _id: eventId(0xffn, "a-b", 8) },
    { _id: eventId(0x1n, "a-b", 3) },
    { _id: eventId(0xffn, "a-b", 5) },
    { _id: "ff-a-b-x" },
    { _id: 42 },
    {},
  ];
  assert.deepEqual(positionsOf(events, 9), [
    { source: 0xffn, topic: "a-b", next: 9, at: 9 },
    { source: 1n, topic: "a-b", next: 4, at: 9 },
  ]);
  assert.deepEqual(parseEventId(eventId(2n ** 64n - 1n, "x", 2 ** 53 - 1)), {
    source: 2n ** 64n - 1n,
    topic: "x",
    index: 2 ** 53 - 1,
  });
  for (
    const bad of ["", "ff", "ff-x", "-x-1", "fg-x-1", "ff-x-", "ff--1", "11111111111111111-x-1"]
  ) {
    assert.equal(parseEventId(bad), undefined, bad);
  }
});
