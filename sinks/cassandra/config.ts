/**
 * Flags and configuration of the Cassandra sink.
 *
 * @module
 */
import {
  choiceFlag,
  type FlagSpec,
  type FlagValues,
  integerFlag,
  parseDuration,
  UsageError,
} from "@eventstorm/core/cli";
import { type Bucket, IDENTIFIER } from "./schema.ts";

/**
 * Write consistency levels by flag name.
 *
 * @example
 * ```ts
 * import { CONSISTENCIES } from "@eventstorm/sink-cassandra";
 * CONSISTENCIES.includes("local_quorum"); // true
 * ```
 */
export const CONSISTENCIES: readonly string[] = [
  "any",
  "one",
  "two",
  "three",
  "quorum",
  "all",
  "local_quorum",
  "each_quorum",
  "local_one",
];

/**
 * Longest TTL Cassandra accepts: 20 years, in seconds.
 *
 * @example
 * ```ts
 * import { MAX_TTL_SECONDS } from "@eventstorm/sink-cassandra";
 * MAX_TTL_SECONDS / 86400; // 7300
 * ```
 */
export const MAX_TTL_SECONDS = 630_720_000;

/** Configuration of {@linkcode CassandraBackend}. */
export interface CassandraSinkConfig {
  /** `host:port` (or `host`, port 9042) of nodes to contact first. */
  contactPoints: string[];
  /** The local datacenter's name. */
  datacenter: string;
  /** Keyspace, created when missing. */
  keyspace: string;
  /** Table, created when missing. */
  table: string;
  /** CQL replication map for a keyspace that has to be created. */
  replication: string;
  /** Partition width. */
  bucket: Bucket;
  /** Row expiry in seconds (`USING TTL`); absent keeps rows. */
  ttlSeconds?: number;
  /** Write consistency (one of {@linkcode CONSISTENCIES}). */
  consistency: string;
  /** Inserts in flight at most. */
  concurrency: number;
  /** How long to wait for a node's answer before the write fails (and is retried), ms. */
  timeoutMs: number;
}

/** Defaults of {@linkcode CassandraSinkConfig}.
 *
 * @example
 * ```ts
 * import { CASSANDRA_DEFAULTS } from "@eventstorm/sink-cassandra";
 * console.log(CASSANDRA_DEFAULTS.keyspace); // "eventstorm"
 * ```
 */
export const CASSANDRA_DEFAULTS: Omit<CassandraSinkConfig, "ttlSeconds"> = {
  contactPoints: ["127.0.0.1:9042"],
  datacenter: "datacenter1",
  keyspace: "eventstorm",
  table: "events",
  replication: "{'class': 'SimpleStrategy', 'replication_factor': 1}",
  bucket: "hour",
  consistency: "local_quorum",
  concurrency: 64,
  timeoutMs: 12_000,
};

/** The Cassandra sink's own flags.
 *
 * @example
 * ```ts
 * import { CASSANDRA_FLAGS } from "@eventstorm/sink-cassandra";
 * Object.keys(CASSANDRA_FLAGS).includes("keyspace"); // true
 * ```
 */
export const CASSANDRA_FLAGS = {
  "contact-points": {
    type: "string",
    multiple: true,
    value: "HOST:PORT,...",
    default: CASSANDRA_DEFAULTS.contactPoints,
    help: "nodes to contact first (comma-separated or repeated); the others are discovered",
  },
  datacenter: {
    type: "string",
    value: "NAME",
    default: CASSANDRA_DEFAULTS.datacenter,
    help: "local datacenter",
  },
  keyspace: {
    type: "string",
    value: "NAME",
    default: CASSANDRA_DEFAULTS.keyspace,
    help: "keyspace (created when missing)",
  },
  table: {
    type: "string",
    value: "NAME",
    default: CASSANDRA_DEFAULTS.table,
    help: "table (created when missing)",
  },
  replication: {
    type: "string",
    value: "MAP",
    default: CASSANDRA_DEFAULTS.replication,
    help: "replication of a keyspace the sink creates (CQL map)",
  },
  bucket: {
    type: "string",
    value: "hour|day",
    default: CASSANDRA_DEFAULTS.bucket,
    help: "partition per type and hour or per type and day",
  },
  ttl: { type: "string", value: "DURATION", help: "rows expire this long after writing" },
  consistency: {
    type: "string",
    value: "LEVEL",
    default: CASSANDRA_DEFAULTS.consistency,
    help: `write consistency: ${CONSISTENCIES.join(", ")}` as string,
  },
  concurrency: {
    type: "string",
    value: "N",
    default: String(CASSANDRA_DEFAULTS.concurrency) as string,
    help: "inserts in flight at most",
  },
  timeout: {
    type: "string",
    value: "DURATION",
    default: "12s",
    help: "how long to wait for a node before a write is retried",
  },
} as const satisfies Record<string, FlagSpec>;

/**
 * Reads the sink's flags into a {@linkcode CassandraSinkConfig}; bad values throw
 * a one-line `UsageError`.
 *
 * @example
 * ```ts
 * import { CASSANDRA_FLAGS, cassandraConfigFromFlags } from "@eventstorm/sink-cassandra";
 * import { parseFlags } from "@eventstorm/core/cli";
 * const { values } = parseFlags(["--bucket", "day"], {
 *   name: "x", summary: "", flags: CASSANDRA_FLAGS,
 * });
 * cassandraConfigFromFlags(values).bucket; // "day"
 * ```
 */
export function cassandraConfigFromFlags(
  values: FlagValues<typeof CASSANDRA_FLAGS>,
): CassandraSinkConfig {
  const contactPoints = values["contact-points"]
    .flatMap((text) => text.split(","))
    .map((text) => text.trim())
    .filter((text) => text !== "");
  if (contactPoints.length === 0) {
    throw new UsageError("--contact-points needs at least one host[:port]");
  }
  for (const point of contactPoints) {
    const match = point.match(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+)(?::(\d{1,5}))?$/);
    if (!match || (match[2] !== undefined && (Number(match[2]) < 1 || Number(match[2]) > 65535))) {
      throw new UsageError(`--contact-points: '${point}' is not host[:port]`);
    }
  }
  const name = (flag: "keyspace" | "table") => {
    const value = values[flag];
    if (!IDENTIFIER.test(value)) {
      throw new UsageError(`--${flag} must be letters, digits and _ (at most 48), got '${value}'`);
    }
    return value;
  };
  const replication = values.replication.trim();
  if (!/^\{[^;]*\}$/.test(replication)) {
    throw new UsageError(
      `--replication must be a CQL map like {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
  }
  const bucket = choiceFlag(values, "bucket", ["hour", "day"]);
  const ttl = values.ttl;
  let ttlSeconds: number | undefined;
  if (ttl !== undefined) {
    ttlSeconds = Math.round(parseDuration(ttl, "ttl", { span: true }) / 1000);
    if (ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) {
      throw new UsageError(`--ttl must be from 1s to 20 years (7300d), got '${ttl}'`);
    }
  }
  const consistency = values.consistency.toLowerCase();
  if (!CONSISTENCIES.includes(consistency)) {
    throw new UsageError(
      `--consistency must be one of ${CONSISTENCIES.join(", ")}, got '${consistency}'`,
    );
  }
  const timeoutMs = parseDuration(values.timeout, "timeout");
  if (timeoutMs < 100) throw new UsageError("--timeout must be at least 100ms");
  return {
    contactPoints,
    datacenter: values.datacenter,
    keyspace: name("keyspace"),
    table: name("table"),
    replication,
    bucket,
    ttlSeconds,
    consistency,
    concurrency: integerFlag(values, "concurrency", { min: 1, max: 4096 }),
    timeoutMs,
  };
}
