/**
 * The writing half of the store: a connection, and rows into one transaction
 * through prepared statements. It imports nothing but SQLite, so the writer
 * thread that runs it (writer_worker.ts) loads no more than it needs.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { StreamPosition } from "@eventstorm/core/sink";

/** The message of `error`, whatever was thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A connection to the store at `path`; its errors name the path. A writing
 * connection commits with `synchronous=NORMAL`, which each connection sets for
 * itself (the writer thread's had SQLite's FULL, an fsync per batch): in WAL
 * mode a commit then survives a crash of the process.
 */
export function connect(
  path: string,
  options: { readOnly?: boolean; timeout?: number } = {},
): DatabaseSync {
  const readOnly = options.readOnly ?? false;
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { readOnly, timeout: options.timeout ?? 5000 });
  } catch (error) {
    throw new Error(`${path}: cannot open store: ${messageOf(error)}`);
  }
  try {
    if (!readOnly) db.exec("PRAGMA synchronous = NORMAL");
  } catch (error) {
    db.close();
    throw new Error(`${path}: ${messageOf(error)}`);
  }
  return db;
}

/** Rows per multi-row INSERT: fewer calls across the binding, still a short statement. */
const ROWS_PER_STATEMENT = 50;
/** Values per row: type, time, host, id, data. */
export const COLUMNS = 5;
const ROW_SQL = "(?, ?, ?, ?, ?)";

/** Inserts rows, new types and stream positions in one transaction per call. */
export class RowWriter {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #insertMany: StatementSync;
  readonly #insertOne: StatementSync;
  readonly #addType: StatementSync;
  readonly #savePosition: StatementSync;
  readonly #knownTypes = new Set<string>();
  readonly #args: (string | number | null)[] = new Array(ROWS_PER_STATEMENT * COLUMNS);

  /** Prepares the statements on `db`, the store at `path` (for errors), its schema in place. */
  constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
    this.#insertMany = db.prepare(
      `INSERT OR IGNORE INTO events (type, time, host, id, data) VALUES ${
        Array(ROWS_PER_STATEMENT).fill(ROW_SQL).join(", ")
      }`,
    );
    this.#insertOne = db.prepare(
      `INSERT OR IGNORE INTO events (type, time, host, id, data) VALUES ${ROW_SQL}`,
    );
    this.#addType = db.prepare("INSERT OR IGNORE INTO types (type) VALUES (?)");
    this.#savePosition = db.prepare(
      "INSERT INTO streams (source, topic, next, at) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (source, topic) DO UPDATE SET next = max(next, excluded.next), at = excluded.at",
    );
    for (const { type } of db.prepare("SELECT type FROM types").all() as { type: string }[]) {
      this.#knownTypes.add(type);
    }
  }

  /** Whether the types table holds `type` already. */
  knows(type: string): boolean {
    return this.#knownTypes.has(type);
  }

  /**
   * Writes `rows` (COLUMNS values each), the `types` not known yet and
   * `positions` in one transaction; returns how many rows were new (the others
   * had a stored id). Rolls back and throws an Error naming the path and the
   * database's reason.
   */
  write(
    rows: readonly (string | number | null)[],
    types: readonly string[],
    positions: readonly StreamPosition[],
  ): number {
    if (rows.length === 0 && positions.length === 0) return 0;
    const db = this.#db;
    const newTypes = types.filter((type) => !this.#knownTypes.has(type));
    let inserted = 0;
    db.exec("BEGIN IMMEDIATE");
    try {
      for (const type of newTypes) this.#addType.run(type);
      // In the same transaction: a position is never ahead of the rows.
      for (const { source, topic, next, at } of positions) {
        this.#savePosition.run(source.toString(16), topic, next, at);
      }
      const args = this.#args;
      const bulk = ROWS_PER_STATEMENT * COLUMNS;
      let offset = 0;
      for (; offset + bulk <= rows.length; offset += bulk) {
        for (let i = 0; i < bulk; i++) args[i] = rows[offset + i];
        inserted += Number(this.#insertMany.run(...args).changes);
      }
      for (; offset < rows.length; offset += COLUMNS) {
        inserted += Number(
          this.#insertOne.run(
            rows[offset],
            rows[offset + 1],
            rows[offset + 2],
            rows[offset + 3],
            rows[offset + 4],
          ).changes,
        );
      }
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw new Error(`${this.#path}: cannot write batch: ${messageOf(error)}`);
    }
    for (const type of newTypes) this.#knownTypes.add(type);
    return inserted;
  }
}
