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

Deno.test("queue: shiftMany, drop and unshiftMany keep order, also across compaction", () => {
  const queue = new Queue<number>();
  for (let i = 0; i < 5000; i++) queue.push(i);
  assert.deepEqual(queue.shiftMany(3), [0, 1, 2]);
  assert.equal(queue.drop(2), 2, "3 and 4 dropped");
  assert.equal(queue.peek(), 5);
  // A batch put back goes in front, in its order (the sink retries it first).
  queue.unshiftMany([3, 4]);
  assert.deepEqual(queue.shiftMany(4), [3, 4, 5, 6]);
  // Past the compaction point the head restarts at 0: putting back must still work.
  const batch = queue.shiftMany(3000);
  assert.equal(batch[0], 7);
  assert.equal(batch.length, 3000);
  queue.unshiftMany(batch);
  assert.equal(queue.length, 5000 - 7);
  assert.equal(queue.peek(), 7);
  assert.equal(queue.drop(10_000), 5000 - 7, "drop stops at the end");
  assert.deepEqual(queue.shiftMany(5), []);
  assert.equal(queue.length, 0);
});
