import assert from "node:assert/strict";
import { ObjectId } from "mongodb";
import { collectionForType, safeDocument, safeKey } from "./keys.ts";

Deno.test("safeKey: a leading $ becomes ＄ and every dot an underscore", () => {
  assert.equal(safeKey("$cost"), "＄cost");
  assert.equal(safeKey("a$b"), "a$b");
  assert.equal(safeKey("cpu.user.pct"), "cpu_user_pct");
  assert.equal(safeKey("$a.b"), "＄a_b");
  assert.equal(safeKey("plain_name"), "plain_name");
});

Deno.test("safeDocument returns the event itself when nothing needs escaping", () => {
  const event = { type: "x", time: new Date(0), host: "h", n: 1, nested: { ok: [1, { a: 2 }] } };
  assert.equal(safeDocument(event), event);
});

Deno.test("safeDocument escapes top-level and nested names without losing fields", () => {
  const id = new ObjectId();
  const event = {
    _id: id,
    type: "x",
    "$set": 1,
    "a.b": 2,
    a_b: 3,
    "a_b_": 4,
    nested: { "$in": [1], list: [{ "k.v": true }] },
  };
  const safe = safeDocument(event);
  assert.notEqual(safe, event);
  assert.deepEqual(safe, {
    _id: id,
    type: "x",
    "＄set": 1,
    // a_b and a_b_ are taken by fields of their own, so the escaped a.b moves on.
    a_b__: 2,
    a_b: 3,
    a_b_: 4,
    nested: { "＄in": [1], list: [{ k_v: true }] },
  });
  assert.ok(safe._id instanceof ObjectId, "BSON values are kept as they are");
  assert.deepEqual(Object.keys(event), ["_id", "type", "$set", "a.b", "a_b", "a_b_", "nested"]);
});

Deno.test("collectionForType turns dots into underscores", () => {
  assert.equal(collectionForType("http.hit"), "http_hit");
  assert.equal(collectionForType("host.cpu-load.x"), "host_cpu-load_x");
});

Deno.test("safeDocument keeps fields named __proto__, constructor and toString", () => {
  const document = JSON.parse('{"__proto__":{"a.b":1},"constructor":2,"toString":3,"$x":4}');
  const safe = safeDocument(document);
  assert.deepEqual(Object.keys(safe).sort(), ["__proto__", "constructor", "toString", "＄x"]);
  assert.deepEqual(Object.keys(safe.__proto__ as object), ["a_b"]);
  assert.equal(Object.getPrototypeOf(safe), Object.prototype);
});
