/**
 * The run loop every sink shares: receive, buffer (bounded), write in batches
 * with retries and backoff, and account for every event exactly:
 * `received = stored + duplicates + dropped (by reason) + buffered`, at every moment.
 *
 * @module
 */
import { Collector, type CollectorOptions, type EventBatch } from "./collector.ts";
import type { Event } from "./event.ts";
import { eventId, parseEventId, positionsOf } from "./event_ids.ts";
import { FailureLog } from "./failure_log.ts";
import type { WireMessage } from "./protocol.ts";
import { GAP_HOLD_MS, type StreamPosition } from "./sequence.ts";
import type { SinkBackend, WriteResult } from "./sink_backend.ts";
import { type Held, HeldEvents, HeldMessages, type Taken } from "./sink_buffer.ts";
import type { Counters } from "./stats.ts";
import { addRange, inRanges, intersectRanges, rangesLength, removeRange } from "./ranges.ts";
import { sleep } from "./sleep.ts";
import { nextTurn, Turns } from "./turns.ts";

/**
 * What to do when the buffer is full: drop the newest or the oldest events
 * (counted as `dropped_full`), or `block`: stop taking from the collector until
 * the writer makes room, so that libzmq's receive queue and then the sender's
 * (the router's per-sink queue, `--sink-hwm`) hold the burst, and only past
 * those are events lost, counted on the wire (`lost`).
 */
export type WhenFull = "drop-newest" | "drop-oldest" | "block";

/** Options of {@linkcode SinkRunner}. */
export interface SinkRunnerOptions {
  /**
   * Where to receive from and which topics. A sink holds gaps for
   * {@linkcode GAP_HOLD_MS} unless `gapHoldMs` says otherwise, whatever the endpoints.
   */
  collector: CollectorOptions;
  /** Events held while the backend is slow or down. */
  bufferEvents?: number;
  /**
   * BSON body bytes held at most, besides `bufferEvents` (default 64 MiB): events
   * of 4 KB would otherwise fill a sink's memory long before the event bound.
   * A single message larger than this is still taken in when nothing is held.
   */
  bufferBytes?: number;
  /** Which events to give up when the buffer is full (either bound), or `block`. Default drop-newest. */
  whenFull?: WhenFull;
  /** Events per backend write at most. */
  batchSize?: number;
  /** First retry delay in ms; doubles up to `maxRetryMs`. */
  retryMs?: number;
  /** Longest retry delay in ms. */
  maxRetryMs?: number;
  /**
   * How long the whole shutdown may take after the signal, in ms: taking in what
   * is already on its way (5 s at most), then storing the buffer, retries and
   * their backoff included. At the deadline, what is buffered or in a write not
   * settled yet counts as dropped at shutdown.
   */
  shutdownTimeoutMs?: number;
  /**
   * Give every event a stable `_id` from its stream position, replacing any `_id`
   * its sender put (an event without a position loses a sender's `_id`, and the
   * backend gives it a fresh one). Default true.
   */
  assignIds?: boolean;
  /**
   * Where the runner says why the backend fails: one line per distinct error
   * while it fails, and one when writes succeed again. Default: stderr.
   */
  log?: (line: string) => void;
  /** What those lines start with. Default `sink NAME` (the backend's name). */
  label?: string;
}

/** Counters of a sink. */
export interface SinkStats {
  /** Events received from the wire. */
  received: number;
  /** Events the backend stored. */
  stored: number;
  /** Events held now. */
  buffered: number;
  /**
   * Events dropped because the buffer was full (for a durable sink, once a
   * stream position past them is saved: see `droppedUnsaved`).
   */
  droppedFull: number;
  /**
   * Events dropped because the buffer was full that move into `droppedFull`
   * once a stream position past them is saved: a gauge, as `lostUnsaved`.
   */
  droppedUnsaved: number;
  /** Events the backend refused for good. */
  droppedRejected: number;
  /** Events still buffered when the shutdown timeout ran out. */
  droppedShutdown: number;
  /** Failed backend writes (each retried). */
  writeErrors: number;
  /** Last backend error message. */
  lastError?: string;
  /** Mean backend write latency, ms. */
  latencyMsAvg: number;
  /** Largest backend write latency, ms. */
  latencyMsMax: number;
  /** Events lost on the wire (stream index gaps). */
  lostOnWire: number;
  /**
   * Events counted lost on the wire that move into `lostOnWire` once a stream
   * position past them is saved (docs/stored.md): a gauge, so that a loss shows
   * while the backend cannot save.
   */
  lostUnsaved: number;
  /** Replays skipped on the wire. */
  duplicatesOnWire: number;
  /** Malformed messages dropped on the wire. */
  malformed: number;
  /** Documents rejected on the wire one by one (bad envelope, type not the topic, too deep). */
  rejectedOnWire: number;
  /** Events the backend already held under the same `_id` (replays), not stored again. */
  duplicates: number;
}

/** The default of `SinkRunnerOptions.bufferBytes`. */
const DEFAULT_BUFFER_BYTES = 64 * 1024 ** 2;

/** How long a stop that timed out still tries to save the stream positions, ms at most. */
const LATE_SAVE_MS = 2000;

/** How often an idle writer saves again the gaps of streams that had some. */
const GAPS_SAVED_EVERY_MS = 1000;

function streamKey(source: bigint, topic: string): string {
  return `${source.toString(16)}-${topic}`;
}

/** A stream and a range of its indexes: `[first, first + count)`. */
interface StreamIndexes {
  source: bigint;
  topic: string;
  first: number;
  count: number;
}

/**
 * The stream indexes of a held message (from its header) or event (from its
 * `_id`); undefined for one without. `message` says which the item is: an
 * event may have any field.
 */
function indexesOf(item: Event | WireMessage, message: boolean): StreamIndexes | undefined {
  if (message) {
    const { header, topic, count } = item as WireMessage;
    return header && { source: header.source, topic, first: header.first, count };
  }
  const parsed = parseEventId((item as Event)._id);
  return parsed && { source: parsed.source, topic: parsed.topic, first: parsed.index, count: 1 };
}

/**
 * Takes out of a stream's ranges in `unsaved` what a position `next` saved with
 * `gaps` leaves neither open nor ahead; returns how many indexes went.
 */
function savedOf(
  unsaved: Map<string, number[]>,
  key: string,
  next: number,
  gaps: readonly number[],
): number {
  const ranges = unsaved.get(key);
  if (ranges === undefined) return 0;
  // The gaps all lie below `next`: the two parts are apart and in order.
  const left = [...intersectRanges(ranges, gaps), ...removeRange(ranges, 0, next)];
  if (left.length > 0) unsaved.set(key, left);
  else unsaved.delete(key);
  return rangesLength(ranges) - rangesLength(left);
}

/** What the runner asks of the backend, as its failure lines name it. */
const WRITING = "writing";
const READING_POSITIONS = "reading the saved stream positions";

/** Why the runner stopped waiting for a write: the shutdown's deadline passed. */
const PAST_DEADLINE = Symbol("past the shutdown deadline");

/** A batch handed to the backend, not settled yet. */
interface Written {
  batch: Taken<Event | WireMessage>;
  /** Taken from the events set apart after a partial failure. */
  deferred: boolean;
  /** The fills among its events (see `SinkRunner.#fills`), held again if it fails. */
  fills?: Map<string, number[]>;
  /** Its streams with gaps, their positions and the gaps saved with them, stored once it is. */
  gapped?: GappedPosition[];
  started: number;
  result: Promise<number | WriteResult | void>;
}

/** A position of a stream with gaps handed to the backend with a batch. */
interface GappedPosition {
  key: string;
  topic: string;
  next: number;
  /** The gaps saved with it (none: empty). */
  gaps: readonly number[];
}

/** Each stream's position after `messages`, from their headers. */
function positionsOfMessages(messages: readonly WireMessage[], at = Date.now()): StreamPosition[] {
  const byStream = new Map<string, StreamPosition>();
  for (const { topic, header } of messages) {
    if (header === undefined) continue;
    const key = `${header.source}/${topic}`;
    const next = header.first + header.count;
    const known = byStream.get(key);
    if (known === undefined) byStream.set(key, { source: header.source, topic, next, at });
    else known.next = Math.max(known.next, next);
  }
  return [...byStream.values()];
}

/**
 * Runs a sink: a {@linkcode Collector} feeds a bounded buffer; a writer drains it
 * into the backend in batches and retries with exponential backoff while the
 * backend is down. An outage costs nothing that fits in the buffer; beyond that
 * the drops are counted by reason, or with `whenFull: "block"` receiving waits
 * for room and the sender's queues hold the rest (what they lose is `lost`).
 *
 * @example
 * ```ts ignore
 * import { SinkRunner } from "@eventstorm/core/sink";
 * const runner = new SinkRunner({ name: "null", write: async () => {}, close: async () => {} },
 *   { collector: { endpoints: ">tcp://127.0.0.1:5556" } });
 * await runner.run(AbortSignal.timeout(1000));
 * ```
 */
export class SinkRunner {
  readonly #backend: SinkBackend;
  readonly #options: Required<Omit<SinkRunnerOptions, "collector" | "log" | "label">>;
  readonly #collectorOptions: CollectorOptions;
  #collector: Collector | undefined;
  // Whole messages for a backend that takes them undecoded, else events.
  readonly #buffer: Held<Event[], Event> | Held<WireMessage, WireMessage>;
  #inFlight = 0;
  /** Body bytes of the events in `#inFlight`. */
  #inFlightBytes = 0;
  /** The writer is giving timers a turn (see `#stepOut`). */
  #writerStepsOut = false;
  #wakeWriter: (() => void) | undefined;
  /** Wakes the reader that waits for room (`block`): the writer settled or gave up events. */
  #wakeReader: (() => void) | undefined;
  /** The collector's clock. */
  readonly #clock: () => number;
  /** How long the reader waited for room (`block`) in all, and since when it waits now. */
  #blockedMs = 0;
  #blockedSince: number | undefined;
  #latencyTotal = 0;
  readonly #turns = new Turns({ clockEvery: 1 });
  #writes = 0;
  /** Events of types whose writing failed while others' succeeded, retried apart (oldest first). */
  readonly #deferred = new HeldEvents();
  /** How many events of each type `#deferred` holds: later ones of those types join them. */
  readonly #deferredTypes = new Map<string, number>();
  /**
   * Late copies that fill a gap another path left (protocol.md 5.2), taken in but
   * not handed to the backend yet, per `<source hex>-<topic>`, as flat `[from, to)`
   * pairs: below positions already saved, so saved with them as gaps.
   */
  readonly #fills = new Map<string, number[]>();
  /**
   * Per stream with gaps, the highest position handed to the backend (or read at
   * start): a batch of late copies has a lower one, its gaps reach up to this.
   */
  readonly #handedNext = new Map<string, number>();
  /** The same, of what the backend has stored: where the gaps saved apart from a batch reach. */
  readonly #storedNext = new Map<string, number>();
  /** The streams with gaps of the batch being handed over, and their positions. */
  #handing: GappedPosition[] = [];
  /** Streams whose saved gaps may be stale: saved again when the writer is idle. */
  readonly #gapped = new Map<string, { source: bigint; topic: string }>();
  /** When the writer last looked at `#gapped`. */
  #gapsCheckedAt = 0;
  /** A gap of a stream in `#gapped` was counted lost, or a fill dropped: save the gaps now. */
  #gapsChanged = false;
  /**
   * Per stream of `#gapped`, the ranges the collector counted lost that gaps
   * saved (or being saved) may still hold open, as flat `[from, to)` pairs: a
   * kill -9 would bring them back, for the next run to count. So `lostOnWire`
   * leaves them out until gaps without them are saved.
   */
  readonly #lostUnsaved = new Map<string, number[]>();
  /** Indexes in `#lostUnsaved`. */
  #lostUnsavedCount = 0;
  /**
   * The same of events dropped at a full buffer: until a position past them
   * is saved, a kill -9 would have the next run count them lost as well.
   */
  readonly #droppedUnsaved = new Map<string, number[]>();
  /** Indexes in `#droppedUnsaved`. */
  #droppedUnsavedCount = 0;
  /**
   * The streams of `#lostUnsaved` and `#droppedUnsaved`: a position past their
   * ranges is saved once the stream's events received before them are stored,
   * when no batch of the stream does it first (a tail only an announcement
   * showed, or that the buffer dropped).
   */
  readonly #unsavedStreams = new Map<string, { source: bigint; topic: string }>();
  /** When the writer last looked at `#unsavedStreams`. */
  #unsavedCheckedAt = 0;
  /** Whether a loss waits for a saved position before it counts (see `#gapLost`). */
  readonly #lossWaitsForSave: boolean;
  /** When `#deferred` is retried next, and the backoff after that. */
  #deferredAt = 0;
  #deferredDelay = 0;
  /** When the shutdown gives up on what is left (the signal's time + the timeout). */
  #shutdownDeadline = Infinity;
  /** Aborted at `#shutdownDeadline`: wakes a retry's backoff and a write in flight. */
  readonly #deadline = new AbortController();
  readonly #failures: FailureLog;
  readonly #stats: SinkStats = {
    received: 0,
    stored: 0,
    buffered: 0,
    droppedFull: 0,
    droppedUnsaved: 0,
    droppedRejected: 0,
    droppedShutdown: 0,
    writeErrors: 0,
    latencyMsAvg: 0,
    latencyMsMax: 0,
    lostOnWire: 0,
    lostUnsaved: 0,
    duplicatesOnWire: 0,
    malformed: 0,
    rejectedOnWire: 0,
    duplicates: 0,
  };

  /** Creates a runner for `backend`. */
  constructor(backend: SinkBackend, options: SinkRunnerOptions) {
    this.#backend = backend;
    // What a sink stores keeps every int64 an int64, within ±2^53 too (docs/protocol.md 2.9).
    const onGapLost = options.collector.onGapLost;
    this.#clock = options.collector.gapClock ?? options.collector.clock ?? Date.now;
    this.#collectorOptions = {
      useBigInt64: true,
      ...options.collector,
      // One router is two paths for a while too: a source that restarts and resumes its
      // stream while the router still holds its old connection's messages sends ahead of
      // them, interleaved. Not held, the older ones were counted lost and then skipped as
      // replays (docs/protocol.md 5.2).
      gapHoldMs: options.collector.gapHoldMs ?? GAP_HOLD_MS,
      // Blocked on a full buffer, the sink reads nothing: what waits in the queues then
      // may be the late copies a gap waits for, so its hold waits too.
      gapClock: () => this.#gapClock(),
      onGapLost: (source, topic, from, to) => {
        this.#gapLost(source, topic, from, to);
        onGapLost?.(source, topic, from, to);
      },
    };
    this.#buffer = backend.writeMessages ? new HeldMessages() : new HeldEvents();
    // Positions are kept (see `run`) and can be saved with no events.
    this.#lossWaitsForSave = backend.positions !== undefined &&
      backend.savePositions !== undefined &&
      (options.assignIds !== false || backend.writeMessages !== undefined);
    this.#options = {
      bufferEvents: options.bufferEvents ?? 100_000,
      bufferBytes: options.bufferBytes ?? DEFAULT_BUFFER_BYTES,
      whenFull: options.whenFull ?? "drop-newest",
      batchSize: options.batchSize ?? 1000,
      retryMs: options.retryMs ?? 100,
      maxRetryMs: options.maxRetryMs ?? 5000,
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000,
      assignIds: options.assignIds ?? true,
    };
    this.#failures = new FailureLog(
      options.label ?? `sink ${backend.name}`,
      options.log ?? ((line) => console.error(line)),
    );
  }

  /** Opens the collector now (so a caller can learn a bound port before `run`). */
  async open(): Promise<Collector> {
    this.#collector ??= await Collector.open(this.#collectorOptions);
    return this.#collector;
  }

  /** Receives and stores until `signal` aborts, then drains the buffer and closes. */
  async run(signal: AbortSignal): Promise<SinkStats> {
    const collector = await this.open();
    const messages = this.#backend.writeMessages !== undefined;
    // Positions are read from the ids the runner assigns (or the headers of
    // undecoded messages): without them, none are kept.
    if (this.#backend.positions !== undefined && (this.#options.assignIds || messages)) {
      const positions = await this.#loadPositions(signal);
      if (positions !== undefined) {
        for (const { source, topic, next, gaps } of positions) {
          if (gaps === undefined || gaps.length === 0) continue;
          const key = streamKey(source, topic);
          this.#handedNext.set(key, Math.max(next, this.#handedNext.get(key) ?? 0));
          this.#storedNext.set(key, Math.max(next, this.#storedNext.get(key) ?? 0));
          this.#gapped.set(key, { source, topic });
        }
        // After the above: a saved gap the collector counts lost as it opens them
        // (too many) is still saved open (see `#gapLost`).
        collector.resume(positions);
      }
    }
    this.#backend.start?.(() => collector.stats());
    let receiving = true;
    // Take in what is already on its way before closing: those events are stored
    // (or counted) rather than discarded with the socket.
    // The whole shutdown (taking in, then storing, retries and their backoff
    // included) ends the timeout after the signal: the deadline starts there.
    let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      const timeout = this.#options.shutdownTimeoutMs;
      this.#shutdownDeadline = Date.now() + timeout;
      deadlineTimer = setTimeout(() => this.#deadline.abort(), timeout);
      collector.finish({ maxMs: Math.min(5000, timeout) });
    };
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
    const writer = this.#writeLoop(() => receiving);
    const blocking = this.#options.whenFull === "block";
    try {
      if (messages) {
        for await (const message of collector.messages()) {
          if (blocking) await this.#room(message.count, message.body.length);
          this.#acceptMessage(message);
          if (this.#writerStepsOut) await this.#stepOut();
        }
      } else {
        for await (const batch of collector.batches()) {
          if (blocking) await this.#room(batch.events.length, batch.bytes ?? 0);
          this.#accept(batch);
          if (this.#writerStepsOut) await this.#stepOut();
        }
      }
    } finally {
      receiving = false;
      signal.removeEventListener("abort", onAbort);
      await collector.close();
      this.#wakeWriter?.();
      await writer;
      clearTimeout(deadlineTimer);
      await this.#saveWirePositions(collector);
      await this.#backend.close();
    }
    return this.stats();
  }

  /**
   * At a stop, moves each stream's saved position to the index the wire
   * accounting expects next: below it every event is stored or counted (lost,
   * or dropped, `dropped_shutdown` included), and no gap is left open (the
   * collector counted them lost as it closed). A position follows stored events,
   * so without this a stream's tail that only an announcement showed lost (the
   * router repeats them for a while) would be counted lost again by the next run,
   * and so would events dropped at a shutdown that timed out: a replay of them
   * now counts as duplicates, as of any dropped event.
   */
  async #saveWirePositions(collector: Collector): Promise<void> {
    const save = this.#backend.savePositions;
    if (save === undefined || this.stats().buffered > 0) return;
    const at = Date.now();
    const positions = collector.stats().streams.map(({ source, topic, expected }) => ({
      source: BigInt(source),
      topic,
      next: expected,
      at,
    }));
    if (positions.length === 0) return;
    // Past the deadline the backend is likely what held the shutdown up: one bounded try.
    const late = this.#deadline.signal.aborted;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const saving = save.call(this.#backend, positions);
    try {
      if (!late) await saving;
      else {
        const bound = Math.min(LATE_SAVE_MS, this.#options.shutdownTimeoutMs);
        const timedOut = new Promise<void>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${bound} ms`)), bound);
        });
        saving.catch(() => {});
        await Promise.race([saving, timedOut]);
      }
      for (const { source, topic, next } of positions) {
        this.#gapsSaved(streamKey(source, topic), next, []);
      }
    } catch (error) {
      // The positions stay behind: the next run counts such a tail, or the events
      // dropped at the shutdown, lost as well (twice in all), nothing worse.
      this.#stats.lastError = this.#failures.failed("saving the stream positions", error);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reads the backend's saved positions, retrying with backoff while it fails;
   * undefined when the sink is stopped first. Meanwhile libzmq queues what
   * arrives (up to its high-water mark; beyond, the gap is counted as lost).
   */
  async #loadPositions(signal: AbortSignal): Promise<StreamPosition[] | undefined> {
    let delay = this.#options.retryMs;
    while (!signal.aborted) {
      try {
        const positions = await this.#backend.positions!();
        this.#failures.succeeded(READING_POSITIONS);
        return positions;
      } catch (error) {
        this.#stats.writeErrors++;
        this.#stats.lastError = this.#failures.failed(READING_POSITIONS, error);
        await sleep(delay, signal);
        delay = Math.min(delay * 2, this.#options.maxRetryMs);
      }
    }
    return undefined;
  }

  #accept(batch: EventBatch): void {
    const events = batch.events;
    if (this.#options.assignIds) {
      // `_id` belongs to the sink: a sender's own would let it squat the id derived
      // for another source's event (which the database would then ignore).
      if (batch.source !== undefined) {
        for (let i = 0; i < events.length; i++) {
          events[i]._id = eventId(batch.source, batch.topic, batch.first! + i);
        }
      } else {
        for (const event of events) delete event._id;
      }
    }
    this.#admit(
      this.#buffer as Held<Event[], Event>,
      events,
      events.length,
      batch.bytes ?? 0,
      batch.source === undefined
        ? undefined
        : { source: batch.source, topic: batch.topic, first: batch.first! },
      batch.fill === true,
    );
  }

  #acceptMessage(message: WireMessage): void {
    const header = message.header;
    this.#admit(
      this.#buffer as Held<WireMessage, WireMessage>,
      message,
      message.count,
      message.body.length,
      header === undefined
        ? undefined
        : { source: header.source, topic: message.topic, first: header.first },
      message.fill === true,
    );
  }

  /**
   * Holds the `count` events of `unit` (`bytes` of body), or as many as the
   * buffer's bounds and policy keep; `stream`, their stream and the index of the
   * first when they have indexes, and `fills` when they fill a gap of it.
   */
  #admit<Unit>(
    buffer: Held<Unit, unknown>,
    unit: Unit,
    count: number,
    bytes: number,
    stream: { source: bigint; topic: string; first: number } | undefined,
    fills: boolean,
  ): void {
    this.#stats.received += count;
    const { bufferEvents, bufferBytes } = this.#options;
    const each = count > 0 ? bytes / count : 0;
    // Blocking, the reader waited for room (see `#room`), or the shutdown's deadline passed.
    const room = this.#options.whenFull === "block" ? count : this.#fits(each);
    let from = 0, to = count;
    if (count <= room) {
      buffer.hold(unit, 0, count, bytes);
    } else if (this.#options.whenFull === "drop-newest") {
      if (room > 0) buffer.hold(unit, 0, room, each * room);
      to = room;
      this.#stats.droppedFull += count - room;
      if (stream !== undefined) {
        this.#droppedUntilSaved(
          stream.source,
          stream.topic,
          stream.first + room,
          stream.first + count,
        );
      }
    } else {
      // The newest events of the unit the bounds can hold at all, and the oldest
      // of the buffer that make room for them (those handed over are out of reach).
      const most = Math.min(
        count,
        bufferEvents,
        each > 0 ? Math.max(1, Math.floor(bufferBytes / each)) : count,
      );
      const needEvents = most - Math.max(0, bufferEvents - this.#heldEvents());
      const needBytes = most * each - Math.max(0, bufferBytes - this.#heldBytes());
      const dropped = needEvents > 0 || needBytes > 0
        ? buffer.take(Math.max(0, needEvents), Math.max(0, needBytes))
        : { items: [], count: 0 };
      // Dropped, they are counted: no longer gaps to save (at once: the gaps saved hold them).
      if (this.#fills.size > 0) {
        const removed = new Map<string, number[]>();
        this.#unfill(dropped.items as (Event | WireMessage)[], removed);
        if (removed.size > 0) this.#changedGaps();
      }
      const keep = Math.min(most, this.#fits(each));
      from = count - keep;
      if (keep > 0) buffer.hold(unit, from, count, each * keep);
      this.#stats.droppedFull += dropped.count + from;
      this.#droppedItemsUntilSaved(dropped.items as (Event | WireMessage)[]);
      if (stream !== undefined && from > 0) {
        this.#droppedUntilSaved(stream.source, stream.topic, stream.first, stream.first + from);
      }
    }
    if (stream !== undefined && fills) {
      const key = streamKey(stream.source, stream.topic);
      if (from < to) {
        const ranges = this.#fills.get(key) ?? [];
        this.#fills.set(key, addRange(ranges, stream.first + from, stream.first + to));
      }
      if (to - from < count) this.#changedGaps();
    }
    this.#wakeWriter?.();
  }

  #heldEvents(): number {
    return this.#buffer.length + this.#deferred.length + this.#inFlight;
  }

  #heldBytes(): number {
    return this.#buffer.bytes + this.#deferred.bytes + this.#inFlightBytes;
  }

  /**
   * How many events of `each` bytes fit beside those held. Into an empty buffer
   * one goes in whatever its size: a message larger than the byte bound could
   * never be stored otherwise (nor, blocking, ever be let through).
   */
  #fits(each: number): number {
    const { bufferEvents, bufferBytes } = this.#options;
    const held = this.#heldEvents();
    let n = Math.max(0, bufferEvents - held);
    if (each > 0) {
      n = Math.min(n, Math.max(0, Math.floor((bufferBytes - this.#heldBytes()) / each)));
    }
    return held === 0 ? Math.max(1, n) : n;
  }

  /**
   * Waits (`block`) until `count` events of `bytes` fit in the buffer, all of
   * them, or nothing is held (a unit larger than the bounds goes in alone), or
   * the shutdown's deadline passed (what is left then counts as dropped there).
   */
  async #room(count: number, bytes: number): Promise<void> {
    const deadline = this.#deadline.signal;
    const { bufferEvents, bufferBytes } = this.#options;
    const fits = () =>
      this.#heldEvents() === 0 ||
      (this.#heldEvents() + count <= bufferEvents && this.#heldBytes() + bytes <= bufferBytes);
    while (!fits() && !deadline.aborted) {
      this.#blockedSince ??= this.#clock();
      let onDeadline = () => {};
      await new Promise<void>((resolve) => {
        this.#wakeReader = resolve;
        onDeadline = () => resolve();
        deadline.addEventListener("abort", onDeadline, { once: true });
      });
      deadline.removeEventListener("abort", onDeadline);
      this.#wakeReader = undefined;
    }
    if (this.#blockedSince !== undefined) {
      this.#blockedMs += this.#clock() - this.#blockedSince;
      this.#blockedSince = undefined;
    }
  }

  /** The collector's clock, stopped while the reader waits for room (see the constructor). */
  #gapClock(): number {
    const now = this.#clock();
    return now - this.#blockedMs -
      (this.#blockedSince === undefined ? 0 : now - this.#blockedSince);
  }

  /**
   * Forgets the fills among `items` (handed to the backend, or dropped and
   * counted); returns how many events the items hold.
   */
  #unfill(items: readonly (Event | WireMessage)[], removed?: Map<string, number[]>): number {
    // Whole messages for a backend that takes them.
    const messages = this.#buffer instanceof HeldMessages;
    let count = 0;
    for (const item of items) {
      count += messages ? (item as WireMessage).count : 1;
      if (this.#fills.size === 0) continue;
      const held = indexesOf(item, messages);
      if (held === undefined) continue;
      const key = streamKey(held.source, held.topic);
      this.#removeFill(key, held.first, held.first + held.count, removed);
    }
    return count;
  }

  /** Forgets `[from, to)` of a stream's fills; adds what it forgot to `removed`. */
  #removeFill(key: string, from: number, to: number, removed?: Map<string, number[]>): void {
    const ranges = this.#fills.get(key);
    if (ranges === undefined) return;
    if (removed !== undefined) {
      for (let i = 0; i < ranges.length; i += 2) {
        const a = Math.max(from, ranges[i]), b = Math.min(to, ranges[i + 1]);
        if (a < b) removed.set(key, addRange(removed.get(key) ?? [], a, b));
      }
    }
    const left = removeRange(ranges, from, to);
    if (left.length > 0) this.#fills.set(key, left);
    else this.#fills.delete(key);
  }

  /**
   * Holds again as fills those of a batch that was not stored: all of them, or
   * those among `only` (the events a partial failure gives back).
   */
  #refill(fills: Map<string, number[]> | undefined, only?: readonly Event[]): void {
    if (fills === undefined) return;
    const add = (key: string, from: number, to: number) =>
      this.#fills.set(key, addRange(this.#fills.get(key) ?? [], from, to));
    if (only === undefined) {
      for (const [key, ranges] of fills) {
        for (let i = 0; i < ranges.length; i += 2) add(key, ranges[i], ranges[i + 1]);
      }
      return;
    }
    for (const event of only) {
      const parsed = parseEventId(event._id);
      if (parsed === undefined) continue;
      const key = streamKey(parsed.source, parsed.topic);
      const ranges = fills.get(key);
      if (ranges !== undefined && inRanges(ranges, parsed.index)) {
        add(key, parsed.index, parsed.index + 1);
      }
    }
  }

  /**
   * What to save as a stream's gaps with a position: below `next`, the gaps the
   * collector holds open and the fills not handed to the backend yet.
   */
  #gapsBelow(source: bigint, topic: string, key: string, next: number): number[] {
    let gaps = this.#collector?.gapsOf(source, topic) ?? [];
    const fills = this.#fills.get(key);
    if (fills !== undefined) {
      for (let i = 0; i < fills.length; i += 2) {
        gaps = addRange(gaps, fills[i], fills[i + 1]);
      }
    }
    const clipped: number[] = [];
    for (let i = 0; i < gaps.length && gaps[i] < next; i += 2) {
      clipped.push(gaps[i], Math.min(gaps[i + 1], next));
    }
    return clipped;
  }

  /**
   * Adds to each position the gaps to save with it (see `StreamPosition.gaps`),
   * absent for none, and notes what was handed over.
   */
  #withGaps(positions: StreamPosition[]): StreamPosition[] {
    for (const position of positions) {
      const key = streamKey(position.source, position.topic);
      const next = Math.max(position.next, this.#handedNext.get(key) ?? 0);
      const gaps = this.#gapsBelow(position.source, position.topic, key, next);
      // Kept only while a stream has gaps: before any, batches come in index order, so
      // the batch's own position is the highest (and a peer's many streams cost nothing).
      if (gaps.length > 0 || this.#gapped.has(key)) {
        this.#handedNext.set(key, next);
        this.#handing.push({ key, topic: position.topic, next, gaps });
      } else {
        this.#handedNext.delete(key);
        // Stored, the position shows the loss counted for good (see `#gapLost`).
        if (this.#unsavedStreams.has(key)) {
          this.#handing.push({ key, topic: position.topic, next, gaps });
        }
      }
      // Absent is none: a backend clears the gaps it saved before.
      if (gaps.length === 0) continue;
      position.gaps = gaps;
      this.#gapped.set(key, { source: position.source, topic: position.topic });
    }
    return positions;
  }

  /** Notes the positions of a batch stored, but for the types of `failed` events. */
  #noteStored(gapped: GappedPosition[] | undefined, failed?: readonly Event[]): void {
    if (gapped === undefined) return;
    const failedTypes = new Set(failed?.map((event) => event.type));
    for (const { key, topic, next, gaps } of gapped) {
      if (failedTypes.has(topic)) continue;
      this.#gapsSaved(key, next, gaps);
      if (!this.#handedNext.has(key)) continue;
      this.#storedNext.set(key, Math.max(next, this.#storedNext.get(key) ?? 0));
    }
  }

  /**
   * The collector counted `[from, to)` of a stream lost: a gap past its hold, or
   * an index jump. Until a position is saved that neither holds it open as a gap
   * nor stands below it, a kill -9 would bring it back for the next run to count
   * again, so it counts (in `lostOnWire`) once such a position is saved: with a
   * batch of the stream's later events, with the gaps the writer saves now for a
   * stream that has some, or on its own once the events received before it are
   * stored (see `#saveUnsaved`).
   */
  #gapLost(source: bigint, topic: string, from: number, to: number): void {
    if (!this.#lossWaitsForSave) return;
    this.#lostUnsavedCount += this.#untilSaved(this.#lostUnsaved, source, topic, from, to);
  }

  /**
   * Events `[from, to)` of a stream were dropped at a full buffer: as a loss
   * (see `#gapLost`), they count (in `droppedFull`) once a position past them
   * is saved, so that a kill -9 before that cannot have the next run count
   * them lost as well.
   */
  #droppedUntilSaved(source: bigint, topic: string, from: number, to: number): void {
    if (!this.#lossWaitsForSave || from >= to) return;
    this.#droppedUnsavedCount += this.#untilSaved(this.#droppedUnsaved, source, topic, from, to);
  }

  /** `#droppedUntilSaved` for each stream of the messages or events dropped. */
  #droppedItemsUntilSaved(items: readonly (Event | WireMessage)[]): void {
    if (!this.#lossWaitsForSave) return;
    const messages = this.#buffer instanceof HeldMessages;
    for (const item of items) {
      const held = indexesOf(item, messages);
      if (held === undefined) continue;
      this.#droppedUntilSaved(held.source, held.topic, held.first, held.first + held.count);
    }
  }

  /**
   * Adds `[from, to)` to a stream's ranges in `unsaved`, and the position past
   * it to those to save; returns how many indexes are new there.
   */
  #untilSaved(
    unsaved: Map<string, number[]>,
    source: bigint,
    topic: string,
    from: number,
    to: number,
  ): number {
    const key = streamKey(source, topic);
    const before = unsaved.get(key) ?? [];
    const after = addRange(before, from, to);
    unsaved.set(key, after);
    this.#unsavedStreams.set(key, { source, topic });
    if (this.#gapped.has(key)) this.#changedGaps();
    else this.#wakeWriter?.();
    return rangesLength(after) - rangesLength(before);
  }

  /** The saved gaps of a stream no longer hold what they have lost: saved at the next chance. */
  #changedGaps(): void {
    this.#gapsChanged = true;
    this.#wakeWriter?.();
  }

  /**
   * A stream's position `next` saved with `gaps` (committed): what was counted
   * lost below it and outside the gaps is counted for good now, and shows in
   * `lostOnWire`.
   */
  #gapsSaved(key: string, next: number, gaps: readonly number[]): void {
    if (!this.#unsavedStreams.has(key)) return;
    this.#lostUnsavedCount -= savedOf(this.#lostUnsaved, key, next, gaps);
    this.#droppedUnsavedCount -= savedOf(this.#droppedUnsaved, key, next, gaps);
    if (!this.#lostUnsaved.has(key) && !this.#droppedUnsaved.has(key)) {
      this.#unsavedStreams.delete(key);
    }
  }

  /**
   * With no write in flight, saves again the gaps of streams that had some, now
   * that they may have been filled or counted lost (a kill -9 would otherwise
   * bring them back, to be counted twice), at the position stored: at once when
   * a gap was counted lost (which `lostOnWire` shows only once this is saved),
   * else at most once a second.
   */
  async #saveGaps(): Promise<void> {
    if (this.#gapped.size === 0) return;
    if (!this.#gapsChanged && Date.now() - this.#gapsCheckedAt < GAPS_SAVED_EVERY_MS) return;
    this.#gapsCheckedAt = Date.now();
    this.#gapsChanged = false;
    const save = this.#backend.savePositions;
    if (save === undefined) return;
    const at = Date.now();
    const positions: StreamPosition[] = [];
    for (const [key, { source, topic }] of this.#gapped) {
      // Never past what is stored: a batch that failed may be waiting for its retry.
      const next = this.#storedNext.get(key);
      if (next === undefined) continue;
      const gaps = this.#gapsBelow(source, topic, key, next);
      positions.push({ source, topic, next, at, gaps });
    }
    // Reading the gaps counted those past the hold (which set it again): this save leaves them out.
    this.#gapsChanged = false;
    if (positions.length === 0) return;
    try {
      await save.call(this.#backend, positions);
      for (const { source, topic, next, gaps } of positions) {
        const key = streamKey(source, topic);
        this.#gapsSaved(key, next, gaps!);
        if (gaps!.length > 0) continue;
        this.#gapped.delete(key);
        if (this.#fills.has(key)) continue;
        this.#handedNext.delete(key);
        this.#storedNext.delete(key);
      }
    } catch (error) {
      // Tried again at the next idle moment; the gaps saved meanwhile are older, not wrong.
      this.#stats.writeErrors++;
      this.#stats.lastError = this.#failures.failed(WRITING, error);
    }
  }

  /**
   * With no write in flight, saves on its own the position past a loss counted
   * at once (see `#gapLost`) of each stream none of whose events is still held:
   * those received before the loss are stored then, or counted dropped, so the
   * position is not ahead of them. A stream whose events are still held waits
   * for their batch, which saves a position as well.
   */
  async #saveUnsaved(): Promise<void> {
    this.#unsavedCheckedAt = Date.now();
    const save = this.#backend.savePositions;
    if (this.#unsavedStreams.size === 0 || save === undefined) return;
    const due = new Set(this.#unsavedStreams.keys());
    const heldIn = (messages: boolean) => (item: Event | WireMessage) => {
      const held = indexesOf(item, messages);
      if (held !== undefined) due.delete(streamKey(held.source, held.topic));
      return due.size === 0;
    };
    (this.#buffer as Held<unknown, Event | WireMessage>).some(
      heldIn(this.#buffer instanceof HeldMessages),
    );
    this.#deferred.some(heldIn(false));
    if (due.size === 0) return;
    const at = Date.now();
    const positions: StreamPosition[] = [];
    for (const key of due) {
      const { source, topic } = this.#unsavedStreams.get(key)!;
      // Past the end of the stream's last range (ranges are in order).
      const past = Math.max(
        ...[this.#lostUnsaved.get(key), this.#droppedUnsaved.get(key)].map((r) => r?.at(-1) ?? 0),
      );
      const next = Math.max(past, this.#storedNext.get(key) ?? 0);
      positions.push({ source, topic, next, at, gaps: this.#gapsBelow(source, topic, key, next) });
    }
    try {
      await save.call(this.#backend, positions);
    } catch (error) {
      // Tried again a second later; meanwhile the losses do not show.
      this.#stats.writeErrors++;
      this.#stats.lastError = this.#failures.failed(WRITING, error);
      return;
    }
    for (const { source, topic, next, gaps } of positions) {
      const key = streamKey(source, topic);
      this.#gapsSaved(key, next, gaps!);
      if (gaps!.length === 0 && !this.#gapped.has(key)) continue;
      // Saved gaps are saved again as they close, from the position saved here.
      this.#gapped.set(key, { source, topic });
      this.#handedNext.set(key, Math.max(next, this.#handedNext.get(key) ?? 0));
      this.#storedNext.set(key, Math.max(next, this.#storedNext.get(key) ?? 0));
    }
  }

  async #writeLoop(receiving: () => boolean): Promise<void> {
    let delay = this.#options.retryMs;
    const buffer = this.#buffer as Held<unknown, Event | WireMessage>;
    const concurrency = Math.max(1, this.#backend.concurrency ?? 1);
    // Handed over, oldest first; settled in that order.
    const pending: Written[] = [];
    const pastDeadline = () =>
      this.#deadline.signal.aborted || Date.now() >= this.#shutdownDeadline;
    const deferred = this.#deferred;
    while (true) {
      // Each turn follows a settled write, a drop or new events: a reader waiting for room looks again.
      this.#wakeReader?.();
      if (!receiving() && this.#shutdownDeadline === Infinity) {
        // The collector ended without the signal: the timeout starts now.
        this.#shutdownDeadline = Date.now() + this.#options.shutdownTimeoutMs;
      }
      if (deferred.length > 0 && pastDeadline()) {
        this.#stats.droppedShutdown += deferred.length;
        deferred.clear();
        this.#deferredTypes.clear();
        this.#fills.clear();
      }
      const deferredDue = deferred.length > 0 && Date.now() >= this.#deferredAt;
      if (buffer.length === 0 && pending.length === 0 && !deferredDue) {
        if (!receiving() && deferred.length === 0) return;
        let wait = deferred.length > 0 ? this.#deferredAt - Date.now() : Infinity;
        if (deferred.length === 0 && this.#gapped.size > 0 && !pastDeadline()) {
          await this.#saveGaps();
          // A gap counted lost while saving (no waking the writer then): saved next.
          wait = this.#gapsChanged ? 0 : GAPS_SAVED_EVERY_MS;
        }
        if (this.#unsavedStreams.size > 0 && !pastDeadline()) {
          await this.#saveUnsaved();
          // Not saved (an error, or events set apart still to store): tried again.
          if (this.#unsavedStreams.size > 0) wait = Math.min(wait, GAPS_SAVED_EVERY_MS);
        }
        // Events that came, or an end of input, while a save was awaited found no writer to wake.
        if (buffer.length > 0 || (!receiving() && deferred.length === 0)) continue;
        // Woken by new events, or when the events set apart are due (or at the deadline).
        await this.#idle(wait);
        continue;
      }
      if (pending.length > 0 && this.#deadline.signal.aborted) {
        // Writes still unsettled at the deadline are given up: not known to be
        // stored, their events count as dropped at shutdown (a later replay of a
        // write that did land counts as duplicates).
        for (const late of pending.splice(0)) {
          this.#inFlight -= late.batch.count;
          this.#inFlightBytes -= late.batch.bytes;
          this.#stats.droppedShutdown += late.batch.count;
        }
        this.#fills.clear();
        continue;
      }
      if (buffer.length > 0 && pastDeadline()) {
        this.#stats.droppedShutdown += buffer.length;
        buffer.clear();
        this.#fills.clear();
        continue;
      }
      // A busy sink too saves its gaps again once a second, with no write in flight (a
      // quiet stream's gap counted lost): the batches in flight settle first.
      const gapsDue = this.#gapped.size > 0 && !pastDeadline() &&
        (this.#gapsChanged || Date.now() - this.#gapsCheckedAt >= GAPS_SAVED_EVERY_MS);
      // A loss counted at once mostly counts with the next batch of its stream; one
      // whose stream sent no more (a tail) waits for this, at most a second.
      const unsavedDue = this.#unsavedStreams.size > 0 && !pastDeadline() &&
        Date.now() - this.#unsavedCheckedAt >= GAPS_SAVED_EVERY_MS;
      const saving = gapsDue || unsavedDue;
      if ((buffer.length > 0 || deferredDue) && pending.length < (saving ? 1 : concurrency)) {
        if (gapsDue) await this.#saveGaps();
        if (unsavedDue) await this.#saveUnsaved();
        const handed = this.#handOver(buffer, deferredDue);
        if (handed !== undefined) pending.push(handed);
        if (pending.length < concurrency && buffer.length > 0) continue;
      }
      if (pending.length === 0) continue;
      const written = pending.shift()!;
      try {
        // A backend on another thread answers in a task of its own, which a reader that
        // never waits (a busy socket) would hold back, the buffer filling meanwhile.
        this.#writerStepsOut = concurrency > 1;
        const result = (await this.#byDeadline(written.result)) ?? 0;
        this.#writerStepsOut = false;
        const rejected = typeof result === "number" ? result : result.rejected ?? 0;
        const duplicates = typeof result === "number" ? 0 : result.duplicates ?? 0;
        const failed = typeof result === "number" ? undefined : result.failed;
        const notStored = failed?.events.length ?? 0;
        const latency = performance.now() - written.started;
        this.#writes++;
        this.#latencyTotal += latency;
        this.#stats.latencyMsMax = Math.max(this.#stats.latencyMsMax, latency);
        this.#inFlight -= written.batch.count;
        this.#inFlightBytes = this.#inFlight > 0 ? this.#inFlightBytes - written.batch.bytes : 0;
        this.#stats.stored += written.batch.count - rejected - duplicates - notStored;
        this.#stats.droppedRejected += rejected;
        this.#stats.duplicates += duplicates;
        this.#noteStored(written.gapped, notStored > 0 ? failed!.events : undefined);
        if (failed !== undefined && notStored > 0) {
          this.#refill(written.fills, failed.events);
          const share = written.batch.bytes * notStored / written.batch.count;
          this.#setApart(failed.events, written.deferred, share);
          this.#stats.writeErrors++;
          this.#stats.lastError = this.#failures.failed(WRITING, failed.error);
        } else {
          if (written.deferred && deferred.length === 0) this.#deferredDelay = 0;
          if (deferred.length === 0) this.#failures.succeeded(WRITING);
        }
        delay = this.#options.retryMs;
        // A synchronous backend resolves at once: without this, a buffer that
        // never empties would keep timers and signals waiting.
        if (this.#turns.due()) {
          this.#writerStepsOut = true;
          await this.#turns.give();
          this.#writerStepsOut = false;
        }
      } catch (error) {
        this.#writerStepsOut = false;
        if (error === PAST_DEADLINE) {
          pending.unshift(written);
          continue;
        }
        // The later batches fail with it (see SinkBackend.concurrency): all go back
        // to the front, in their order, to be retried first.
        const failed = [written, ...pending.splice(0)];
        for (const later of failed.slice(1)) {
          await this.#byDeadline(later.result).catch(() => {});
        }
        for (const back of failed.reverse()) {
          this.#refill(back.fills);
          this.#inFlight -= back.batch.count;
          this.#inFlightBytes -= back.batch.bytes;
          if (back.deferred) this.#setApart(back.batch.items as Event[], true, back.batch.bytes);
          else buffer.putBack(back.batch.items, back.batch.count, back.batch.bytes);
        }
        this.#stats.writeErrors++;
        this.#stats.lastError = this.#failures.failed(WRITING, error);
        // Only the types set apart failed again: the others go on, no backoff for them.
        if (failed.every((back) => back.deferred)) continue;
        // The backoff ends early at the shutdown's deadline.
        await sleep(delay, this.#deadline.signal);
        delay = Math.min(delay * 2, this.#options.maxRetryMs);
      }
    }
  }

  /** `result`, or a rejection with `PAST_DEADLINE` once the shutdown's deadline passes. */
  #byDeadline<T>(result: Promise<T>): Promise<T> {
    const deadline = this.#deadline.signal;
    if (deadline.aborted) return Promise.reject(PAST_DEADLINE);
    return new Promise<T>((resolve, reject) => {
      const onDeadline = () => reject(PAST_DEADLINE);
      deadline.addEventListener("abort", onDeadline, { once: true });
      result.then(resolve, reject).finally(() => deadline.removeEventListener("abort", onDeadline));
    });
  }

  /** Waits for new events, `ms` at most (and not past the shutdown's deadline). */
  async #idle(ms: number): Promise<void> {
    const deadline = this.#deadline.signal;
    if (ms === Infinity) {
      await new Promise<void>((resolve) => this.#wakeWriter = resolve);
    } else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let onDeadline = () => {};
      await new Promise<void>((resolve) => {
        this.#wakeWriter = resolve;
        timer = setTimeout(resolve, Math.max(0, ms));
        onDeadline = () => resolve();
        deadline.addEventListener("abort", onDeadline, { once: true });
      });
      clearTimeout(timer);
      deadline.removeEventListener("abort", onDeadline);
    }
    this.#wakeWriter = undefined;
  }

  /**
   * Holds `events` apart, to be retried after a backoff: at the front when they
   * were taken from there (`retried`), else at the back.
   */
  #setApart(events: Event[], retried: boolean, bytes: number): void {
    if (retried) this.#deferred.putBack(events, events.length, bytes);
    else this.#deferred.hold(events, 0, events.length, bytes);
    for (const event of events) {
      this.#deferredTypes.set(event.type, (this.#deferredTypes.get(event.type) ?? 0) + 1);
    }
    this.#deferredDelay = Math.min(
      Math.max(this.#options.retryMs, this.#deferredDelay * 2),
      this.#options.maxRetryMs,
    );
    this.#deferredAt = Date.now() + this.#deferredDelay;
  }

  /**
   * Takes a batch out of the buffer (where drop-oldest cannot reach it), or out
   * of the events set apart when they are `due`, and hands it over; undefined when
   * every event taken joined those set apart (a type of theirs).
   */
  #handOver(buffer: Held<unknown, Event | WireMessage>, due: boolean): Written | undefined {
    let batch = due
      ? this.#deferred.take(this.#options.batchSize)
      : buffer.take(this.#options.batchSize);
    if (due) {
      for (const event of batch.items as Event[]) {
        const left = this.#deferredTypes.get(event.type)! - 1;
        if (left > 0) this.#deferredTypes.set(event.type, left);
        else this.#deferredTypes.delete(event.type);
      }
    } else if (this.#deferredTypes.size > 0 && this.#backend.writeMessages === undefined) {
      // A later event of a type set apart waits behind its elders: nothing, and no
      // stream position, is stored ahead of an event still to be retried.
      const kept: Event[] = [];
      const each = batch.bytes / batch.count;
      for (const event of batch.items as Event[]) {
        const waiting = this.#deferredTypes.get(event.type);
        if (waiting === undefined) kept.push(event);
        else {
          this.#deferred.hold([event], 0, 1, each);
          this.#deferredTypes.set(event.type, waiting + 1);
        }
      }
      if (kept.length === 0) return undefined;
      batch = { items: kept, count: kept.length, bytes: each * kept.length };
    }
    // Handed over, they are stored before or with any later batch (or all fail):
    // the gaps saved with this batch's positions leave them out.
    let fills: Map<string, number[]> | undefined;
    if (this.#fills.size > 0) {
      fills = new Map();
      this.#unfill(batch.items as (Event | WireMessage)[], fills);
    }
    this.#inFlight += batch.count;
    this.#inFlightBytes += batch.bytes;
    const started = performance.now();
    let result: Promise<number | WriteResult | void>;
    this.#handing = [];
    try {
      result = this.#backend.writeMessages !== undefined
        ? this.#writeMessages(batch.items as WireMessage[])
        : this.#write(batch.items as Event[]);
    } catch (error) {
      result = Promise.reject(error);
    }
    // Settled in order by the write loop; until then a rejection is not unhandled.
    result.catch(() => {});
    const gapped = this.#handing.length > 0 ? this.#handing : undefined;
    return { batch, started, result, deferred: due, fills, gapped };
  }

  /**
   * Steps out of the microtask queue while the writer does: a reader that never
   * waits (a busy socket) would otherwise hold back the answer of a backend on
   * another thread, or the timer of a synchronous one giving a turn. A zero timer
   * here waited about 2 ms a message, which paced the reader of a busy store sink
   * below its writer (batches of 700-2,900 events, one in flight) and left a burst
   * in the socket's queue, where the router drops what overflows, rather than in
   * the buffer.
   */
  #stepOut(): Promise<void> {
    return nextTurn();
  }

  #write(batch: Event[]): Promise<number | WriteResult | void> {
    const positions = this.#backend.positions && this.#options.assignIds
      ? this.#withGaps(positionsOf(batch))
      : undefined;
    return this.#backend.write(batch, positions);
  }

  #writeMessages(batch: WireMessage[]): Promise<number | WriteResult | void> {
    const positions = this.#backend.positions
      ? this.#withGaps(positionsOfMessages(batch))
      : undefined;
    return this.#backend.writeMessages!(batch, positions);
  }

  /** The counters. */
  stats(): SinkStats {
    const wire = this.#collector?.stats();
    return {
      ...this.#stats,
      buffered: this.#heldEvents(),
      latencyMsAvg: this.#writes ? this.#latencyTotal / this.#writes : 0,
      // Reading the wire's counters counted the gaps past their hold: those the saved
      // gaps still hold are left out until they are saved (see `#gapLost`).
      lostOnWire: (wire?.lost ?? 0) - this.#lostUnsavedCount,
      lostUnsaved: this.#lostUnsavedCount,
      droppedFull: this.#stats.droppedFull - this.#droppedUnsavedCount,
      droppedUnsaved: this.#droppedUnsavedCount,
      duplicatesOnWire: wire?.duplicates ?? 0,
      malformed: wire ? Object.values(wire.malformed).reduce((sum, n) => sum + (n ?? 0), 0) : 0,
      rejectedOnWire: wire?.rejectedEvents ?? 0,
    };
  }

  /** Flat counters for stats events. */
  counters(): Counters {
    const stats = this.stats();
    return {
      // The backend's own first: a shared name keeps the runner's meaning.
      ...this.#backend.counters?.(),
      received: stats.received,
      stored: stats.stored,
      buffered: stats.buffered,
      dropped: stats.droppedFull + stats.droppedRejected + stats.droppedShutdown,
      dropped_full: stats.droppedFull,
      dropped_rejected: stats.droppedRejected,
      dropped_shutdown: stats.droppedShutdown,
      retried: stats.writeErrors,
      latency_ms_avg: Math.round(stats.latencyMsAvg * 100) / 100,
      latency_ms_max: Math.round(stats.latencyMsMax * 100) / 100,
      dropped_unsaved: stats.droppedUnsaved,
      lost: stats.lostOnWire,
      lost_unsaved: stats.lostUnsaved,
      duplicates: stats.duplicatesOnWire,
      malformed: stats.malformed,
      rejected: stats.rejectedOnWire,
      duplicates_stored: stats.duplicates,
      other_members: this.#collector?.stats().otherMembers ?? 0,
    };
  }
}
