/**
 * The MongoDB backend of the sink: idempotent unordered inserts, indexes, TTL and
 * time-series collections.
 *
 * @module
 */
import {
  type AnyBulkWriteOperation,
  BSON,
  type Collection,
  type Db,
  type Document,
  MongoBulkWriteError,
  MongoClient,
  MongoError,
  MongoInvalidArgumentError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  ObjectId,
  type WriteConcernSettings,
} from "mongodb";
import type { Event } from "@eventstorm/core";
import { UsageError } from "@eventstorm/core/cli";
import {
  eventId,
  redactCredentials,
  SavedPositions,
  type SavedStream,
  type SinkBackend,
  type StreamPosition,
  type WriteResult,
} from "@eventstorm/core/sink";
import type { MongoSinkConfig } from "./config.ts";
import { collectionForType, safeDocument } from "./keys.ts";

/**
 * The collection of the sinks' stream positions (docs/stored.md), one document
 * per destination and stream. No event type maps to it: type collections have
 * no dots.
 *
 * @example
 * ```ts
 * import { STREAMS_COLLECTION } from "@eventstorm/sink-mongodb";
 * STREAMS_COLLECTION; // "eventstorm.streams"
 * ```
 */
export const STREAMS_COLLECTION = "eventstorm.streams";

/**
 * How far beyond a batch a stream's `upto` is claimed: nowhere. Each batch claims
 * exactly its own range before its inserts, so that after a crash the sink looks
 * up which of them were stored (none of those is lost) and, in time-series
 * collections (which do not refuse a second `_id`), which replayed events to skip.
 */
const UPTO_SLACK = 0;

/** Events of saved gaps looked up at start at most, per stream (see `#stillMissing`). */
const GAP_LOOKUP_MAX = 1_000_000;

/** Ids looked up in one query when a crash left a stream's range in doubt. */
const DOUBT_CHUNK = 10_000;

/** A document of {@linkcode STREAMS_COLLECTION}. */
interface StreamDocument {
  /** `<destination>/<source hex>-<topic>`. */
  _id: string;
  dest: string;
  source: string;
  topic: string;
  next?: number;
  upto?: number;
  /** Gaps below `next` (see `StreamPosition.gaps`), flat `[from, to)` pairs; absent: none. */
  gaps?: number[];
  at: Date;
}

/** Options of {@linkcode MongoBackend.open}. */
export interface MongoBackendOptions {
  /** Where one-line notices go (TTL fallback, refusals); stderr by default. */
  log?: (line: string) => void;
}

/**
 * How old events are removed: `index` (TTL index), `timeseries` (collection expiry),
 * `sweep` (periodic deletes where the server has no TTL indexes) or `none`.
 *
 * @example
 * ```ts
 * import type { TtlMode } from "@eventstorm/sink-mongodb";
 * const mode: TtlMode = "sweep";
 * ```
 */
export type TtlMode = "none" | "index" | "timeseries" | "sweep";

/** Server codes of failures that pass: the write is retried as a whole. */
const TRANSIENT_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  24, // LockTimeout
  50, // MaxTimeMSExpired
  89, // NetworkTimeout
  91, // ShutdownInProgress
  112, // WriteConflict
  189, // PrimarySteppedDown
  202, // NetworkInterfaceExceededTimeLimit
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
  14031, // OutOfDiskSpace
]);

/** Server codes that a single document earns by its content: refused for good. */
const DOCUMENT_CODES = new Set([
  2, // BadValue
  14, // TypeMismatch
  22, // InvalidBSON
  52, // DollarPrefixedFieldName
  53, // InvalidIdField
  56, // EmptyFieldName
  57, // DottedFieldName
  121, // DocumentValidationFailure
  10334, // BSONObjectTooLarge
  17280, // KeyTooLong
]);

/** Codes with which a server says it lacks a feature (FerretDB 1.24: 238 NotImplemented). */
const UNSUPPORTED_CODES = new Set([
  72, // InvalidOptions
  115, // CommandNotSupported
  197, // InvalidIndexSpecificationOption
  238, // NotImplemented
]);

const DUPLICATE_KEY = 11000;
const NAMESPACE_EXISTS = 48;
const INDEX_OPTIONS_CONFLICT = 85;
const INDEX_KEY_SPECS_CONFLICT = 86;

function hasLabel(error: unknown, label: string): boolean {
  return error instanceof MongoError && error.hasErrorLabel(label);
}

/** A connection closed under a request: an outage, or a server that drops a document it cannot take. */
function isConnectionDrop(error: unknown): boolean {
  return error instanceof MongoNetworkError || hasLabel(error, "ResetPool");
}

function isTransient(error: unknown): boolean {
  if (isConnectionDrop(error) || error instanceof MongoServerSelectionError) return true;
  if (hasLabel(error, "RetryableWriteError") || hasLabel(error, "TransientTransactionError")) {
    return true;
  }
  return error instanceof MongoServerError && TRANSIENT_CODES.has(Number(error.code));
}

/** The driver could not encode the document (too large, bad value): nothing was sent. */
function isClientDocumentError(error: unknown): boolean {
  return error instanceof BSON.BSONError || error instanceof MongoInvalidArgumentError;
}

function errorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "number" ? code : undefined;
}

/** The first line of an error's message, without the password of a connection string. */
function message(error: unknown): string {
  return redactCredentials((error instanceof Error ? error.message : String(error)).split("\n")[0]);
}

/**
 * Stores events in MongoDB. Every document keeps the event's `_id`, so a retried
 * batch or a replay meets duplicate-key errors (E11000): duplicates, unless a
 * failed attempt of this backend stored the document (then it counts as stored).
 * Connection failures throw, so the sink runner keeps the batch and retries.
 *
 * @example
 * ```ts ignore
 * import { MongoBackend } from "@eventstorm/sink-mongodb";
 * const backend = await MongoBackend.open({
 *   url: "mongodb://127.0.0.1:27017", db: "eventstorm", timeseries: false, timeoutMs: 5000,
 * });
 * await backend.write([{ type: "http.hit", time: new Date(), host: "web1", _id: "a-1" }]);
 * await backend.close();
 * ```
 */
export class MongoBackend implements SinkBackend {
  /** Name for stats. */
  readonly name = "mongodb";
  readonly #config: MongoSinkConfig;
  readonly #client: MongoClient;
  readonly #db: Db;
  readonly #log: (line: string) => void;
  readonly #writeConcern: WriteConcernSettings | undefined;
  readonly #collections = new Map<string, Promise<Collection>>();
  #ready: Promise<void> | undefined;
  #ttlMode: TtlMode;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #sweeping = false;
  #swept = new Set<string>();
  #lastWriteFailed = false;
  /** `_id`s (as Extended JSON) of writes that failed and will be retried. */
  readonly #attempted = new Set<string>();
  /** Documents of the current write that the server already held. */
  #duplicates = 0;
  readonly #refusalCodes = new Set<string>();
  /** Saved positions, and where a crash left doubt (time-series collections only). */
  readonly #saved = new SavedPositions(UPTO_SLACK);
  #closed = false;

  /**
   * Connects and prepares the database. A server that cannot do what was asked
   * (`--timeseries` on FerretDB) throws a `UsageError`; an unreachable server does
   * not: setup is then retried with every write.
   */
  static async open(
    config: MongoSinkConfig,
    options: MongoBackendOptions = {},
  ): Promise<MongoBackend> {
    const backend = new MongoBackend(config, options);
    try {
      await backend.#ensureReady();
    } catch (error) {
      if (error instanceof UsageError || !isTransient(error)) {
        await backend.close();
        if (error instanceof UsageError) throw error;
        throw new Error(`mongodb: ${message(error)}`);
      }
      backend.#log(
        `mongodb: ${redactCredentials(config.url)} not reachable yet (${
          message(error)
        }); retrying with each write`,
      );
    }
    return backend;
  }

  private constructor(config: MongoSinkConfig, options: MongoBackendOptions) {
    this.#config = config;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#client = new MongoClient(config.url, {
      serverSelectionTimeoutMS: config.timeoutMs,
      connectTimeoutMS: config.timeoutMs,
      appName: "eventstorm-sink-mongodb",
    });
    this.#db = this.#client.db(config.db);
    this.#writeConcern = config.writeConcern === undefined
      ? undefined
      : { w: config.writeConcern.w, journal: config.writeConcern.journal };
    this.#ttlMode = config.ttlMs === undefined
      ? "none"
      : config.timeseries
      ? "timeseries"
      : "index";
  }

  /** How old events are removed: a TTL index, time-series expiry, periodic deletes, or not. */
  get ttlMode(): TtlMode {
    return this.#ttlMode;
  }

  /**
   * The driver's client, for queries beside the sink.
   *
   * @internal (its type is the npm driver's, which `deno doc` cannot document here)
   */
  get client(): MongoClient {
    return this.#client;
  }

  #ensureReady(): Promise<void> {
    this.#ready ??= this.#setup().catch((error) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async #setup(): Promise<void> {
    // After a failed first contact the driver closes its topology; connect() makes a new one.
    await this.#client.connect();
    await this.#db.command({ ping: 1 });
    if (this.#config.timeseries) await this.#checkTimeseries();
    if (this.#config.collection !== undefined) await this.#collection(this.#config.collection);
  }

  /** Creates a time-series collection once, so an unsupporting server is known at startup. */
  async #checkTimeseries(): Promise<void> {
    const name = this.#config.collection ?? `eventstorm_timeseries_probe_${Deno.pid}`;
    try {
      await this.#createTimeseries(name);
    } catch (error) {
      if (error instanceof MongoServerError && UNSUPPORTED_CODES.has(Number(error.code))) {
        const reason = error.codeName ? `${error.code} ${error.codeName}` : `${error.code}`;
        throw new UsageError(
          `--timeseries: the server does not support time-series collections (code ${reason})`,
        );
      }
      throw error;
    }
    if (this.#config.collection === undefined) await this.#db.dropCollection(name);
  }

  async #createTimeseries(name: string): Promise<void> {
    const expire = this.#config.ttlMs === undefined
      ? {}
      : { expireAfterSeconds: Math.ceil(this.#config.ttlMs / 1000) };
    try {
      await this.#db.createCollection(name, {
        timeseries: { timeField: "time", metaField: "host" },
        ...expire,
      });
    } catch (error) {
      if (errorCode(error) !== NAMESPACE_EXISTS) throw error;
      // An existing collection keeps its data; bring its expiry in line with --ttl.
      if (this.#config.ttlMs !== undefined) {
        await this.#db.command({ collMod: name, ...expire });
      }
    }
  }

  /** The collection `name`, created and indexed the first time it is used. */
  #collection(name: string): Promise<Collection> {
    let prepared = this.#collections.get(name);
    if (!prepared) {
      prepared = this.#prepare(name).catch((error) => {
        this.#collections.delete(name);
        throw error;
      });
      this.#collections.set(name, prepared);
    }
    return prepared;
  }

  async #prepare(name: string): Promise<Collection> {
    if (this.#config.timeseries) await this.#createTimeseries(name);
    const collection = this.#db.collection(name);
    await collection.createIndex({ type: 1, time: 1 });
    if (this.#config.ttlMs !== undefined && !this.#config.timeseries) {
      await this.#prepareTtl(collection);
    }
    return collection;
  }

  async #prepareTtl(collection: Collection): Promise<void> {
    const expireAfterSeconds = Math.ceil(this.#config.ttlMs! / 1000);
    if (this.#ttlMode === "index") {
      try {
        await collection.createIndex({ time: 1 }, { expireAfterSeconds });
        return;
      } catch (error) {
        const code = errorCode(error);
        if (code === INDEX_OPTIONS_CONFLICT || code === INDEX_KEY_SPECS_CONFLICT) {
          // A {time: 1} index from an earlier --ttl: change its expiry in place.
          await this.#db.command({
            collMod: collection.collectionName,
            index: { keyPattern: { time: 1 }, expireAfterSeconds },
          });
          return;
        }
        if (!(error instanceof MongoServerError && UNSUPPORTED_CODES.has(Number(code)))) {
          throw error;
        }
        this.#ttlMode = "sweep";
        this.#log(
          `mongodb: the server refuses TTL indexes (${message(error)}); ` +
            `deleting events older than --ttl every ${Math.round(this.#sweepMs() / 1000)}s instead`,
        );
      }
    }
    // Periodic deletes by time want an index that starts with time.
    await collection.createIndex({ time: 1 });
    this.#swept.add(collection.collectionName);
    this.#startSweeping();
  }

  #sweepMs(): number {
    return Math.min(60_000, Math.max(1000, Math.round(this.#config.ttlMs! / 10)));
  }

  #startSweeping(): void {
    if (this.#sweepTimer !== undefined || this.#closed) return;
    void this.sweep();
    this.#sweepTimer = setInterval(() => void this.sweep(), this.#sweepMs());
    Deno.unrefTimer(this.#sweepTimer as unknown as number);
  }

  /**
   * Deletes events older than the TTL from every collection this sink fills, where
   * the server has no TTL indexes; a failure (server down) waits for the next round.
   * Resolves with the number of events deleted.
   */
  async sweep(): Promise<number> {
    if (this.#ttlMode !== "sweep" || this.#sweeping || this.#closed) return 0;
    this.#sweeping = true;
    let deleted = 0;
    try {
      const before = new Date(Date.now() - this.#config.ttlMs!);
      for (const name of this.#swept) {
        const result = await this.#db.collection(name).deleteMany({ time: { $lt: before } });
        deleted += result.deletedCount;
      }
    } catch {
      // The server is down or busy: the next round deletes what this one left.
    } finally {
      this.#sweeping = false;
    }
    return deleted;
  }

  /** What the positions of this sink are saved under: its collection, or `*` for one per type. */
  get #destination(): string {
    return this.#config.collection ?? "*";
  }

  /**
   * The stream positions saved for this sink's destination. A replayed event at
   * or above one is refused by the server (E11000) if it is stored; time-series
   * collections, which refuse nothing, look up the events a crash left in doubt.
   */
  async positions(): Promise<StreamPosition[]> {
    await this.#ensureReady();
    const positions: StreamPosition[] = [];
    const cursor = this.#db.collection<StreamDocument>(STREAMS_COLLECTION).find({
      dest: this.#destination,
    });
    const byKey = new Map<string, StreamPosition>();
    for await (const document of cursor) {
      const position = this.#saved.load(document);
      if (position === undefined) continue;
      positions.push(position);
      byKey.set(`${document.source}-${document.topic}`, position);
    }
    for (const doubt of this.#saved.doubts()) {
      const position = byKey.get(doubt.key);
      if (position !== undefined) position.present = await this.#present(doubt);
    }
    for (const position of positions) {
      if (position.gaps !== undefined) position.gaps = await this.#stillMissing(position);
    }
    return positions;
  }

  /**
   * A saved position's gaps without the events found stored: a crash between a
   * late copy's insert and the save of the gaps it shrank leaves them there, and
   * counting them lost would count a stored event. Gaps larger than
   * `GAP_LOOKUP_MAX` in all are taken as saved (the lookups would take too long).
   */
  async #stillMissing(position: StreamPosition): Promise<number[]> {
    const gaps = position.gaps!;
    let size = 0;
    for (let i = 0; i < gaps.length; i += 2) size += gaps[i + 1] - gaps[i];
    if (size > GAP_LOOKUP_MAX) return [...gaps];
    const source = position.source.toString(16);
    const missing: number[] = [];
    for (let i = 0; i < gaps.length; i += 2) {
      const found = new Set(
        await this.#present({ source, topic: position.topic, next: gaps[i], upto: gaps[i + 1] }),
      );
      let from = gaps[i];
      for (let index = gaps[i]; index <= gaps[i + 1]; index++) {
        if (index < gaps[i + 1] && !found.has(index)) continue;
        if (from < index) missing.push(from, index);
        from = index + 1;
      }
    }
    return missing;
  }

  /** Indexes of a stream's range in doubt whose documents are stored. */
  async #present(
    doubt: { source: string; topic: string; next: number; upto: number },
  ): Promise<number[]> {
    const collection = await this.#collection(
      this.#config.collection ?? collectionForType(doubt.topic),
    );
    const source = BigInt(`0x${doubt.source}`);
    const present: number[] = [];
    for (let from = doubt.next; from < doubt.upto; from += DOUBT_CHUNK) {
      const ids: Document["_id"][] = [];
      for (let i = from; i < Math.min(doubt.upto, from + DOUBT_CHUNK); i++) {
        ids.push(eventId(source, doubt.topic, i));
      }
      const cursor = collection.find({ _id: { $in: ids } }, { projection: { _id: 1 } });
      for await (const { _id } of cursor) {
        present.push(Number(String(_id).slice(String(_id).lastIndexOf("-") + 1)));
      }
    }
    return present;
  }

  /**
   * Saves each stream's `upto` (claims, time-series) or `next`, never moving it
   * back; with `next`, its gaps replace those saved.
   */
  async #save(streams: SavedStream[], field: "next" | "upto"): Promise<void> {
    if (streams.length === 0) return;
    const operations: AnyBulkWriteOperation<StreamDocument>[] = streams.map((stream) => {
      const set: Partial<StreamDocument> = {
        dest: this.#destination,
        source: stream.source,
        topic: stream.topic,
        at: new Date(stream.at),
      };
      const gaps = field === "next" && stream.gaps !== undefined && stream.gaps.length > 0;
      if (gaps) set.gaps = stream.gaps;
      return {
        updateOne: {
          filter: { _id: `${this.#destination}/${stream.key}` },
          update: {
            $max: { [field]: stream.value },
            $set: set,
            ...(field === "next" && !gaps ? { $unset: { gaps: "" as const } } : {}),
          },
          upsert: true,
        },
      };
    });
    await this.#db.collection<StreamDocument>(STREAMS_COLLECTION).bulkWrite(operations, {
      ordered: false,
      writeConcern: this.#writeConcern,
    });
    for (const stream of streams) {
      if (field === "next") this.#saved.advanced(stream);
      else this.#saved.claimed(stream);
    }
  }

  /** Whether some of `documents` fall where a crash left doubt. */
  #inDoubt(documents: Document[]): boolean {
    return documents.some((document) => this.#saved.inDoubt(document._id));
  }

  /**
   * Stores `events`; resolves with how many were refused for good and how many
   * the server already held (duplicates); throws to be retried. With
   * `positions`, each stream's position is saved once the events are.
   */
  async write(events: Event[], positions: StreamPosition[] = []): Promise<WriteResult> {
    this.#duplicates = 0;
    try {
      if (positions.length > 0) {
        await this.#ensureReady();
        await this.#save(this.#saved.claims(positions), "upto");
      }
      const refused = await this.#write(events);
      await this.#save(this.#saved.advances(positions), "next");
      this.#lastWriteFailed = false;
      this.#attempted.clear();
      return { rejected: refused, duplicates: this.#duplicates };
    } catch (error) {
      this.#lastWriteFailed = true;
      // What this attempt stored meets E11000 in the retry: that is ours, not a duplicate.
      for (const event of events) this.#attempted.add(idKey(event._id));
      throw error;
    }
  }

  /**
   * Moves `next` forward with no events (see `SinkBackend.savePositions`); `upto`
   * stays, so a stream's claim may end below its position: no range is in doubt.
   */
  async savePositions(positions: StreamPosition[]): Promise<void> {
    await this.#ensureReady();
    await this.#save(this.#saved.advances(positions), "next");
  }

  /** Counts a document the server already held, unless a failed attempt of ours stored it. */
  #sawStored(id: unknown): void {
    if (!this.#attempted.has(idKey(id))) this.#duplicates++;
  }

  async #write(events: Event[]): Promise<number> {
    await this.#ensureReady();
    const groups = new Map<string, Document[]>();
    const single = this.#config.collection;
    for (const event of events) {
      // The id is set on the event itself, so a retry of this batch reuses it.
      if (event._id === undefined) event._id = new ObjectId();
      const name = single ?? collectionForType(event.type);
      let documents = groups.get(name);
      if (!documents) groups.set(name, documents = []);
      documents.push(safeDocument(event));
    }
    let refused = 0;
    for (const [name, documents] of groups) {
      const collection = await this.#collection(name);
      const fresh = this.#config.timeseries && (this.#lastWriteFailed || this.#inDoubt(documents))
        ? await this.#notStored(collection, documents)
        : documents;
      if (fresh.length > 0) refused += await this.#insert(collection, fresh);
    }
    return refused;
  }

  /**
   * Time-series collections do not enforce unique `_id`s, so after a failed write
   * the documents that did get stored are left out of the retry.
   */
  async #notStored(collection: Collection, documents: Document[]): Promise<Document[]> {
    const stored = new Set<string>();
    const ids = documents.map((document) => document._id);
    const cursor = collection.find({ _id: { $in: ids } }, { projection: { _id: 1 } });
    for await (const found of cursor) stored.add(BSON.EJSON.stringify(found._id));
    if (stored.size === 0) return documents;
    for (const key of stored) if (!this.#attempted.has(key)) this.#duplicates++;
    return documents.filter((document) => !stored.has(BSON.EJSON.stringify(document._id)));
  }

  async #insert(collection: Collection, documents: Document[], lastTry = false): Promise<number> {
    try {
      // Unordered: the server goes on past a bad or duplicate document.
      await collection.insertMany(documents, { ordered: false, writeConcern: this.#writeConcern });
      return 0;
    } catch (error) {
      return await this.#recover(collection, documents, error, lastTry);
    }
  }

  /** Sorts out a failed insert: stored, refused for good, or thrown to be retried. */
  async #recover(
    collection: Collection,
    documents: Document[],
    error: unknown,
    lastTry: boolean,
  ): Promise<number> {
    const writeErrors = error instanceof MongoBulkWriteError
      ? (Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors])
      : [];
    if (error instanceof MongoBulkWriteError && writeErrors.length > 0) {
      if (error.writeConcernError) throw error;
      let refused = 0;
      for (const writeError of writeErrors) {
        if (writeError.code === DUPLICATE_KEY) {
          this.#sawStored(documents[writeError.index]?._id);
          continue;
        }
        if (TRANSIENT_CODES.has(writeError.code)) throw error;
        refused++;
        this.#noteRefusal(writeError.code, writeError.errmsg ?? "");
      }
      // Unordered inserts go on past document errors; a shortfall means a whole
      // sub-batch failed, so the lot is retried (stored ones then meet E11000).
      if (error.result.insertedCount + writeErrors.length < documents.length) throw error;
      return refused;
    }
    let documentProblem = isClientDocumentError(error) ||
      (error instanceof MongoServerError && !isConnectionDrop(error) &&
        DOCUMENT_CODES.has(Number(error.code)));
    if (!documentProblem && isConnectionDrop(error)) {
      // An outage, or a server that hangs up on a document it cannot read (FerretDB
      // does so for NaN and Decimal128): the server answering now tells them apart.
      documentProblem = await this.#reachable();
    }
    if (!documentProblem) throw error;
    const dropped = isConnectionDrop(error);
    if (documents.length === 1) {
      // A lone document that made the server hang up is given one more try, in case
      // the server restarted just then.
      if (dropped && !lastTry) return await this.#insert(collection, documents, true);
      this.#noteRefusal(
        errorCode(error) ?? (dropped ? "connection dropped" : "driver"),
        message(error),
      );
      return 1;
    }
    let refused = 0;
    if (dropped) {
      // Each hang-up costs a reconnection, so find the culprits one by one.
      for (const document of documents) refused += await this.#insert(collection, [document]);
      return refused;
    }
    // Halve until the documents at fault stand alone.
    const middle = documents.length >> 1;
    refused += await this.#insert(collection, documents.slice(0, middle));
    refused += await this.#insert(collection, documents.slice(middle));
    return refused;
  }

  async #reachable(): Promise<boolean> {
    try {
      await this.#db.command({ ping: 1 });
      return true;
    } catch {
      return false;
    }
  }

  #noteRefusal(code: number | string, reason: string): void {
    const key = String(code);
    if (this.#refusalCodes.has(key)) return;
    this.#refusalCodes.add(key);
    this.#log(`mongodb: refused an event for good (${key}: ${reason.split("\n")[0]})`);
  }

  /** Stops the deletes and closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    // A clean stop leaves no doubt: `upto` back to `next` (best effort).
    const ahead = this.#saved.ahead().map((stream) => ({
      updateOne: {
        filter: { _id: `${this.#destination}/${stream.key}` },
        update: { $set: { upto: stream.value } },
      },
    }));
    if (ahead.length > 0) {
      await this.#db.collection<StreamDocument>(STREAMS_COLLECTION).bulkWrite(ahead, {
        ordered: false,
      }).catch(() => {});
    }
    await this.#client.close();
  }
}

function idKey(id: unknown): string {
  return BSON.EJSON.stringify(id as BSON.Document);
}
