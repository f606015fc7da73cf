import assert from "node:assert/strict";
import { Queue } from "./queue.ts";

Deno.test("queue: first in, first out, with peek, some, sum and clear", () => {
  const queue = new Queue<number>();
  assert.equal(queue.shift(), undefined);
  assert.throws(() => queue.peek(), RangeError);
  for (const n of [1, 2, 3]) queue.push(n);
  assert.equal(queue.length, 3);
  assert.equal(queue.peek(), 1);
  assert.equal(queue.shift(), 1);
  assert.equal(queue.length, 2);
  assert.ok(queue.some((n) => n === 3));
  assert.ok(!queue.some((n) => n === 1), "a shifted item is gone");
  assert.equal(queue.sum((n) => n), 5);
  queue.clear();
  assert.equal(queue.length, 0);
  assert.equal(queue.shift(), undefined);
});

Deno.test("queue: order survives compaction over many pushes and shifts", () => {
  const queue = new Queue<number>();
  let next = 0;
  let expected = 0;
  // Interleave so the head passes the compaction threshold many times over.
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 3000; i++) queue.push(next++);
    for (let i = 0; i < 2500; i++) assert.equal(queue.shift(), expected++);
    assert.equal(queue.length, next - expected);
    assert.equal(queue.peek(), expected);
  }
  while (queue.length > 0) assert.equal(queue.shift(), expected++);
  assert.equal(expected, next);
});
