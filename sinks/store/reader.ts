/**
 * Reading a store file: the small interface that `eventstorm query`, the
 * dashboard's history and scripts use, without the writer's side of the store.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import { aggregate, type AggregateOptions, type AggregateResult } from "./aggregate.ts";
import { iterateEvents, type QueryOptions } from "./query.ts";
import { EventStore } from "./store.ts";

/**
 * A store file opened for reading only: nothing is created or written, so a
 * reader can run beside the sink that writes the file.
 *
 * @example
 * ```ts ignore
 * import { StoreReader } from "@eventstorm/sink-store/reader";
 * using store = StoreReader.open("events.db");
 * for (const event of store.events({ type: "http.", since: new Date(Date.now() - 3_600_000) })) {
 *   console.log(event.path);
 * }
 * const perMinute = store.aggregate({ type: "http.hit", every: 60_000, measures: ["count"] });
 * ```
 */
export class StoreReader implements Disposable {
  readonly #store: EventStore;

  private constructor(store: EventStore) {
    this.#store = store;
  }

  /**
   * Opens `path` read-only. Throws when it does not exist or is not a store
   * (the message says which).
   */
  static open(path: string): StoreReader {
    return new StoreReader(EventStore.open(path, { readOnly: true }));
  }

  /** Wraps a store already open (tests, and one process that both writes and reads). */
  static of(store: EventStore): StoreReader {
    return new StoreReader(store);
  }

  /** The events that match `options`, oldest first unless `order` says otherwise, one at a time. */
  events(options: QueryOptions = {}): IterableIterator<Event> {
    return iterateEvents(this.#store, options);
  }

  /** Counts, sums and exact percentiles per time bucket (and group), computed in the database. */
  aggregate(options: AggregateOptions): AggregateResult {
    return aggregate(this.#store, options);
  }

  /** Closes the file. */
  close(): void {
    this.#store.close();
  }

  /** Closes the file (`using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}
