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

Deno.test("saved positions: gaps load, save when they change, never move next back", () => {
  const saved = new SavedPositions(0);
  const at = new Date(7);
  assert.deepEqual(saved.load({ source: "ff", topic: "a", next: 300, gaps: "[100,200]", at }), {
    source: 255n,
    topic: "a",
    next: 300,
    at: 7,
    gaps: [100, 200],
  });
  // A row saved before gaps were: none.
  assert.equal(saved.load({ source: "1", topic: "b", next: 5 })?.gaps, undefined);
  // A fill batch: next stays 300 (the value saved is never below it), the gaps shrink.
  const fill = saved.advances([{ source: 255n, topic: "a", next: 150, at: 1, gaps: [150, 200] }]);
  assert.deepEqual(fill, [{
    key: "ff-a",
    source: "ff",
    topic: "a",
    value: 300,
    at: 1,
    gaps: [150, 200],
  }]);
  saved.advanced(fill[0]);
  // The same gaps again: nothing to save.
  assert.deepEqual(
    saved.advances([{ source: 255n, topic: "a", next: 300, at: 2, gaps: [150, 200] }]),
    [],
  );
  // Gaps gone (filled or counted lost): saved without.
  const cleared = saved.advances([{ source: 255n, topic: "a", next: 300, at: 3 }]);
  assert.deepEqual(cleared, [{ key: "ff-a", source: "ff", topic: "a", value: 300, at: 3 }]);
  saved.advanced(cleared[0]);
  assert.deepEqual(saved.advances([{ source: 255n, topic: "a", next: 300, at: 4, gaps: [] }]), []);
  // Bad gaps in a row are left out, the position kept.
  assert.deepEqual(
    saved.load({ source: "2", topic: "c", next: 9, gaps: "[5,3,1,2", at: 0 })?.gaps,
    undefined,
  );
  assert.deepEqual(
    saved.load({ source: "2", topic: "c", next: 9, gaps: [5, 3, 1, 2], at: 0 })?.gaps,
    [1, 2],
  );
});
