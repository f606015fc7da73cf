import assert from "node:assert/strict";
import { encodeBatch } from "@eventstorm/core/protocol";
import { readSegment } from "./read.ts";
import { Segment, type SegmentFile } from "./segment.ts";
import { makeEvents } from "./test_util.ts";

/** A file whose next `sync` fails `failSyncs` times. */
function flakySync(state: { failSyncs: number }) {
  return async (path: string): Promise<SegmentFile> => {
    const file = await Deno.open(path, { write: true, createNew: true });
    return {
      write: (data) => file.write(data),
      truncate: (length) => file.truncate(length),
      seek: (offset, whence) => file.seek(offset, whence),
      sync: () => {
        if (state.failSyncs-- > 0) {
          return Promise.reject(new Error("Input/output error (os error 5)"));
        }
        return file.sync();
      },
      close: () => file.close(),
    };
  };
}

Deno.test("segment: a failed finish resumes where it stopped, trailer written once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sink_file_segment_" });
  try {
    const state = { failSyncs: 1 };
    const path = `${dir}/2026-01-01T00-00-00Z-000001.bson.gz`;
    const segment = await Segment.create({
      path,
      format: "bson",
      gzip: true,
      openedAt: 0,
      closesAt: 1,
      openFile: flakySync(state),
    });
    const events = makeEvents("app.log", 20);
    await segment.append(encodeBatch(events.slice(0, 12)), 12);
    const mark = segment.mark();
    await segment.append(encodeBatch(events.slice(12)), 8);
    await segment.rollback(mark);
    assert.equal(segment.documents, 12);
    assert.equal(segment.fileBytes, (await Deno.stat(segment.partPath)).size);
    await segment.append(encodeBatch(events.slice(12, 15)), 3);
    await assert.rejects(segment.finish(), /Input\/output error/);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    await segment.finish();
    await assert.rejects(Deno.stat(segment.partPath), Deno.errors.NotFound);
    assert.deepEqual(await readSegment(path), events.slice(0, 15));
    await assert.rejects(segment.append(encodeBatch(events.slice(0, 1)), 1), /not open/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("segment: creating over an existing .part fails and leaves it alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sink_file_segment_" });
  try {
    const path = `${dir}/2026-01-01T00-00-00Z-000001.jsonl`;
    await Deno.writeTextFile(path + ".part", "someone else's\n");
    const options = { path, format: "jsonl", gzip: false, openedAt: 0, closesAt: 1 } as const;
    await assert.rejects(Segment.create(options), Deno.errors.AlreadyExists);
    assert.equal(await Deno.readTextFile(path + ".part"), "someone else's\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
