/**
 * The embedded event store: one SQLite file, written in batches.
 *
 * @module
 */
import { dirname } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { envelopeProblem, type Event } from "@eventstorm/core";
import {
  decodeBatch,
  encodeFields,
  encodeValue,
  type WireMessage,
} from "@eventstorm/core/protocol";
import { EventTranscoder } from "@eventstorm/core/internal";
import { eventId, gapsOf, type StreamPosition } from "@eventstorm/core/sink";
import { checkSchema, ensureSchema } from "./schema.ts";
import { COLUMNS, connect, messageOf, RowWriter } from "./rows.ts";
import { EventIdBytes } from "./event_ids.ts";

/** Store file used when `--db` is not given.
 *
 * @example
 * ```ts
 * import { DEFAULT_DB_PATH } from "@eventstorm/sink-store";
 * console.log(DEFAULT_DB_PATH); // "eventstorm.db"
 * ```
 */
export const DEFAULT_DB_PATH = "eventstorm.db";

/** Options of {@linkcode EventStore.open}. */
export interface EventStoreOptions {
  /** Age in milliseconds past which {@linkcode EventStore.applyRetention} deletes events; unset keeps all. */
  retain?: number;
  /** Open for queries only: nothing is created or written; the file must exist. */
  readOnly?: boolean;
  /** How long to wait for another connection's lock, in milliseconds. Default 5000. */
  busyTimeout?: number;
}

/** What {@linkcode EventStore.insertBatch} did with a batch. */
export interface InsertResult {
  /** Events written. */
  inserted: number;
  /** Events skipped because an event with the same `_id` is already stored. */
  duplicates: number;
  /** Events refused: bad envelope or a value that cannot be stored. */
  rejected: number;
  /** Why the last refused event was refused, for a log line. */
  problem?: string;
  /** Each reason for refusing, once, with how many events it refused (the last reasons when many). */
  problems?: [reason: string, count: number][];
}

/** Page size of a new store file, in bytes. */
const PAGE_SIZE = 16_384;

/**
 * An event store in one SQLite file (WAL mode, `synchronous=NORMAL`, 16 KiB pages
 * in a file it creates). Each batch is one transaction through prepared
 * statements; an event whose `_id` is already stored, or a message's event that
 * its stream's saved position covers (read in the transaction, whoever saved
 * it), is skipped, so replays do not duplicate. Not safe to share between
 * threads; several processes may open the same file.
 *
 * @example
 * ```ts
 * import { EventStore } from "@eventstorm/sink-store";
 * const store = EventStore.open(":memory:", { retain: 30 * 86_400_000 });
 * store.insertBatch([{ type: "http.hit", time: new Date(), host: "web1", status: 200 }]);
 * store.applyRetention(Date.now());
 * store.close();
 * ```
 */
export class EventStore {
  /** The file this store was opened from. */
  readonly path: string;
  /** Retention age in milliseconds, if any. */
  readonly retain: number | undefined;
  /** Whether the store was opened for queries only. */
  readonly readOnly: boolean;
  #db: DatabaseSync;
  #rows: RowWriter | undefined;
  /** Reads documents into rows, and holds the text of the batch's rows (see PreparedBatch). */
  readonly #transcoder = new EventTranscoder();
  readonly #ids = new EventIdBytes();
  #closed = false;

  private constructor(path: string, db: DatabaseSync, options: EventStoreOptions) {
    this.path = path;
    this.#db = db;
    this.retain = options.retain;
    this.readOnly = options.readOnly ?? false;
    if (!this.readOnly) {
      this.#rows = new RowWriter(db, path);
    }
  }

  /**
   * Opens (creating when writable and missing, its directory too) the store at
   * `path`. Throws an `Error` naming the path when the file cannot be opened, is
   * a directory, is not an event store, or (read-only) does not exist.
   *
   * @example
   * ```ts
   * import { EventStore } from "@eventstorm/sink-store";
   * const store = EventStore.open(":memory:");
   * store.close();
   * ```
   */
  static open(path: string, options: EventStoreOptions = {}): EventStore {
    const readOnly = options.readOnly ?? false;
    if (options.retain !== undefined && !(options.retain > 0)) {
      throw new RangeError(
        `retention must be a positive number of milliseconds, got ${options.retain}`,
      );
    }
    if (path !== ":memory:" && !path.startsWith("file:")) preparePath(path, readOnly);
    const db = connect(path, { readOnly, timeout: options.busyTimeout });
    try {
      if (readOnly) {
        checkSchema(db);
      } else {
        // Only a new file takes it (an existing one keeps its own). Events are appended in
        // bulk: larger pages mean fewer pages and WAL frames per commit, 15-20% more inserts/s.
        db.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
        db.exec("PRAGMA journal_mode = WAL");
        ensureSchema(db);
      }
      return new EventStore(path, db, options);
    } catch (error) {
      db.close();
      throw new Error(`${path}: ${messageOf(error)}`);
    }
  }

  /**
   * The SQLite connection, for the query functions of this package.
   *
   * @example
   * ```ts
   * import { EventStore } from "@eventstorm/sink-store";
   * const store = EventStore.open(":memory:");
   * store.database.prepare("SELECT count(*) AS n FROM events").get(); // { n: 0 }
   * ```
   */
  get database(): DatabaseSync {
    if (this.#closed) throw new Error(`${this.path}: store is closed`);
    return this.#db;
  }

  /**
   * Writes a batch in one transaction. Events with a bad envelope or a value
   * JSON cannot hold are counted as rejected, not thrown; a database failure
   * (disk full, lock timeout) rolls the whole batch back and throws, so the
   * caller can retry it as a unit.
   *
   * @example
   * ```ts
   * import { EventStore } from "@eventstorm/sink-store";
   * const store = EventStore.open(":memory:");
   * const e = { type: "app.start", time: new Date(), host: "h", _id: "a1" };
   * store.insertBatch([e]); // { inserted: 1, duplicates: 0, rejected: 0 }
   * store.insertBatch([e]); // { inserted: 0, duplicates: 1, rejected: 0 }
   * ```
   */
  insertBatch(events: readonly Event[], positions: readonly StreamPosition[] = []): InsertResult {
    if (this.readOnly) throw new Error(`${this.path}: store is open read-only`);
    const batch = this.#begin(events.length);
    for (const event of events) this.#addEvent(batch, event);
    return this.#commit(this.#finish(batch), positions);
  }

  /**
   * Writes checked but undecoded messages (as a sink runner's `writeMessages`
   * gets them) in one transaction, as {@linkcode insertBatch} writes events:
   * each document's `_id` is derived from its message's header (none without a
   * header, a sender's own dropped), and the JSON of its fields is read straight
   * from its BSON. A document that is not a valid event of its topic is
   * refused and counted, like an event with a bad envelope.
   *
   * @example
   * ```ts
   * import { encodeBatch } from "@eventstorm/core/protocol";
   * import { EventStore } from "@eventstorm/sink-store";
   * const store = EventStore.open(":memory:");
   * const body = encodeBatch([{ type: "app.start", time: new Date(), host: "h" }]);
   * const header = { flags: 0, count: 1, source: 255n, first: 7 };
   * store.insertMessages([{ topic: "app.start", header, body, count: 1 }]);
   * // { inserted: 1, duplicates: 0, rejected: 0 }, stored with _id "ff-app.start-7"
   * ```
   */
  insertMessages(
    messages: readonly WireMessage[],
    positions: readonly StreamPosition[] = [],
  ): InsertResult {
    return this.commitPrepared(this.prepareMessages(messages, positions), positions);
  }

  /**
   * The first half of {@linkcode insertMessages}: reads the messages into rows
   * and refusals without touching the database, so that another thread's store on
   * the same file can write them with {@linkcode commitPrepared} meanwhile.
   * `positions` are those they will be committed with: when they hold every
   * stream among the messages, as a sink's do, they identify the events, so no
   * id is kept for the unique index on ids (each event's data still holds its
   * `_id`).
   *
   * @example
   * ```ts
   * import { encodeBatch } from "@eventstorm/core/protocol";
   * import { EventStore } from "@eventstorm/sink-store";
   * const store = EventStore.open(":memory:");
   * const body = encodeBatch([{ type: "app.start", time: new Date(), host: "h" }]);
   * const prepared = store.prepareMessages([{ topic: "app.start", body, count: 1 }]);
   * store.commitPrepared(prepared); // { inserted: 1, duplicates: 0, rejected: 0 }
   * ```
   */
  prepareMessages(
    messages: readonly WireMessage[],
    positions: readonly StreamPosition[] = [],
  ): PreparedBatch {
    if (this.readOnly) throw new Error(`${this.path}: store is open read-only`);
    const positioned = holdsEveryStream(positions, messages);
    let total = 0;
    for (const message of messages) total += message.count;
    const batch = this.#begin(total);
    const transcoder = this.#transcoder, ids = this.#ids;
    for (const { topic, header, body, count } of messages) {
      const stream = header ? streamIndex(batch, header.source, topic) : -1;
      if (header) ids.start(header.source, topic);
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      let offset = 0;
      for (let i = 0; i < count; i++) {
        const size = offset + 4 <= body.length ? view.getInt32(offset, true) : 0;
        if (size < 5 || offset + size > body.length) {
          // The collector checked the framing: only a caller's own bytes get here.
          refuse(batch, "a message whose documents do not fill its body", count - i);
          break;
        }
        const index = header ? header.first + i : 0;
        const id = header ? ids.of(index) : null;
        const jsonBytes = transcoder.read(body, offset, size, topic, id);
        if (jsonBytes < 0) {
          const document = body.subarray(offset, offset + size);
          this.#addDocument(
            batch,
            document,
            topic,
            header ? eventId(header.source, topic, index) : null,
            stream,
            index,
          );
        } else {
          this.#noteType(batch, topic);
          const idLength = id === null || positioned ? -1 : transcoder.appendQuoted(id);
          addRow(
            batch,
            topic,
            transcoder.time,
            transcoder.host,
            idLength,
            jsonBytes,
            stream,
            index,
          );
        }
        offset += size;
      }
    }
    return this.#finish(batch);
  }

  /** A batch of at most `capacity` rows. */
  #begin(capacity: number): Batch {
    // A batch that threw half-way must not leave its bytes in front of the next one's.
    this.#transcoder.clear();
    return newBatch(capacity);
  }

  #finish(batch: Batch): PreparedBatch {
    return {
      rows: batch.rows.subarray(0, batch.count * COLUMNS),
      count: batch.count,
      strings: batch.strings,
      streams: batch.streams,
      text: this.#transcoder.take(),
      types: batch.types,
      rejected: batch.rejected,
      problems: batch.problems,
    };
  }

  /**
   * The second half of {@linkcode insertMessages}: writes rows that
   * {@linkcode prepareMessages} read (here or in another thread's store on the
   * same file) and `positions` in one transaction; throws as `insertMessages` does.
   *
   * @example
   * ```ts
   * import { EventStore } from "@eventstorm/sink-store";
   * const store = EventStore.open(":memory:");
   * store.commitPrepared({
   *   rows: new Float64Array(),
   *   count: 0,
   *   strings: [],
   *   streams: [],
   *   text: new Uint8Array(),
   *   types: [],
   *   rejected: 0,
   *   problems: [],
   * });
   * ```
   */
  commitPrepared(
    prepared: PreparedBatch,
    positions: readonly StreamPosition[] = [],
  ): InsertResult {
    if (this.readOnly) throw new Error(`${this.path}: store is open read-only`);
    return this.#commit(prepared, positions);
  }

  /** Decodes one document the ordinary way: the refusals, and the shapes the transcoder leaves. */
  #addDocument(
    batch: Batch,
    bytes: Uint8Array,
    topic: string,
    id: string | null,
    stream: number,
    index: number,
  ): void {
    let document: Record<string, unknown>;
    try {
      [document] = decodeBatch(bytes, { useBigInt64: true });
    } catch (error) {
      // One document was decoded: its number in the batch says nothing.
      refuse(batch, `cannot read event: ${messageOf(error).replace(/^document 0:? (is )?/, "")}`);
      return;
    }
    const problem = envelopeProblem(document) ??
      (document.type === topic ? undefined : `type is not its topic ${topic}`);
    if (problem !== undefined) {
      refuse(batch, problem);
      return;
    }
    if (id === null) delete document._id;
    else document._id = id;
    this.#addEvent(batch, document as Event, stream, index);
  }

  /** Adds the row of `event` (event `index` of `stream`, none below 0), or refuses it. */
  #addEvent(batch: Batch, event: Event, stream = -1, index = 0): void {
    const envelope = event === null || typeof event !== "object"
      ? "not a document"
      : envelopeProblem(event);
    if (envelope !== undefined) {
      refuse(batch, envelope);
      return;
    }
    let data: string;
    let id: string | undefined;
    try {
      data = encodeFields(event);
      if (event._id !== undefined && event._id !== null) {
        id = JSON.stringify(encodeValue(event._id));
      }
    } catch (error) {
      refuse(batch, `cannot store event: ${messageOf(error)}`);
      return;
    }
    this.#noteType(batch, event.type);
    const dataLength = this.#transcoder.appendString(data);
    const idLength = id === undefined ? -1 : this.#transcoder.appendString(id);
    addRow(
      batch,
      event.type,
      event.time.getTime(),
      event.host,
      idLength,
      dataLength,
      stream,
      index,
    );
  }

  #noteType(batch: Batch, type: string): void {
    // The previous row's type was noted already: consecutive rows nearly always share it.
    if (type !== batch.last[0] && !this.#rows!.knows(type) && !batch.types.includes(type)) {
      batch.types.push(type);
    }
  }

  #commit(prepared: PreparedBatch, positions: readonly StreamPosition[]): InsertResult {
    if (this.#closed) throw new Error(`${this.path}: store is closed`);
    return resultOf(
      prepared,
      this.#rows!.write(prepared, positions),
    );
  }

  /**
   * The stream positions saved with the stored batches (see {@linkcode insertBatch}).
   *
   * @example
   * ```ts
   * import { EventStore } from "@eventstorm/sink-store";
   * const store = EventStore.open(":memory:");
   * store.insertBatch([], [{ source: 255n, topic: "a", next: 3, at: 0 }]);
   * store.positions(); // [{ source: 255n, topic: "a", next: 3, at: 0 }]
   * ```
   */
  positions(): StreamPosition[] {
    const rows = this.database.prepare("SELECT source, topic, next, at, gaps FROM streams")
      .all() as {
        source: string;
        topic: string;
        next: number;
        at: number;
        gaps: string | null;
      }[];
    return rows.map(({ source, topic, next, at, gaps }) => {
      const position: StreamPosition = { source: BigInt(`0x${source}`), topic, next, at };
      const open = gapsOf(gaps);
      if (open.length > 0) position.gaps = open;
      return position;
    });
  }

  /**
   * Deletes events older than the retention age before `now`; returns how many.
   * Does nothing (returns 0) without a retention age. Each type is deleted in
   * its own transaction so that writers wait only briefly.
   *
   * @example
   * ```ts
   * import { EventStore } from "@eventstorm/sink-store";
   * const store = EventStore.open(":memory:", { retain: 1000 });
   * store.insertBatch([{ type: "x", time: new Date(0), host: "h" }]);
   * store.applyRetention(5000); // 1
   * ```
   */
  applyRetention(now: Date | number = Date.now()): number {
    if (this.retain === undefined) return 0;
    if (this.readOnly) throw new Error(`${this.path}: store is open read-only`);
    const cutoff = (now instanceof Date ? now.getTime() : now) - this.retain;
    const db = this.database;
    const remove = db.prepare("DELETE FROM events WHERE type = ? AND time < ?");
    let deleted = 0;
    for (const type of this.types()) {
      deleted += Number(remove.run(type, cutoff).changes);
    }
    return deleted;
  }

  /**
   * Every event type ever stored, sorted.
   *
   * @example
   * ```ts
   * import { EventStore } from "@eventstorm/sink-store";
   * const store = EventStore.open(":memory:");
   * store.insertBatch([{ type: "http.hit", time: new Date(), host: "h" }]);
   * store.types(); // ["http.hit"]
   * ```
   */
  types(): string[] {
    const rows = this.database.prepare("SELECT type FROM types ORDER BY type").all() as {
      type: string;
    }[];
    return rows.map((row) => row.type);
  }

  /**
   * How many events the store holds.
   *
   * @example
   * ```ts
   * import { EventStore } from "@eventstorm/sink-store";
   * const store = EventStore.open(":memory:");
   * store.count(); // 0
   * ```
   */
  count(): number {
    const row = this.database.prepare("SELECT count(*) AS n FROM events").get() as { n: number };
    return row.n;
  }

  /**
   * Closes the file; later calls do nothing.
   *
   * @example
   * ```ts
   * import { EventStore } from "@eventstorm/sink-store";
   * EventStore.open(":memory:").close();
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      // Keeps the planner's statistics fresh at no cost when nothing changed much.
      if (!this.readOnly) this.#db.exec("PRAGMA optimize");
    } finally {
      this.#db.close();
    }
  }
}

/**
 * Rows read from messages by {@linkcode EventStore.prepareMessages}, for
 * {@linkcode EventStore.commitPrepared}; plain data, so it can be posted to a worker.
 */
export interface PreparedBatch {
  /**
   * Seven numbers per row: its type (an index in `strings`), time (ms), host
   * (an index in `strings`), the lengths in bytes of its id's JSON (-1 for
   * none) and of its data's JSON in `text`, and the stream it came in (an index
   * in `streams`, -1 for none) and its index there. Numbers rather than an array
   * of values: no string or number object per row to copy to the writer thread.
   */
  rows: Float64Array<ArrayBuffer>;
  /** How many rows `rows` holds (read after it was handed to the writer thread too). */
  count: number;
  /** The types and hosts the rows name. */
  strings: string[];
  /** The streams the rows came in: source id in hex and topic, as the streams table keys them. */
  streams: [source: string, topic: string][];
  /** Each row's data, then its id, UTF-8 JSON one after another. */
  text: Uint8Array<ArrayBuffer>;
  /** The types among the rows that the preparing store did not know. */
  types: string[];
  /** Documents refused. */
  rejected: number;
  /** Each reason for refusing, with how many documents it refused. */
  problems: [reason: string, count: number][];
}

/** Rows on their way into one transaction, and what was refused. */
interface Batch extends Omit<PreparedBatch, "text"> {
  /** Where each of `strings` is. */
  stringIndex: Map<string, number>;
  /** Where each of `streams` is, by source id and topic. */
  streamIndex: Map<bigint, Map<string, number>>;
  /** The strings of the previous row, and their indexes. */
  last: [type: string, typeIndex: number, host: string, hostIndex: number];
}

function newBatch(capacity: number): Batch {
  return {
    rows: new Float64Array(capacity * COLUMNS),
    count: 0,
    strings: [],
    stringIndex: new Map(),
    streams: [],
    streamIndex: new Map(),
    types: [],
    last: ["", -1, "", -1],
    rejected: 0,
    problems: [],
  };
}

/** Adds a row; `stream` is its stream in `batch.streams` (-1 for none), `index` its index there. */
function addRow(
  batch: Batch,
  type: string,
  time: number,
  host: string,
  idLength: number,
  dataLength: number,
  stream: number,
  index: number,
): void {
  const last = batch.last;
  if (type !== last[0]) [last[0], last[1]] = [type, stringIndex(batch, type)];
  if (host !== last[2]) [last[2], last[3]] = [host, stringIndex(batch, host)];
  const rows = batch.rows, at = batch.count++ * COLUMNS;
  rows[at] = last[1];
  rows[at + 1] = time;
  rows[at + 2] = last[3];
  rows[at + 3] = idLength;
  rows[at + 4] = dataLength;
  rows[at + 5] = stream;
  rows[at + 6] = index;
}

/** Whether `positions` hold the stream of every message that has one. */
function holdsEveryStream(
  positions: readonly StreamPosition[],
  messages: readonly WireMessage[],
): boolean {
  if (positions.length === 0) return false;
  const held = new Map<bigint, Set<string>>();
  for (const { source, topic } of positions) {
    let topics = held.get(source);
    if (topics === undefined) held.set(source, topics = new Set());
    topics.add(topic);
  }
  return messages.every(({ header, topic }) =>
    header === undefined || held.get(header.source)?.has(topic) === true
  );
}

/** The number of the stream of `source` and `topic` in `batch.streams`. */
function streamIndex(batch: Batch, source: bigint, topic: string): number {
  let topics = batch.streamIndex.get(source);
  if (topics === undefined) batch.streamIndex.set(source, topics = new Map());
  let index = topics.get(topic);
  if (index === undefined) {
    index = batch.streams.push([source.toString(16), topic]) - 1;
    topics.set(topic, index);
  }
  return index;
}

function stringIndex(batch: Batch, text: string): number {
  let index = batch.stringIndex.get(text);
  if (index === undefined) {
    index = batch.strings.push(text) - 1;
    batch.stringIndex.set(text, index);
  }
  return index;
}

/**
 * What became of `prepared` once `inserted` of its rows were new (the others
 * had a stored id), wherever it was committed.
 */
export function resultOf(prepared: PreparedBatch, inserted: number): InsertResult {
  const result: InsertResult = {
    inserted,
    duplicates: prepared.count - inserted,
    rejected: prepared.rejected,
  };
  if (prepared.problems.length > 0) {
    result.problem = prepared.problems[prepared.problems.length - 1][0];
    result.problems = prepared.problems;
  }
  return result;
}

/** Most distinct reasons a batch keeps: a log line names each. */
const MAX_PROBLEMS = 8;

function refuse(batch: Batch, problem: string, count = 1): void {
  batch.rejected += count;
  const known = batch.problems.find(([reason]) => reason === problem);
  if (known !== undefined) known[1] += count;
  else {
    if (batch.problems.length === MAX_PROBLEMS) batch.problems.shift();
    batch.problems.push([problem, count]);
  }
}

/**
 * Before SQLite sees `path`: a directory is said to be one (SQLite reports a
 * "disk I/O error"), a read-only store must exist, and a writable one gets its
 * missing directories made, as the file sink and checkpoints do (SQLite says
 * only "unable to open database file").
 */
function preparePath(path: string, readOnly: boolean): void {
  let info: Deno.FileInfo | undefined;
  try {
    info = Deno.statSync(path);
  } catch {
    // Not there (or not reachable): the cases below.
  }
  if (info?.isDirectory) throw new Error(`${path}: is a directory, not a store file`);
  if (info !== undefined) return;
  if (readOnly) throw new Error(`${path}: no such store file`);
  try {
    Deno.mkdirSync(dirname(path), { recursive: true });
  } catch (error) {
    throw new Error(`${path}: cannot make its directory: ${messageOf(error)}`);
  }
}
