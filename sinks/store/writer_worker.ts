/**
 * The store sink's writer thread: commits prepared rows to its own connection,
 * in the order they come. Once a batch fails, later ones fail too until one
 * marked `resume` arrives, so that no batch (nor a stream position) is stored
 * ahead of one the sink will retry (SinkBackend.concurrency). Once the
 * checkpoint thread is up (checkpoint_worker.ts) its commits leave the
 * checkpoints to it. It loads only SQLite and rows.ts: a thread costs its
 * isolate and what that imports.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { connect, messageOf, RowWriter } from "./rows.ts";
import type { WriterReply, WriterRequest } from "./writer.ts";

let db: DatabaseSync | undefined;
let rows: RowWriter | undefined;
let failed = false;
/** Whether SQLite's own checkpoints in the commits are off (the checkpoint thread's). */
let checkpointThread = false;
let copyRest: StatementSync | undefined;

function reply(message: WriterReply): void {
  self.postMessage(message);
}

self.onmessage = (event: MessageEvent<WriterRequest>) => {
  const request = event.data;
  if (request.kind === "open") {
    try {
      db ??= connect(request.path);
    } catch {
      // Said by the first commit, which tries again.
    }
    return;
  }
  if (request.kind === "close") {
    db?.close();
    db = rows = copyRest = undefined;
    checkpointThread = false;
    reply({ kind: "closed" });
    return;
  }
  const { id, path } = request;
  if (request.resume) failed = false;
  // Told for a commit that was to start the WAL over, whatever became of it.
  let startedOver = request.startOver ? false : undefined;
  if (failed) {
    const error = `${path}: not written: an earlier batch failed`;
    reply({ kind: "result", id, error, startedOver });
    return;
  }
  try {
    db ??= connect(path);
    rows ??= new RowWriter(db, path);
    if (request.checkpointThread !== checkpointThread) {
      checkpointThread = request.checkpointThread;
      db.exec(`PRAGMA wal_autocheckpoint = ${checkpointThread ? 0 : 1000}`);
    }
    if (request.startOver) {
      // The checkpoint thread copied all but the last commits and waits: this copies
      // those, and the commit below, finding all of the WAL copied, starts it over
      // (unless a reader's snapshot kept part of it from being copied).
      copyRest ??= db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
      const { busy, log, checkpointed } = copyRest.get() as Record<string, number>;
      startedOver = busy === 0 && checkpointed === log;
    }
    const inserted = rows.write(request.batch, request.positions);
    reply({ kind: "result", id, inserted, startedOver });
  } catch (error) {
    failed = true;
    reply({ kind: "result", id, error: messageOf(error), startedOver });
  }
};
