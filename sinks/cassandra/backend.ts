/**
 * The Cassandra backend of the sink: prepared inserts with bounded concurrency,
 * idempotent by primary key.
 *
 * @module
 */
import cassandra from "cassandra-driver";
import type { Event } from "@eventstorm/core";
import { UsageError } from "@eventstorm/core/cli";
import type { SinkBackend } from "@eventstorm/core/sink";
import type { CassandraSinkConfig } from "./config.ts";
import {
  createKeyspaceCql,
  createTableCql,
  insertCql,
  rowOf,
  type RowValues,
  type TableName,
} from "./schema.ts";

/** Options of {@linkcode CassandraBackend.open}. */
export interface CassandraBackendOptions {
  /** Where one-line notices go (deferred setup, refusals); stderr by default. */
  log?: (line: string) => void;
  /** The driver's request tracker, told of every request and the node that coordinated it. */
  requestTracker?: cassandra.tracker.RequestTracker;
}

const codes = cassandra.types.responseErrorCodes;

/** Server answers that a statement itself is wrong: the setup cannot go on. */
const CONFIG_CODES = new Set<number>([
  codes.syntaxError,
  codes.invalid,
  codes.configError,
  codes.unauthorized,
  codes.badCredentials,
]);

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
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
    const { keyspace } = this.#config;
    try {
      if (!this.#client.metadata.keyspaces[keyspace]) {
        await this.#client.execute(createKeyspaceCql(keyspace, this.#config.replication));
      }
      await this.#client.execute(createTableCql(this.#table));
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

  /** Stores `events`; resolves with the number refused for good, throws to be retried. */
  async write(events: Event[]): Promise<number> {
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
    return refused + await this.#insertAll(rows);
  }

  /** Runs the inserts with at most `concurrency` in flight; the first failure that passes is thrown. */
  async #insertAll(rows: RowValues[]): Promise<number> {
    let next = 0;
    let refused = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (failure === undefined && next < rows.length) {
        const row = rows[next++];
        try {
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
    return refused;
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
    await this.#client.shutdown();
  }
}
