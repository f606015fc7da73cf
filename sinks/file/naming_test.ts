import assert from "node:assert/strict";
import { formatStamp, parseSegmentName, segmentBase, segmentExtension } from "./naming.ts";

Deno.test("naming: names round-trip and sort by opening time, then sequence", () => {
  const times = [
    Date.UTC(2026, 10, 23, 18, 0, 0),
    Date.UTC(2026, 10, 23, 18, 0, 0, 999),
    Date.UTC(2026, 10, 23, 18, 0, 1),
    Date.UTC(2026, 10, 23, 9, 59, 59),
    Date.UTC(2027, 0, 1),
  ];
  const names: string[] = [];
  for (const time of times) {
    for (const sequence of [1, 2, 10, 999_999]) {
      const name = segmentBase(formatStamp(time), sequence) + segmentExtension("bson", true);
      const parsed = parseSegmentName(name)!;
      assert.equal(parsed.openedAt.getTime(), Math.floor(time / 1000) * 1000);
      assert.equal(parsed.sequence, sequence);
      assert.equal(parsed.gzip, true);
      assert.equal(parsed.part, false);
      names.push(name);
    }
  }
  const byTime = [...names].sort((a, b) => {
    const x = parseSegmentName(a)!;
    const y = parseSegmentName(b)!;
    return x.openedAt.getTime() - y.openedAt.getTime() || x.sequence - y.sequence;
  });
  assert.deepEqual([...names].sort(), byTime);
  assert.equal(formatStamp(Date.UTC(2026, 10, 23, 18, 0, 0)), "2026-11-23T18-00-00Z");
  const part = parseSegmentName("2026-11-23T18-00-00Z-000003.jsonl.gz.part")!;
  assert.deepEqual([part.format, part.gzip, part.part, part.base], [
    "jsonl",
    true,
    true,
    "2026-11-23T18-00-00Z-000003",
  ]);
  for (const bad of ["x.bson", "2026-11-23T18-00-00Z-1.bson", "2026-11-23T18-00-00Z-000001.csv"]) {
    assert.equal(parseSegmentName(bad), undefined, bad);
  }
});
