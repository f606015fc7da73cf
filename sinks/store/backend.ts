/**
 * The store as a sink backend: batches from the shared run loop go into one
 * SQLite transaction each; retention runs on a timer.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import type { WireMessage } from "@eventstorm/core/protocol";
import type { SinkBackend, StreamPosition, WriteResult } from "@eventstorm/core/sink";
import { EventStore, type InsertResult } from "./store.ts";
import { StoreWriter } from "./writer.ts";
import { COLUMNS } from "./rows.ts";

/** Rows from which a batch goes to the writer thread. */
const THREAD_MIN_ROWS = 100;

/** Options of {@linkcode StoreBackend}. */
export interface StoreBackendOptions {
  /** Delete events older than this many ms. */
  retainMs?: number;
  /** How often retention runs, in ms. */
  retentionIntervalMs?: number;
  /** Where refused events are explained (first few only); stderr by default. */
  warn?: (line: string) => void;
  /**
   * Commit on a thread of its own (`"thread"`, the default for a file), while the
   * next batch is read, or in the sink's own thread (`"inline"`, always for `:memory:`).
   */
  writer?: "thread" | "inline";
}

/**
 * A {@linkcode SinkBackend} over an {@linkcode EventStore}. A database error
 * rolls the batch back and throws, so the runner retries the batch as a unit.
 * Each batch's stream positions are saved in its transaction: the store skips
 * what they cover (a replay, a second sink on the file), and a restarted sink
 * counts replays as duplicates and what it missed as lost.
 *
 * @example
 * ```ts
 * import { StoreBackend } from "@eventstorm/sink-store";
 * const backend = new StoreBackend(":memory:");
 * await backend.write([{ type: "app.start", time: new Date(), host: "h", _id: "1" }]);
 * await backend.close();
 * ```
 */
export class StoreBackend implements SinkBackend {
  /** Backend name in stats. */
  readonly name = "store";
  readonly #store: EventStore;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  readonly #warn: (line: string) => void;
  readonly #writer: StoreWriter | undefined;
  #warnings = 0;

  /** Opens (or creates) the database file at `path`. */
  constructor(path: string, options: StoreBackendOptions = {}) {
    this.#store = EventStore.open(path, { retain: options.retainMs });
    this.#warn = options.warn ?? ((line) => console.error(line));
    if (path !== ":memory:" && (options.writer ?? "thread") === "thread") {
      this.#writer = new StoreWriter(path);
    }
    if (options.retainMs) {
      this.#store.applyRetention();
      this.#timer = setInterval(
        () => this.#store.applyRetention(),
        options.retentionIntervalMs ?? 60_000,
      );
      Deno.unrefTimer(this.#timer as unknown as number);
    }
  }

  /** Two batches in flight with a writer thread: one committed while the next is read. */
  get concurrency(): number {
    return this.#writer === undefined ? 1 : 2;
  }

  /** The store, for queries in the same process. */
  get store(): EventStore {
    return this.#store;
  }

  /** Stores a batch; returns how many events were refused for good or were duplicates. */
  write(events: Event[], positions?: StreamPosition[]): Promise<WriteResult> {
    return Promise.resolve(this.#report(this.#store.insertBatch(events, positions)));
  }

  /** Saves positions with no events (see `SinkBackend.savePositions`). */
  savePositions(positions: StreamPosition[]): Promise<void> {
    this.#store.insertBatch([], positions);
    return Promise.resolve();
  }

  #report(result: InsertResult): WriteResult {
    for (const [reason, count] of result.problems ?? []) {
      if (this.#warnings++ < 5) this.#warn(`sink store: ${count} events refused: ${reason}`);
    }
    // A transaction stores all or nothing, so an ignored row is a true duplicate.
    return { rejected: result.rejected, duplicates: result.duplicates };
  }

  /**
   * Stores checked, undecoded messages: each document's JSON is read straight
   * from its BSON, so no event object is ever made for it (the runner uses this
   * instead of {@linkcode StoreBackend.write}).
   */
  writeMessages(messages: WireMessage[], positions?: StreamPosition[]): Promise<WriteResult> {
    if (this.#writer === undefined) {
      return Promise.resolve(this.#report(this.#store.insertMessages(messages, positions)));
    }
    const prepared = this.#store.prepareMessages(messages, positions);
    // A small batch (a small --batch-size, a trickle) gains less from the overlap than
    // the trip to the thread costs: with nothing in flight there, it is written here.
    if (prepared.rows.length < THREAD_MIN_ROWS * COLUMNS && this.#writer.idle) {
      return Promise.resolve(this.#report(this.#store.commitPrepared(prepared, positions)));
    }
    // Once committed, the messages are released: the runner does not read them again.
    const committed = this.#writer.commit(prepared, positions, messages);
    return committed.then((result) => this.#report(result));
  }

  /** The stream positions stored with the events (same transaction: never ahead of them). */
  positions(): Promise<StreamPosition[]> {
    return Promise.resolve(this.#store.positions());
  }

  /** Closes the database. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#writer?.close();
    this.#store.close();
  }
}
