/**
 * The SQLite layout of an event store, and bringing a file up to it.
 *
 * One row per event: the envelope in columns (`type`, `time` as integer epoch
 * milliseconds, `host`), the identity in `id` (the Extended JSON text of `_id`,
 * so `"7"` and `7` stay distinct; none for an event stored with its stream's
 * position, which is what identifies it then) and every other field as JSON in
 * `data`.
 * `types` lists every type ever stored: queries without a type, or with a type
 * prefix, walk the `(type, time)` index once per listed type, which spares a
 * second index on `time` and its cost on every insert.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";

/** Version written to `PRAGMA user_version` by this code.
 *
 * @example
 * ```ts
 * import { SCHEMA_VERSION } from "@eventstorm/sink-store";
 * console.log(SCHEMA_VERSION); // 1
 * ```
 */
export const SCHEMA_VERSION = 1;

const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  time INTEGER NOT NULL,
  host TEXT NOT NULL,
  id TEXT,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_type_time ON events (type, time);
CREATE UNIQUE INDEX IF NOT EXISTS events_id ON events (id) WHERE id IS NOT NULL;
CREATE TABLE IF NOT EXISTS types (type TEXT PRIMARY KEY) WITHOUT ROWID;
`;

/**
 * Stream positions (docs/stored.md): per `(source, topic)`, the index after the
 * last event stored, written in the transaction that stores the events, and the
 * gaps below it still open then (JSON `[from, to, ...]`, NULL for none).
 */
const STREAMS_TABLE = `
CREATE TABLE IF NOT EXISTS streams (
  source TEXT NOT NULL,
  topic TEXT NOT NULL,
  next INTEGER NOT NULL,
  at INTEGER NOT NULL,
  gaps TEXT,
  PRIMARY KEY (source, topic)
) WITHOUT ROWID;
`;

/**
 * Creates the tables and indexes of an empty file, or checks that an existing
 * file has a layout this code understands. Throws an `Error` naming the version
 * when the file was written by a newer eventstorm.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { ensureSchema } from "@eventstorm/sink-store";
 * const db = new DatabaseSync(":memory:");
 * ensureSchema(db);
 * ```
 */
export function ensureSchema(db: DatabaseSync): void {
  const version = userVersion(db);
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `the store was written by a newer eventstorm (schema ${version}, this one knows ${SCHEMA_VERSION})`,
    );
  }
  // Added to version 1 files as they are opened for writing: readers ignore it.
  db.exec(STREAMS_TABLE);
  // A table made before gaps were saved gets the column (its rows: no gaps).
  const columns = db.prepare("PRAGMA table_info(streams)").all() as { name: string }[];
  if (!columns.some(({ name }) => name === "gaps")) {
    db.exec("ALTER TABLE streams ADD COLUMN gaps TEXT");
  }
  if (version === SCHEMA_VERSION) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(SCHEMA_V1);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * Checks, without writing, that a file opened read-only is an event store.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { checkSchema, ensureSchema } from "@eventstorm/sink-store";
 * const db = new DatabaseSync(":memory:");
 * ensureSchema(db);
 * checkSchema(db);
 * ```
 */
export function checkSchema(db: DatabaseSync): void {
  const version = userVersion(db);
  if (version === 0) throw new Error("not an eventstorm store (no events table)");
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `the store was written by a newer eventstorm (schema ${version}, this one knows ${SCHEMA_VERSION})`,
    );
  }
}

function userVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get() as { user_version: number } | undefined;
  return row?.user_version ?? 0;
}
