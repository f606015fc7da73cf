import assert from "node:assert/strict";
import { envelopeProblem, isValidType } from "./event.ts";

Deno.test("event: isValidType answers the same however often it is asked", () => {
  for (let round = 0; round < 3; round++) {
    assert.equal(isValidType(""), false);
    assert.equal(isValidType("http.hit"), true);
    assert.equal(isValidType("http.hit"), true);
    assert.equal(isValidType("Http.hit"), false);
    assert.equal(isValidType("http..hit"), false);
    assert.equal(isValidType("a".repeat(1000)), false);
    assert.equal(isValidType(42), false);
    assert.equal(isValidType("smtp.transaction"), true);
  }
});

Deno.test("event: envelopeProblem names what is wrong", () => {
  const time = new Date(0);
  assert.equal(envelopeProblem({ type: "a.b", time, host: "h" }), undefined);
  assert.match(envelopeProblem({ type: "", time, host: "h" })!, /type/);
  assert.match(envelopeProblem({ type: "a.b", time: new Date(NaN), host: "h" })!, /time/);
  assert.match(envelopeProblem({ type: "a.b", time: "yesterday", host: "h" })!, /time/);
  assert.match(envelopeProblem({ type: "a.b", time, host: 1 })!, /host/);
});
