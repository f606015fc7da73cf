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
