/**
 * The store sink's writer thread: commits prepared rows to its own connection,
 * in the order they come. Once a batch fails, later ones fail too until one
 * marked `resume` arrives, so that no batch (nor a stream position) is stored
 * ahead of one the sink will retry (SinkBackend.concurrency). It loads only
 * SQLite and rows.ts: a thread costs its isolate and what that imports.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { DatabaseSync } from "node:sqlite";
import { connect, messageOf, RowWriter } from "./rows.ts";
import type { WriterReply, WriterRequest } from "./writer.ts";

let db: DatabaseSync | undefined;
let rows: RowWriter | undefined;
let failed = false;

function reply(message: WriterReply): void {
  self.postMessage(message);
}

self.onmessage = (event: MessageEvent<WriterRequest>) => {
  const request = event.data;
  if (request.kind === "close") {
    db?.close();
    db = rows = undefined;
    reply({ kind: "closed" });
    return;
  }
  const { id, path } = request;
  if (request.resume) failed = false;
  if (failed) {
    reply({ kind: "result", id, error: `${path}: not written: an earlier batch failed` });
    return;
  }
  try {
    db ??= connect(path);
    rows ??= new RowWriter(db, path);
    reply({
      kind: "result",
      id,
      inserted: rows.write(request.batch, request.positions),
    });
  } catch (error) {
    failed = true;
    reply({ kind: "result", id, error: messageOf(error) });
  }
};
