import assert from "node:assert/strict";
import { SavedPositions } from "./positions.ts";

Deno.test("saved positions: claims ahead of batches, advances forward only, doubt from a crash", () => {
  const saved = new SavedPositions(100);
  // A crash left stream ff/a stored up to 5 and claimed up to 105; stream 1/b was stopped cleanly.
  assert.deepEqual(saved.load({ source: "ff", topic: "a", next: 5, upto: 105, at: new Date(7) }), {
    source: 255n,
    topic: "a",
    next: 5,
    at: 7,
  });
  assert.equal(
    saved.load({ source: "1", topic: "b", next: { toString: () => "9" }, at: 1 })?.next,
    9,
  );
  for (
    const bad of [{ source: "xyz", topic: "a", next: 1 }, { source: "1", topic: 2, next: 1 }, {
      source: "1",
      topic: "c",
      next: -1,
    }]
  ) {
    assert.equal(saved.load(bad), undefined);
  }
  assert.deepEqual(
    ["ff-a-4", "ff-a-5", "ff-a-104", "ff-a-105", "1-b-9", "x"].map((id) => saved.inDoubt(id)),
    [
      false,
      true,
      true,
      false,
      false,
      false,
    ],
  );
  const batch = [
    { source: 255n, topic: "a", next: 50, at: 1 },
    { source: 1n, topic: "b", next: 20, at: 1 },
  ];
  // ff/a is within its claim; 1/b needs one, 100 past the batch.
  const claims = saved.claims(batch);
  assert.deepEqual(claims.map(({ key, value }) => [key, value]), [["1-b", 120]]);
  for (const claim of claims) saved.claimed(claim);
  assert.deepEqual(saved.claims(batch), []);
  const advances = saved.advances(batch);
  assert.deepEqual(advances.map(({ key, value }) => [key, value]), [["ff-a", 50], ["1-b", 20]]);
  for (const advance of advances) saved.advanced(advance);
  // A batch that fills an older gap moves nothing back.
  assert.deepEqual(saved.advances([{ source: 1n, topic: "b", next: 15, at: 2 }]), []);
  assert.deepEqual(saved.ahead().map(({ key, value }) => [key, value]), [["ff-a", 50], [
    "1-b",
    20,
  ]]);
});
