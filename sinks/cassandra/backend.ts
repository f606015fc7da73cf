/**
 * The Cassandra backend of the sink: prepared inserts with bounded concurrency,
 * idempotent by primary key.
 *
 * @module
 */
import cassandra from "cassandra-driver";
import type { Event } from "@eventstorm/core";
import { UsageError } from "@eventstorm/core/cli";
import { removeRange, sleep } from "@eventstorm/core/internal";
import {
  parseEventId,
  redactCredentials,
  SavedPositions,
  type SavedStream,
  type SinkBackend,
  type StreamPosition,
  type WriteResult,
} from "@eventstorm/core/sink";
import type { CassandraSinkConfig } from "./config.ts";
import {
  createKeyspaceCql,
  createTableCql,
  insertCql,
  rowOf,
  type RowValues,
  STREAMS_TABLE,
  streamsCql,
  type TableName,
} from "./schema.ts";

/** Partition and time range of a stream's rows: `[type, bucket, first ms, last ms]`. */
type PendingRows = [string, string, number, number];

/** Per stream key (`<source hex>-<topic>`), the JSON of where its rows in `rows` go. */
function partitionsOf(rows: RowValues[]): Map<string, string> {
  const byStream = new Map<string, Map<string, PendingRows>>();
  for (const [type, bucket, time, id] of rows) {
    const parsed = parseEventId(id);
    if (parsed === undefined) continue;
    const key = `${parsed.source.toString(16)}-${parsed.topic}`;
    let partitions = byStream.get(key);
    if (partitions === undefined) byStream.set(key, partitions = new Map());
    const ms = time.getTime();
    const range = partitions.get(`${type}\n${bucket}`);
    if (range === undefined) partitions.set(`${type}\n${bucket}`, [type, bucket, ms, ms]);
    else [range[2], range[3]] = [Math.min(range[2], ms), Math.max(range[3], ms)];
  }
  return new Map([...byStream].map(([key, parts]) => [key, JSON.stringify([...parts.values()])]));
}

/** `pending` as saved, or undefined when it is not what {@linkcode partitionsOf} writes. */
function pendingPartitions(text: unknown): PendingRows[] | undefined {
  if (typeof text !== "string") return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return undefined;
    const valid = parsed.every((p) =>
      Array.isArray(p) && p.length === 4 && typeof p[0] === "string" &&
      typeof p[1] === "string" && Number.isFinite(p[2]) && Number.isFinite(p[3])
    );
    return valid ? parsed as PendingRows[] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How far beyond a batch a stream's `upto` is claimed: nowhere. Each batch claims
 * exactly its own range, with where its rows go (`pending`), so that after a crash
 * the sink reads back which of them were written and counts none of those lost.
 */
const UPTO_SLACK = 0;

/** Options of {@linkcode CassandraBackend.open}. */
export interface CassandraBackendOptions {
  /** Where one-line notices go (deferred setup, refusals); stderr by default. */
  log?: (line: string) => void;
  /** The driver's request tracker, told of every request and the node that coordinated it. */
  requestTracker?: cassandra.tracker.RequestTracker;
}

const codes = cassandra.types.responseErrorCodes;

/** What a node answers for a keyspace or table that other nodes have and it has not yet. */
const UNSETTLED_SCHEMA = /keyspace .* does(n't| not) exist|unconfigured table/i;
/** Setup tries this many times, SCHEMA_RETRY_MS apart, while the schema settles. */
const SCHEMA_ATTEMPTS = 20;
const SCHEMA_RETRY_MS = 500;

/** Server answers that a statement itself is wrong: the setup cannot go on. */
const CONFIG_CODES = new Set<number>([
  codes.syntaxError,
  codes.invalid,
  codes.configError,
  codes.unauthorized,
  codes.badCredentials,
]);

/** The first line of an error's message, without any password in it. */
function message(error: unknown): string {
  return redactCredentials((error instanceof Error ? error.message : String(error)).split("\n")[0]);
}

function responseCode(error: unknown): number | undefined {
  return error instanceof cassandra.errors.ResponseError ? error.code : undefined;
}

function consistencyOf(name: string): number {
  const key = name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
  const level = (cassandra.types.consistencies as unknown as Record<string, number>)[key];
  if (level === undefined) throw new UsageError(`unknown consistency '${name}'`);
  return level;
}

/** The port every contact point names (9042 when none does), or 9042 when they differ. */
function sharedPort(contactPoints: string[]): number {
  const ports = new Set(contactPoints.map((point) => {
    const match = /:(\d+)$/.exec(point);
    return match ? Number(match[1]) : 9042;
  }));
  return ports.size === 1 ? [...ports][0] : 9042;
}

/**
 * Stores events in one Cassandra table, one row per event keyed by
 * `((type, bucket), time, id)`, so a retried or replayed event overwrites its own
 * row. Inserts are prepared, token-aware (sent to a replica of their partition
 * first) and run with at most `concurrency` in flight at the chosen consistency;
 * node failures, timeouts and too few replicas throw, so the sink runner keeps
 * the batch and retries.
 *
 * @example
 * ```ts ignore
 * import { CASSANDRA_DEFAULTS, CassandraBackend } from "@eventstorm/sink-cassandra";
 * const backend = await CassandraBackend.open({ ...CASSANDRA_DEFAULTS, ttlSeconds: 86400 });
 * await backend.write([{ type: "http.hit", time: new Date(), host: "web1", _id: "a-1" }]);
 * await backend.close();
 * ```
 */
export class CassandraBackend implements SinkBackend {
  /** Name for stats. */
  readonly name = "cassandra";
  readonly #config: CassandraSinkConfig;
  readonly #client: cassandra.Client;
  readonly #log: (line: string) => void;
  readonly #insert: string;
  readonly #options: cassandra.QueryOptions;
  readonly #table: TableName;
  readonly #refusals = new Set<string>();
  readonly #streams: ReturnType<typeof streamsCql>;
  /** Saved positions, and where a crash left rows that may or may not be written. */
  readonly #saved = new SavedPositions(UPTO_SLACK);
  /** What the look-ups found, by `_id`, kept until the batch is stored (a retry reuses it). */
  readonly #found = new Map<string, boolean>();
  #ready: Promise<void> | undefined;
  #closed = false;

  /**
   * Connects, creates the keyspace and table when missing and checks the table.
   * A bad `--replication` or an incompatible table throws a `UsageError`; no
   * reachable node does not: setup is then retried with every write.
   */
  static async open(
    config: CassandraSinkConfig,
    options: CassandraBackendOptions = {},
  ): Promise<CassandraBackend> {
    const backend = new CassandraBackend(config, options);
    try {
      await backend.#ensureReady();
    } catch (error) {
      if (error instanceof cassandra.errors.NoHostAvailableError) {
        backend.#log(
          `cassandra: no node reachable yet at ${config.contactPoints.join(", ")} ` +
            `(${message(error)}); retrying with each write`,
        );
        return backend;
      }
      await backend.close();
      throw error;
    }
    return backend;
  }

  private constructor(config: CassandraSinkConfig, options: CassandraBackendOptions) {
    this.#config = config;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#table = { keyspace: config.keyspace, table: config.table };
    this.#insert = insertCql(this.#table, config.ttlSeconds);
    this.#streams = streamsCql(this.#table);
    this.#options = {
      prepare: true,
      isIdempotent: true,
      consistency: consistencyOf(config.consistency),
    };
    this.#client = new cassandra.Client({
      contactPoints: config.contactPoints,
      localDataCenter: config.datacenter,
      socketOptions: {
        connectTimeout: config.timeoutMs,
        readTimeout: config.timeoutMs,
        // A node that answers nothing (stopped, or its host gone) keeps its connections
        // open: after this many unanswered timeouts on one, the driver drops it and takes
        // the node as down until a reconnection succeeds, instead of sending every other
        // insert into a timeout. The driver's 64 is never reached at our concurrency.
        defunctReadTimeoutThreshold: 8,
      },
      policies: {
        // Each insert goes first to a node that holds its partition (the prepared
        // statement tells the driver which columns make the partition key), saving a
        // hop; the other replicas follow, so a stopped node costs one timeout and a retry.
        loadBalancing: new cassandra.policies.loadBalancing.TokenAwarePolicy(
          new cassandra.policies.loadBalancing.DCAwareRoundRobinPolicy(config.datacenter),
        ),
        // The driver's default waits up to 10 minutes between reconnections; an
        // outage of a few seconds should cost about that much.
        reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(
          250,
          5000,
          false,
        ),
      },
      pooling: { warmup: true },
      // The driver takes nodes it discovers at this port (it reads no port from the
      // cluster's peer tables), so a cluster on another port than 9042 works.
      protocolOptions: { port: sharedPort(config.contactPoints) },
      ...(options.requestTracker ? { requestTracker: options.requestTracker } : {}),
    });
  }

  /** The driver's client, for queries beside the sink. */
  get client(): cassandra.Client {
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
    await this.#client.connect();
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#setupSchema();
      } catch (error) {
        // Sinks starting together: another made the keyspace, the driver heard of it, and
        // this statement went to a node the schema has not reached yet. Not a config error.
        // A read that spans nodes fails as a whole when one of them lacks the new table.
        const unsettled = UNSETTLED_SCHEMA.test(message(error)) ||
          responseCode(error) === codes.readFailure;
        if (attempt >= SCHEMA_ATTEMPTS || !unsettled) throw error;
        await sleep(SCHEMA_RETRY_MS);
      }
    }
  }

  async #setupSchema(): Promise<void> {
    const { keyspace } = this.#config;
    try {
      if (!this.#client.metadata.keyspaces[keyspace]) {
        await this.#client.execute(createKeyspaceCql(keyspace, this.#config.replication));
      }
      await this.#client.execute(createTableCql(this.#table));
      await this.#client.execute(this.#streams.create);
      await this.#addPositionColumns();
      // The driver hears of a new keyspace from a schema event a moment later; until then
      // it cannot send an insert to its partition's replicas (token-aware routing).
      if (!this.#client.metadata.keyspaces[keyspace]) {
        await this.#client.metadata.refreshKeyspace(keyspace);
      }
      await this.#awaitSchemaAgreement();
      // Preparing a read of every column checks that an existing table fits.
      await this.#client.execute(
        `SELECT type, bucket, time, id, host, event FROM "${keyspace}"."${this.#config.table}" LIMIT 1`,
        [],
        { prepare: true },
      );
    } catch (error) {
      const code = responseCode(error);
      if (code !== undefined && CONFIG_CODES.has(code)) {
        throw new UsageError(`cassandra: ${message(error)}`);
      }
      throw error;
    }
  }

  /**
   * Waits (as long as setup retries) until the nodes that are up report the same schema:
   * until then a read of the new tables that reaches a node without them fails ("Server
   * failure during read query"), the positions read included. The driver's own wait after
   * each statement that changes the schema can end before the last node has applied it.
   */
  async #awaitSchemaAgreement(): Promise<void> {
    // The driver has it, but not in its type declarations.
    const metadata = this.#client.metadata as unknown as {
      checkSchemaAgreement(): Promise<boolean>;
    };
    for (let attempt = 1; attempt < SCHEMA_ATTEMPTS; attempt++) {
      if (await metadata.checkSchemaAgreement()) return;
      await sleep(SCHEMA_RETRY_MS);
    }
  }

  /**
   * A positions table made before `pending` or `gaps` existed gets the column.
   * Only a table the driver knows and that lacks it is altered: one it does not
   * know yet was just made, by this sink or a peer starting beside it, with them.
   */
  async #addPositionColumns(): Promise<void> {
    const { keyspace } = this.#config;
    if (this.#client.metadata.keyspaces[keyspace] === undefined) return;
    const table = await this.#client.metadata.getTable(keyspace, STREAMS_TABLE);
    if (!table) return;
    for (
      const [column, cql] of [["pending", this.#streams.addPending], [
        "gaps",
        this.#streams.addGaps,
      ]]
    ) {
      if (table.columnsByName?.[column] !== undefined) continue;
      await this.#client.execute(cql).catch((error) => {
        // A peer added it first.
        if (!/conflicts with an existing column|already exist/i.test(message(error))) throw error;
      });
    }
  }

  /**
   * The stream positions saved for this table. Where `upto` is past `next` (a
   * crash between storing a batch and saving its position), the rows the batch
   * was writing are read back: those found are `present`, and a replayed event in
   * that range is stored only if its row is missing.
   */
  async positions(): Promise<StreamPosition[]> {
    await this.#ensureReady();
    const result = await this.#client.execute(this.#streams.select, [this.#config.table], {
      prepare: true,
      consistency: this.#options.consistency,
    });
    const positions = new Map<string, StreamPosition>();
    const pending = new Map<string, unknown>();
    for await (const row of result) {
      const { source, topic, next, upto, at, gaps } = row;
      const position = this.#saved.load({ source, topic, next, upto, at, gaps });
      if (position === undefined) continue;
      const key = `${source}-${topic}`;
      positions.set(key, position);
      if (typeof row.pending === "string") pending.set(key, row.pending);
    }
    for (const doubt of this.#saved.doubts()) {
      const position = positions.get(doubt.key);
      const where = pendingPartitions(pending.get(doubt.key));
      if (position === undefined || where === undefined) continue;
      position.present = (await this.#indexesIn(where, doubt.key)).filter((index) =>
        index >= doubt.next && index < doubt.upto
      );
    }
    // Late copies a crash stored before the gaps they shrank were saved: out of the gaps.
    for (const [key, position] of positions) {
      const where = pendingPartitions(pending.get(key));
      if (position.gaps === undefined || where === undefined) continue;
      let gaps = position.gaps;
      for (const index of await this.#indexesIn(where, key)) {
        gaps = removeRange(gaps, index, index + 1);
      }
      position.gaps = gaps;
    }
    return [...positions.values()];
  }

  /** Indexes of the stream `key` whose rows are in the partitions and time ranges `where`. */
  async #indexesIn(where: PendingRows[], key: string): Promise<number[]> {
    const indexes: number[] = [];
    for (const [type, bucket, from, to] of where) {
      const ids = await this.#client.execute(
        this.#streams.idsBetween,
        [type, bucket, new Date(from), new Date(to)],
        { ...this.#options, fetchSize: 5000 },
      );
      for await (const { id } of ids) {
        const parsed = parseEventId(id);
        if (parsed !== undefined && `${parsed.source.toString(16)}-${parsed.topic}` === key) {
          indexes.push(parsed.index);
        }
      }
    }
    return indexes;
  }

  /**
   * Stores `events`; resolves with the number refused for good and ignored as
   * already stored; throws to be retried. With `positions`, each stream's
   * `upto` is saved before the rows, its `next` after them.
   */
  async write(events: Event[], positions: StreamPosition[] = []): Promise<WriteResult> {
    await this.#ensureReady();
    const rows: RowValues[] = [];
    let refused = 0;
    for (const event of events) {
      // The id is set on the event itself, so a retry of this batch reuses it.
      if (event._id === undefined) event._id = crypto.randomUUID();
      try {
        rows.push(rowOf(event, this.#config.bucket));
      } catch (error) {
        refused++;
        this.#noteRefusal("encoding", message(error));
      }
    }
    await this.#claim(positions, rows);
    const { rejected, duplicates } = await this.#insertAll(rows);
    this.#found.clear();
    await this.#advance(positions);
    return { rejected: refused + rejected, duplicates };
  }

  /**
   * Saves `upto` at the end of each stream of the batch, and where its rows go,
   * before they are written.
   */
  async #claim(positions: StreamPosition[], rows: RowValues[]): Promise<void> {
    const claims = this.#saved.claims(positions);
    // A stream with gaps saved may be filling them (late copies, below `next`): where its
    // rows go is saved too, so that after a crash before its gaps are saved again the
    // start finds them stored (see `positions`).
    const claimed = new Set(claims.map(({ key }) => key));
    const filling = positions.map(({ source, topic }) => `${source.toString(16)}-${topic}`)
      .filter((key) => !claimed.has(key) && this.#saved.hasGaps(key));
    if (claims.length === 0 && filling.length === 0) return;
    const partitions = partitionsOf(rows);
    if (claims.length > 0) await this.#save(this.#streams.saveUpto, claims, false, partitions);
    await Promise.all(filling.map(async (key) => {
      const dash = key.indexOf("-");
      const where = [partitions.get(key) ?? null, this.#config.table, key.slice(0, dash)];
      await this.#client.execute(
        this.#streams.savePending,
        [...where, key.slice(dash + 1)],
        this.#options,
      );
    }));
  }

  /**
   * Moves `next` forward with no rows (see `SinkBackend.savePositions`); `upto`
   * stays, so a stream's claim may end below its position: no range is in doubt.
   */
  async savePositions(positions: StreamPosition[]): Promise<void> {
    await this.#ensureReady();
    await this.#advance(positions);
  }

  /** Saves `next` for each stream of a batch whose rows are all written. */
  async #advance(positions: StreamPosition[]): Promise<void> {
    await this.#save(this.#streams.saveNext, this.#saved.advances(positions), true);
  }

  async #save(
    cql: string,
    streams: SavedStream[],
    next: boolean,
    pending = new Map<string, string>(),
  ): Promise<void> {
    await Promise.all(streams.map(async (stream) => {
      const where = [this.#config.table, stream.source, stream.topic];
      const gaps = stream.gaps !== undefined && stream.gaps.length > 0
        ? JSON.stringify(stream.gaps)
        : null;
      const values = next
        ? [stream.value, new Date(stream.at), gaps, ...where]
        : [stream.value, pending.get(stream.key) ?? null, ...where];
      await this.#client.execute(cql, values, this.#options);
      if (next) this.#saved.advanced(stream);
      else this.#saved.claimed(stream);
    }));
  }

  /** Whether a replayed event's row is already there (it falls where a crash left doubt). */
  async #stored(row: RowValues): Promise<boolean> {
    const id = row[3];
    if (!this.#saved.inDoubt(id)) return false;
    let found = this.#found.get(id);
    if (found === undefined) {
      const result = await this.#client.execute(this.#streams.exists, row.slice(0, 4), {
        ...this.#options,
      });
      found = result.rowLength > 0;
      this.#found.set(id, found);
    }
    return found;
  }

  /**
   * Runs the inserts with at most `concurrency` in flight; the first failure that
   * passes is thrown.
   */
  async #insertAll(rows: RowValues[]): Promise<{ rejected: number; duplicates: number }> {
    let next = 0;
    let refused = 0;
    let duplicates = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (failure === undefined && next < rows.length) {
        const row = rows[next++];
        try {
          if (await this.#stored(row)) {
            duplicates++;
            continue;
          }
          await this.#client.execute(this.#insert, row, this.#options);
        } catch (error) {
          // The server called this row invalid (too large, say): retrying cannot help.
          if (responseCode(error) === codes.invalid) {
            refused++;
            this.#noteRefusal("invalid", message(error));
          } else {
            failure ??= { error };
          }
        }
      }
    };
    const workers = Math.min(this.#config.concurrency, rows.length);
    await Promise.all(Array.from({ length: workers }, worker));
    if (failure) throw failure.error;
    return { rejected: refused, duplicates };
  }

  #noteRefusal(kind: string, reason: string): void {
    if (this.#refusals.has(kind)) return;
    this.#refusals.add(kind);
    this.#log(`cassandra: refused an event for good (${kind}: ${reason})`);
  }

  /** Closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A clean stop leaves no doubt: `upto` back to `next`, so the next start
    // looks nothing up. Best effort: with the cluster gone, that start checks.
    await this.#save(this.#streams.saveUpto, this.#saved.ahead(), false).catch(() => {});
    await this.#client.shutdown();
  }
}
