/**
 * The store sink's writer thread: commits prepared batches to its own
 * connection, in the order they come. Once one fails, later ones fail too until
 * a batch marked `resume` arrives, so that no batch (nor a stream position) is
 * stored ahead of one the sink will retry (SinkBackend.concurrency).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { StreamPosition } from "@eventstorm/core/sink";
import { EventStore, type PreparedBatch } from "./store.ts";
import type { WriterReply, WriterRequest } from "./writer.ts";

let store: EventStore | undefined;
let failed = false;

function reply(message: WriterReply): void {
  self.postMessage(message);
}

self.onmessage = (event: MessageEvent<WriterRequest>) => {
  const request = event.data;
  if (request.kind === "close") {
    store?.close();
    store = undefined;
    reply({ kind: "closed" });
    return;
  }
  const { id, prepared, positions, resume } = request as {
    id: number;
    prepared: PreparedBatch;
    positions: StreamPosition[];
    resume: boolean;
  };
  if (resume) failed = false;
  if (failed) {
    reply({ kind: "result", id, error: "not written: an earlier batch failed" });
    return;
  }
  try {
    store ??= EventStore.open(request.path);
    reply({ kind: "result", id, result: store.commitPrepared(prepared, positions) });
  } catch (error) {
    failed = true;
    reply({ kind: "result", id, error: error instanceof Error ? error.message : String(error) });
  }
};
