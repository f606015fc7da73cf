/**
 * Flags and configuration of the MongoDB sink.
 *
 * @module
 */
import { type FlagSpec, type FlagValues, parseDuration, UsageError } from "@eventstorm/core/cli";
import { redactCredentials } from "@eventstorm/core/sink";

/** Write concern of the inserts. */
export interface WriteConcernOption {
  /** Acknowledgement: 0 (none), a number of members, or `majority`. */
  w: number | "majority";
  /** Whether to wait for the journal. */
  journal: boolean;
}

/** Configuration of {@linkcode MongoBackend}. */
export interface MongoSinkConfig {
  /** Connection string. */
  url: string;
  /** Database name. */
  db: string;
  /** One collection for all events; absent means one collection per type. */
  collection?: string;
  /** Keep events this long (ms, by their `time`); absent keeps them forever. */
  ttlMs?: number;
  /** Store in time-series collections (the server must support them). */
  timeseries: boolean;
  /** Write concern; absent means the server's default. */
  writeConcern?: WriteConcernOption;
  /** How long a write waits for a reachable server before it fails (and is retried), ms. */
  timeoutMs: number;
}

/** Defaults of {@linkcode MongoSinkConfig}.
 *
 * @example
 * ```ts
 * import { MONGODB_DEFAULTS } from "@eventstorm/sink-mongodb";
 * console.log(MONGODB_DEFAULTS.url); // "mongodb://127.0.0.1:27017"
 * ```
 */
export const MONGODB_DEFAULTS: {
  readonly url: string;
  readonly db: string;
  readonly timeoutMs: number;
} = { url: "mongodb://127.0.0.1:27017", db: "eventstorm", timeoutMs: 5000 };

/** The MongoDB sink's own flags.
 *
 * @example
 * ```ts
 * import { MONGODB_FLAGS } from "@eventstorm/sink-mongodb";
 * Object.keys(MONGODB_FLAGS).includes("url"); // true
 * ```
 */
export const MONGODB_FLAGS = {
  url: {
    type: "string",
    value: "URL",
    default: MONGODB_DEFAULTS.url,
    help: "MongoDB connection string",
  },
  db: { type: "string", value: "NAME", default: MONGODB_DEFAULTS.db, help: "database" },
  collection: {
    type: "string",
    value: "NAME",
    help: "store every event in this one collection [default: one per type, http.hit → http_hit]",
  },
  ttl: {
    type: "string",
    value: "DURATION",
    help: "delete events older than this (TTL index, or periodic deletes where unsupported)",
  },
  timeseries: {
    type: "boolean",
    help: "use time-series collections (timeField time, metaField host); exit 2 if unsupported",
  },
  "write-concern": {
    type: "string",
    value: "W[,journal]",
    help: "acknowledgement: 0, 1, N or majority, optionally ',journal' [default: server's]",
  },
  timeout: {
    type: "string",
    value: "DURATION",
    default: "5s",
    help: "how long a write waits for the server before it is retried",
  },
} as const satisfies Record<string, FlagSpec>;

/**
 * Parses `--write-concern` text: `0`, `1`, `N` or `majority`, optionally followed by
 * `,journal` (or `,j`).
 *
 * @example
 * ```ts
 * import { parseWriteConcern } from "@eventstorm/sink-mongodb";
 * parseWriteConcern("majority,journal"); // { w: "majority", journal: true }
 * ```
 */
export function parseWriteConcern(text: string): WriteConcernOption {
  const [w, ...rest] = text.split(",").map((part) => part.trim());
  const bad = () =>
    new UsageError(
      `--write-concern must be 0, 1, N or majority, optionally with ',journal', got '${text}'`,
    );
  let level: number | "majority";
  if (w === "majority") level = "majority";
  else if (/^\d{1,2}$/.test(w)) level = Number(w);
  else throw bad();
  let journal = false;
  for (const option of rest) {
    if (option === "journal" || option === "j") journal = true;
    else throw bad();
  }
  if (journal && level === 0) {
    throw new UsageError("--write-concern: journal needs acknowledged writes (w ≥ 1)");
  }
  return { w: level, journal };
}

/** MongoDB database and collection names we accept (NUL cannot come from a flag). */
const DB_NAME = /^[^/\\. "$]{1,63}$/;
const COLLECTION_NAME = /^(?!system\.)[^$]{1,200}$/;

/**
 * Reads the sink's flags into a {@linkcode MongoSinkConfig}; bad values throw a
 * one-line `UsageError`.
 *
 * @example
 * ```ts
 * import { MONGODB_FLAGS, mongoConfigFromFlags } from "@eventstorm/sink-mongodb";
 * import { parseFlags } from "@eventstorm/core/cli";
 * const { values } = parseFlags(["--ttl", "30d"], { name: "x", summary: "", flags: MONGODB_FLAGS });
 * mongoConfigFromFlags(values).ttlMs; // 2592000000
 * ```
 */
export function mongoConfigFromFlags(values: FlagValues<typeof MONGODB_FLAGS>): MongoSinkConfig {
  const url = values.url;
  if (!/^mongodb(\+srv)?:\/\/./.test(url)) {
    throw new UsageError(
      `--url must start with mongodb:// or mongodb+srv://, got '${redactCredentials(url)}'`,
    );
  }
  const db = values.db;
  if (!DB_NAME.test(db)) throw new UsageError(`--db: '${db}' is not a valid database name`);
  const collection = values.collection;
  if (collection !== undefined && !COLLECTION_NAME.test(collection)) {
    throw new UsageError(`--collection: '${collection}' is not a valid collection name`);
  }
  const ttl = values.ttl;
  let ttlMs: number | undefined;
  if (ttl !== undefined) {
    ttlMs = parseDuration(ttl, "ttl", { span: true });
    if (ttlMs < 1000) throw new UsageError(`--ttl must be at least 1s, got '${ttl}'`);
  }
  const writeConcern = values["write-concern"];
  const timeoutMs = parseDuration(values.timeout, "timeout");
  if (timeoutMs < 100) throw new UsageError("--timeout must be at least 100ms");
  return {
    url,
    db,
    collection,
    ttlMs,
    timeseries: values.timeseries,
    writeConcern: writeConcern === undefined ? undefined : parseWriteConcern(writeConcern),
    timeoutMs,
  };
}
