/**
 * Writes prepared batches to a store file on a thread of their own, so the
 * sink reads the next batch (the BSON to JSON work) while SQLite commits the
 * last: the two halves of a batch's cost overlap on two cores.
 *
 * @module
 */
import type { StreamPosition } from "@eventstorm/core/sink";
import type { WireMessage } from "@eventstorm/core/protocol";
import type { RowBatch } from "./rows.ts";
import { type InsertResult, type PreparedBatch, resultOf } from "./store.ts";
import { CheckpointThread } from "./checkpoints.ts";

/** What the writer thread is asked. */
export type WriterRequest =
  | {
    kind: "commit";
    path: string;
    id: number;
    batch: RowBatch;
    positions: StreamPosition[];
    resume: boolean;
    /** The checkpoint thread does the checkpoints: SQLite's own in the commits are off. */
    checkpointThread: boolean;
    /** The WAL is full: copy what the checkpoint thread left first, so it starts over. */
    startOver: boolean;
  }
  | { kind: "open"; path: string }
  | { kind: "close" };

/** What the writer thread answers. */
export type WriterReply =
  | {
    kind: "result";
    id: number;
    inserted?: number;
    error?: string;
    /** Told for a commit that was to start the WAL over: whether it will have. */
    startedOver?: boolean;
  }
  | { kind: "closed" };

/**
 * Frees the memory of the message bodies that end in `messages` now, where V8 would
 * free it at its next full collection: a sink's runner reads a message no more once
 * its batch is stored, and holds it long enough (buffered, then in flight) for V8 to
 * move it to the old generation. An nginx hit is about 360 bytes of BSON: at 120,000
 * events/s, 43 MB/s, which piled up as 30-55 MB of dead external memory between full
 * collections (bench e2e). A body that shares its buffer with the rest of its
 * message (split where a batch ended) is released with the last piece, the one
 * that reaches the buffer's end, which is stored after the others.
 *
 * @example
 * ```ts ignore
 * import { releaseBodies } from "./writer.ts";
 * const body = new Uint8Array(16);
 * releaseBodies([{ topic: "a", body, count: 0 }]);
 * body.buffer.detached; // true
 * ```
 */
export function releaseBodies(messages: readonly WireMessage[]): void {
  for (const { body } of messages) {
    const buffer = body.buffer;
    if (
      buffer instanceof ArrayBuffer && !buffer.detached &&
      body.byteOffset + body.byteLength === buffer.byteLength
    ) {
      // Detaching hands the backing store back at once; the 0-byte copy costs nothing.
      buffer.transfer(0);
    }
  }
}

interface Waiting {
  resolve: (inserted: number) => void;
  reject: (error: Error) => void;
}

/**
 * The thread's handle: `commit` resolves with the batch's result or rejects
 * with the database's error, in the order the batches were given. After a
 * rejection, the next commit tells the thread to write again.
 */
export class StoreWriter {
  readonly #path: string;
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #waiting = new Map<number, Waiting>();
  #closed: (() => void) | undefined;
  #resume = false;
  readonly #checkpoints: CheckpointThread;

  /**
   * A writer for the store file at `path` (a file: `:memory:` is one connection's own).
   * Its threads start and connect now: started by a first batch that comes with a
   * burst, they took half a second to come up on two busy cores.
   */
  constructor(path: string, options: { walRestartPages?: number } = {}) {
    this.#path = path;
    this.#ensureWorker();
    this.#checkpoints = new CheckpointThread(path, options.walRestartPages);
  }

  /** Whether the checkpoint thread does the checkpoints (else SQLite, in the commits). */
  get checkpointThread(): boolean {
    return this.#checkpoints.ready;
  }

  /** Whether every batch handed over has been answered. */
  get idle(): boolean {
    return this.#waiting.size === 0;
  }

  /**
   * Hands `prepared` and `positions` to the thread; settles once they are committed or not.
   * Once committed, the bodies of `spent` (the messages `prepared` was read from) are
   * released (see {@linkcode releaseBodies}); after a failure they stay, for the retry.
   */
  commit(
    prepared: PreparedBatch,
    positions: StreamPosition[] = [],
    spent: readonly WireMessage[] = [],
  ): Promise<InsertResult> {
    const worker = this.#ensureWorker();
    const id = this.#nextId++;
    const resume = this.#resume;
    this.#resume = false;
    const request: WriterRequest = {
      kind: "commit",
      path: this.#path,
      id,
      batch: {
        rows: prepared.rows,
        strings: prepared.strings,
        streams: prepared.streams,
        text: prepared.text,
        types: prepared.types,
      },
      positions,
      resume,
      checkpointThread: this.#checkpoints.ready,
      startOver: this.#checkpoints.takeFull(),
    };
    const inserted = new Promise<number>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      // The rows and text are the batch's own (newBatch, EventTranscoder.take): handed
      // over, not copied.
      worker.postMessage(request, [prepared.rows.buffer, prepared.text.buffer]);
    });
    return inserted.then((inserted) => {
      releaseBodies(spent);
      return resultOf(prepared, inserted);
    });
  }

  /** Waits for the threads to close their connections, then ends them. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (worker !== undefined) {
      await new Promise<void>((resolve) => {
        this.#closed = resolve;
        worker.postMessage({ kind: "close" } satisfies WriterRequest);
      });
      worker.terminate();
      this.#worker = undefined;
    }
    await this.#checkpoints.close();
  }

  #ensureWorker(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(new URL("./writer_worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<WriterReply>) => {
      const reply = event.data;
      if (reply.kind === "closed") {
        this.#closed?.();
        return;
      }
      const waiting = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      if (reply.startedOver !== undefined) this.#checkpoints.resume(reply.startedOver);
      this.#checkpoints.committed();
      if (reply.error !== undefined) {
        this.#resume = true;
        waiting?.reject(new Error(reply.error));
      } else waiting?.resolve(reply.inserted!);
    };
    worker.onerror = (event) => {
      // The thread is gone: what it held was not committed.
      event.preventDefault();
      this.#worker = undefined;
      this.#resume = true;
      // A start-over it was told of is not coming: the checkpoint thread copies again.
      this.#checkpoints.resume(false);
      const error = new Error(`store writer thread failed: ${event.message}`);
      for (const waiting of this.#waiting.values()) waiting.reject(error);
      this.#waiting.clear();
      this.#closed?.();
    };
    worker.postMessage({ kind: "open", path: this.#path } satisfies WriterRequest);
    this.#worker = worker;
    return worker;
  }
}
