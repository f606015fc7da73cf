/**
 * Writes prepared batches to a store file on a thread of their own, so the
 * sink reads the next batch (the BSON to JSON work) while SQLite commits the
 * last: the two halves of a batch's cost overlap on two cores.
 *
 * @module
 */
import type { StreamPosition } from "@eventstorm/core/sink";
import { type InsertResult, type PreparedBatch, resultOf } from "./store.ts";

/** What the writer thread is asked. */
export type WriterRequest =
  | {
    kind: "commit";
    path: string;
    id: number;
    rows: PreparedBatch["rows"];
    text: Uint8Array<ArrayBuffer>;
    types: string[];
    positions: StreamPosition[];
    resume: boolean;
  }
  | { kind: "close" };

/** What the writer thread answers. */
export type WriterReply =
  | { kind: "result"; id: number; inserted?: number; error?: string }
  | { kind: "closed" };

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

  /** A writer for the store file at `path` (a file: `:memory:` is one connection's own). */
  constructor(path: string) {
    this.#path = path;
  }

  /** Whether every batch handed over has been answered. */
  get idle(): boolean {
    return this.#waiting.size === 0;
  }

  /** Hands `prepared` and `positions` to the thread; settles once they are committed or not. */
  commit(prepared: PreparedBatch, positions: StreamPosition[] = []): Promise<InsertResult> {
    const worker = this.#ensureWorker();
    const id = this.#nextId++;
    const resume = this.#resume;
    this.#resume = false;
    const request: WriterRequest = {
      kind: "commit",
      path: this.#path,
      id,
      rows: prepared.rows,
      text: prepared.text,
      types: prepared.types,
      positions,
      resume,
    };
    const inserted = new Promise<number>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      // The text is the batch's own (RowText.take): handed over, not copied.
      worker.postMessage(request, [prepared.text.buffer]);
    });
    return inserted.then((inserted) => resultOf(prepared, inserted));
  }

  /** Waits for the thread to close its connection, then ends it. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    await new Promise<void>((resolve) => {
      this.#closed = resolve;
      worker.postMessage({ kind: "close" } satisfies WriterRequest);
    });
    worker.terminate();
    this.#worker = undefined;
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
      const error = new Error(`store writer thread failed: ${event.message}`);
      for (const waiting of this.#waiting.values()) waiting.reject(error);
      this.#waiting.clear();
      this.#closed?.();
    };
    this.#worker = worker;
    return worker;
  }
}
