import assert from "node:assert/strict";
import { cursorPosition, entryPosition, SeqnumGaps } from "./seqnum.ts";

const ID = "f68458036afa41bbb1ee8933b8aaf349";

Deno.test("a cursor's seqnum id and hex seqnum; a cursor without them has no position", () => {
  // As journalctl 252 writes them.
  assert.deepEqual(
    cursorPosition(`s=${ID};i=f8;b=0123456789abcdef0123456789abcdef;m=f8;t=64542160750f8;x=8a`),
    { id: ID, seqnum: 248n },
  );
  assert.equal(cursorPosition("garbage"), undefined);
  assert.equal(cursorPosition(`s=${ID};i=xyz`), undefined);
  assert.equal(cursorPosition("i=1;b=2"), undefined);
});

Deno.test("an entry's __SEQNUM fields win over its cursor (systemd 254 and later)", () => {
  assert.deepEqual(
    entryPosition({ __SEQNUM_ID: ID, __SEQNUM: "300", __CURSOR: `s=${ID};i=1` }),
    { id: ID, seqnum: 300n },
  );
  assert.deepEqual(entryPosition({ __CURSOR: `s=${ID};i=a` }), { id: ID, seqnum: 10n });
  assert.equal(entryPosition({ MESSAGE: "no cursor" }), undefined);
});

Deno.test("gaps are counted per journal; going back or starting a journal counts nothing", () => {
  const gaps = new SeqnumGaps();
  const at = (id: string, seqnum: number) => gaps.next({ id, seqnum: BigInt(seqnum) });
  assert.deepEqual(
    [at("a", 5), at("b", 1), at("a", 6), at("b", 2), at("a", 9), at("a", 3), at("a", 4)],
    [0, 0, 0, 0, 2, 0, 0],
  );
  gaps.seen({ id: "c", seqnum: 20n });
  assert.equal(at("c", 30), 9);
});
