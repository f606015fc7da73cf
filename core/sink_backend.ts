/**
 * What a sink's backend implements for the sink runner (core/sink.ts): where
 * events are stored, how stream positions are saved with them, and what a write
 * reports besides storing.
 *
 * @module
 */
import type { CollectorStats } from "./collector.ts";
import type { Event } from "./event.ts";
import type { WireMessage } from "./protocol.ts";
import type { StreamPosition } from "./sequence.ts";
import type { Counters } from "./stats.ts";

/** Where a sink stores events. */
export interface SinkBackend {
  /** Short name for stats (`store`, `mongodb`). */
  readonly name: string;
  /**
   * Stores a batch. Throwing means "not stored, try again later": the runner keeps
   * the batch and retries with backoff, so writes must be idempotent (events carry
   * a stable `_id`, see `eventId`). Return the number of events the
   * backend refused for good (bad data), which are counted as dropped, or a
   * {@linkcode WriteResult} that also says how many it ignored as duplicates.
   */
  write(events: Event[], positions?: StreamPosition[]): Promise<number | WriteResult | void>;
  /**
   * A durable backend implements it to resume its streams after a restart: the
   * positions it holds, saved by `write` from its `positions` argument (each
   * stream's index after the batch's last event, and the gaps below the stream's
   * position to open again, see `StreamPosition.gaps`) together with the batch or
   * right after it, never before (docs/stored.md, "Stream positions"). The
   * runner reads them once before it takes in anything, retrying while it throws.
   */
  positions?(): Promise<StreamPosition[]>;
  /**
   * Saves positions with no events, as `write` saves them with its batch, each
   * only where it moves the saved one forward or changes its gaps (a position's
   * `gaps` replace those saved; absent: none). The runner calls it once at a
   * stop with nothing left buffered, with every stream's index where the wire
   * accounting stands (below it: stored, dropped, or counted lost) and no gaps,
   * so that neither a loss a position announcement revealed nor events dropped
   * at the shutdown are counted again by the next run; and, while idle, with the
   * gaps of streams that had some, once they were filled or counted lost.
   */
  savePositions?(positions: StreamPosition[]): Promise<void>;
  /**
   * A backend that reads BSON bodies itself implements it to take checked but
   * undecoded messages (`Collector.messages()`) instead of `write`'s events:
   * the runner then never decodes. Buffering, batches, retries and accounting
   * are the same, in events (a message is split where the buffer or a batch
   * ends); no `_id` is assigned, and `positions` come from the messages' headers.
   */
  writeMessages?(
    messages: WireMessage[],
    positions?: StreamPosition[],
  ): Promise<number | WriteResult | void>;
  /**
   * How many batches the runner may hand over before the first of them settles
   * (1 when absent): a backend that writes on another thread takes the next batch
   * while it stores the last. Such a backend must store its batches in the order
   * it was given them and, once one fails, fail every later one it was given
   * (until a write after that failure), so that nothing, and no stream position,
   * is stored ahead of a batch the runner will retry.
   */
  readonly concurrency?: number;
  /**
   * Called once, when the collector is open and before the first write, with a
   * reader of the collector's counters (per-stream received, lost, duplicates,
   * malformed), for a backend that shows them.
   */
  start?(wire: () => CollectorStats): void;
  /**
   * The backend's own counters, added to the runner's in its stats line and
   * `eventstorm.stats` events, under names the runner does not use (`clients`).
   */
  counters?(): Counters;
  /** Flushes and releases the backend. */
  close(): Promise<void>;
}

/**
 * What a backend did with a batch besides storing it. Events it ignored because
 * their `_id` was already stored (a replay) count as duplicates, never as stored.
 *
 * @example
 * ```ts
 * import type { WriteResult } from "@eventstorm/core/sink";
 * const result: WriteResult = { rejected: 0, duplicates: 2 };
 * ```
 */
export interface WriteResult {
  /** Events refused for good (bad data), counted as dropped. */
  rejected?: number;
  /** Events not stored because an event with the same `_id` already was. */
  duplicates?: number;
  /**
   * Events of the batch that were not stored because a part of the backend
   * failed (one type's directory), while the others were: the same objects as
   * given to `write` (not `writeMessages`), and why. The runner keeps them, with
   * every later event of their types, apart from the rest, and retries them with
   * backoff while the other types keep being written; they count as buffered,
   * then stored or dropped like any other. Their streams' positions must not be
   * saved by this write. Also when nothing else was stored: a failure of some
   * part (all of the batch's types, maybe) is reported here, a failure of the
   * whole backend is thrown. Only for a backend of concurrency 1.
   */
  failed?: { events: Event[]; error: unknown };
}
