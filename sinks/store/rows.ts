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
/**
 * Numbers per row: type and host (indexes of strings), time, and the lengths of its
 * id (-1 for none) and of its data in the batch's text (see {@linkcode RowBatch}).
 */
export const COLUMNS = 5;
// The id and data arrive as UTF-8 bytes, which SQLite would keep as BLOBs: the cast
// makes them TEXT without a copy through a JavaScript string (checked as UTF-8 when read).
const ROW_SQL = "(?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT))";

/** A value bound to one of ROW_SQL's parameters. */
type BoundValue = string | number | null | Uint8Array;

/**
 * Rows to write: {@linkcode COLUMNS} numbers each in `rows` (type and host as
 * indexes in `strings`, time, and the lengths of the id's JSON, -1 for none, and
 * of the data's JSON), each row's data then id in `text`, and the `types` among
 * them the store may not know yet.
 */
export interface RowBatch {
  rows: Float64Array;
  strings: readonly string[];
  text: Uint8Array;
  types: readonly string[];
}

/**
 * Puts the row at `rows[offset]` into `args` from `at`, its data and id cut from
 * `text` at `textAt`; returns where the next row's text starts.
 */
function bindRow(
  args: BoundValue[],
  at: number,
  { rows, strings, text }: RowBatch,
  offset: number,
  textAt: number,
): number {
  args[at] = strings[rows[offset]];
  args[at + 1] = rows[offset + 1];
  args[at + 2] = strings[rows[offset + 2]];
  // Its data first, then its id: the store appends the id once the data was read.
  args[at + 4] = text.subarray(textAt, textAt += rows[offset + 4]);
  const id = rows[offset + 3];
  args[at + 3] = id < 0 ? null : text.subarray(textAt, textAt += id);
  return textAt;
}

/** Inserts rows, new types and stream positions in one transaction per call. */
export class RowWriter {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #insertMany: StatementSync;
  readonly #insertOne: StatementSync;
  readonly #addType: StatementSync;
  readonly #savePosition: StatementSync;
  readonly #knownTypes = new Set<string>();
  readonly #args: BoundValue[] = new Array(ROWS_PER_STATEMENT * COLUMNS);
  readonly #oneArgs: BoundValue[] = new Array(COLUMNS);

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
      "INSERT INTO streams (source, topic, next, at, gaps) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (source, topic) DO UPDATE SET next = max(next, excluded.next), " +
        "at = excluded.at, gaps = excluded.gaps",
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
   * Writes the rows of `batch`, the types of it not known yet and `positions`
   * in one transaction; returns how many rows were
   * new (the others had a stored id). Rolls back and throws an Error naming the
   * path and the database's reason.
   */
  write(batch: RowBatch, positions: readonly StreamPosition[]): number {
    const rows = batch.rows;
    if (rows.length === 0 && positions.length === 0) return 0;
    const db = this.#db;
    const newTypes = batch.types.filter((type) => !this.#knownTypes.has(type));
    let inserted = 0;
    db.exec("BEGIN IMMEDIATE");
    try {
      for (const type of newTypes) this.#addType.run(type);
      // In the same transaction: a position is never ahead of the rows.
      // The gaps are the runner's latest view of the stream (docs/stored.md): they replace.
      for (const { source, topic, next, at, gaps } of positions) {
        const open = gaps !== undefined && gaps.length > 0 ? JSON.stringify(gaps) : null;
        this.#savePosition.run(source.toString(16), topic, next, at, open);
      }
      const args = this.#args;
      const bulk = ROWS_PER_STATEMENT * COLUMNS;
      let offset = 0, textAt = 0;
      for (; offset + bulk <= rows.length; offset += bulk) {
        for (let i = 0; i < bulk; i += COLUMNS) {
          textAt = bindRow(args, i, batch, offset + i, textAt);
        }
        inserted += Number(this.#insertMany.run(...args).changes);
      }
      const one = this.#oneArgs;
      for (; offset < rows.length; offset += COLUMNS) {
        textAt = bindRow(one, 0, batch, offset, textAt);
        inserted += Number(this.#insertOne.run(...one).changes);
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
