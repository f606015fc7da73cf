/**
 * The store sink's checkpoint thread (its handle: checkpoints.ts): copies what
 * the writer thread committed to the WAL into the database file beside the
 * writer rather than in its way. SQLite's own checkpoint runs in the commit that fills
 * the WAL past 1000 pages, so every eighth batch of 4000 events took 35-50 ms
 * instead of 7 (the copy and its two fsyncs) while the sink's batches waited.
 *
 * Its checkpoints are PASSIVE: they never block the writer. But the WAL starts
 * over only at a commit that finds all of it copied, which a writer that never
 * pauses never does while this thread copies beside it. So once the WAL holds
 * `restartPages` pages (4096, 64 MiB) this thread says `full` and stops; the
 * writer copies the little that is left itself before its next commit, which
 * then starts the WAL over, and the sink's main thread says `resume`. (A
 * RESTART checkpoint from here would wait for a gap between the writer's
 * transactions: 130-240 ms each time, on the bench.)
 *
 * It loads only SQLite and rows.ts.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { connect, messageOf } from "./rows.ts";
import type { CheckpointReply, CheckpointRequest } from "./checkpoints.ts";

/** Pages in the WAL past which it should start over (see CheckpointThread). */
let restartPages = Infinity;

let db: DatabaseSync | undefined;
let passive: StatementSync | undefined;
/** Commits were noted since the last checkpoint. */
let due = false;
/** The WAL's pages when this thread last said `full`, 0 once it started over. */
let fullAt = 0;
/** Said `full`, and waits for `resume`. */
let paused = false;

function reply(message: CheckpointReply): void {
  self.postMessage(message);
}

function closeConnection(): void {
  db?.close();
  db = passive = undefined;
}

/** One checkpoint for all the commits noted since the last. */
function checkpoint(): void {
  due = false;
  if (passive === undefined || paused) return;
  try {
    const { log } = passive.get() as { log: number };
    // After a start-over that did not happen (a reader's snapshot still needed the
    // WAL), again only once the WAL has grown as much again.
    if (log >= fullAt + restartPages) {
      fullAt = log;
      paused = true;
      reply({ kind: "full" });
    }
  } catch (error) {
    closeConnection();
    reply({ kind: "failed", error: messageOf(error) });
  }
}

self.onmessage = (event: MessageEvent<CheckpointRequest>) => {
  const request = event.data;
  switch (request.kind) {
    case "open":
      try {
        restartPages = request.restartPages;
        db = connect(request.path);
        passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
        reply({ kind: "ready" });
      } catch (error) {
        closeConnection();
        reply({ kind: "failed", error: messageOf(error) });
      }
      return;
    case "committed":
      // The commits noted while a checkpoint ran wait in this thread's queue: a
      // zero timer runs after them, so they make one checkpoint, not one each.
      if (!due) {
        due = true;
        setTimeout(checkpoint, 0);
      }
      return;
    case "resume":
      paused = false;
      if (request.startedOver) fullAt = 0;
      return;
    case "close":
      closeConnection();
      reply({ kind: "closed" });
  }
};
