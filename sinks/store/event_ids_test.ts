import assert from "node:assert/strict";
import { eventId } from "@eventstorm/core/sink";
import { mulberry32 } from "@eventstorm/core/internal";
import { EventIdBytes } from "./event_ids.ts";

Deno.test("EventIdBytes writes what eventId gives, for any source, topic and index", () => {
  const ids = new EventIdBytes();
  const decoder = new TextDecoder();
  const random = mulberry32(7);
  const topics = ["a", "http.hit", "x".repeat(200) + ".y", "postfix.delivery"];
  const indexes = [0, 1, 9, 10, 99, 100, 4294967295, 4294967296, Number.MAX_SAFE_INTEGER];
  for (let round = 0; round < 2000; round++) {
    const source = BigInt.asUintN(64, BigInt(Math.floor(random() * 2 ** 53)) << 11n);
    const topic = topics[round % topics.length];
    ids.start(source, topic);
    const index = round < indexes.length ? indexes[round] : Math.floor(random() * 2 ** 40);
    assert.equal(decoder.decode(ids.of(index)), eventId(source, topic, index));
    assert.equal(decoder.decode(ids.of(index + 1)), eventId(source, topic, index + 1));
  }
});
