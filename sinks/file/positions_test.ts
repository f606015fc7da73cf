import assert from "node:assert/strict";
import { PositionLog, POSITIONS_FILE } from "./positions.ts";

Deno.test("positions: saved lines are read back, a torn last line is ignored", async () => {
  const dir = await Deno.makeTempDir();
  const log = await PositionLog.open(dir);
  await log.compact();
  await log.save([{ source: 255n, topic: "a", next: 3, at: 1 }]);
  await log.save([{ source: 255n, topic: "a", next: 2, at: 2 }, {
    source: 1n,
    topic: "b",
    next: 9,
    at: 2,
  }]);
  await log.save([{ source: 255n, topic: "a", next: 7, at: 3 }]);
  log.close();
  const path = `${dir}/${POSITIONS_FILE}`;
  const text = await Deno.readTextFile(path);
  // A crash in the middle of the last line.
  await Deno.writeTextFile(path, text.slice(0, -5));
  const reread = await PositionLog.open(dir);
  reread.noteStored("1-b-20", 4);
  reread.noteStored("not an id", 4);
  assert.deepEqual(reread.positions(), [
    { source: 255n, topic: "a", next: 3, at: 1 },
    { source: 1n, topic: "b", next: 21, at: 4 },
  ]);
  await reread.compact();
  reread.close();
  assert.equal((await Deno.readTextFile(path)).split("\n").length, 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("positions: gaps are saved with a position, replaced, and survive a reopen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = await PositionLog.open(dir);
    await log.compact();
    await log.save([{ source: 255n, topic: "a", next: 300, at: 1, gaps: [100, 200] }]);
    // A fill batch: `next` stays, the gaps shrink (and a gap-less stream is no line).
    await log.save([{ source: 255n, topic: "a", next: 150, at: 2, gaps: [150, 200] }]);
    await log.save([{ source: 255n, topic: "a", next: 300, at: 2, gaps: [150, 200] }]);
    log.close();
    const path = `${dir}/${POSITIONS_FILE}`;
    assert.equal((await Deno.readTextFile(path)).trim().split("\n").length, 2);
    const reread = await PositionLog.open(dir);
    assert.deepEqual(reread.positions(), [
      { source: 255n, topic: "a", next: 300, at: 2, gaps: [150, 200] },
    ]);
    // Recovery found a late copy in a `.part` segment: out of the gap.
    reread.noteStored("ff-a-160", 3);
    assert.deepEqual(reread.positions()[0].gaps, [150, 160, 161, 200]);
    // Every gap filled or counted: the position saves without one.
    await reread.compact();
    await reread.save([{ source: 255n, topic: "a", next: 300, at: 4 }]);
    reread.close();
    assert.deepEqual((await PositionLog.open(dir)).positions(), [
      { source: 255n, topic: "a", next: 300, at: 4 },
    ]);
    // A line written before gaps were saved has none.
    await Deno.writeTextFile(
      path,
      '{"s":"1","t":"b","n":5,"a":0}\n{"s":"2","t":"b","n":5,"a":0,"g":"x"}\n',
    );
    assert.deepEqual((await PositionLog.open(dir)).positions(), [
      { source: 1n, topic: "b", next: 5, at: 0 },
      { source: 2n, topic: "b", next: 5, at: 0 },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
