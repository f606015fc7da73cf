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
 * Numbers per row: type and host (indexes of strings), time, the lengths of its
 * id (-1 for none) and of its data in the batch's text (see {@linkcode RowBatch}),
 * and its stream (an index in `streams`, -1 for none) and index in that stream.
 */
export const COLUMNS = 7;
/** Values bound per row: type, time, host, id, data. */
const BOUND = 5;
// The id and data arrive as UTF-8 bytes, which SQLite would keep as BLOBs: the cast
// makes them TEXT without a copy through a JavaScript string (checked as UTF-8 when read).
const ROW_SQL = "(?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT))";

/** A value bound to one of ROW_SQL's parameters. */
type BoundValue = string | number | null | Uint8Array;

/**
 * Rows to write: {@linkcode COLUMNS} numbers each in `rows` (type and host as
 * indexes in `strings`, time, the lengths of the id's JSON, -1 for none, and
 * of the data's JSON, the stream as an index in `streams`, -1 for none, and the
 * index in it), each row's data then id in `text`, and the `types` among them
 * the store may not know yet.
 */
export interface RowBatch {
  rows: Float64Array;
  strings: readonly string[];
  /** The streams of the rows, as the streams table names them: source in hex, topic. */
  streams: readonly (readonly [source: string, topic: string])[];
  text: Uint8Array;
  types: readonly string[];
}

/**
 * Puts the row at `rows[offset]` into `args` from `at`, its data and id cut from
 * `text` at `textAt` (its id bound as NULL unless `withId`); returns where the
 * next row's text starts.
 */
function bindRow(
  args: BoundValue[],
  at: number,
  { rows, strings, text }: RowBatch,
  offset: number,
  textAt: number,
  withId: boolean,
): number {
  args[at] = strings[rows[offset]];
  args[at + 1] = rows[offset + 1];
  args[at + 2] = strings[rows[offset + 2]];
  // Its data first, then its id: the store appends the id once the data was read.
  args[at + 4] = text.subarray(textAt, textAt += rows[offset + 4]);
  const id = rows[offset + 3];
  if (id < 0) args[at + 3] = null;
  else {
    args[at + 3] = withId ? text.subarray(textAt, textAt + id) : null;
    textAt += id;
  }
  return textAt;
}

/**
 * What the file holds of one stream of a batch when its transaction starts: the
 * saved position's `next` and gaps (nothing is below `next` for a stream never
 * saved), and whether the batch saves a position for it.
 */
interface StreamState {
  next: number;
  gaps: number[];
  positioned: boolean;
}

/** Whether the event `index` of `stream` is stored already (or was counted, lost or dropped). */
function storedAlready({ next, gaps }: StreamState, index: number): boolean {
  if (index >= next) return false;
  for (let i = 0; i + 1 < gaps.length; i += 2) {
    if (gaps[i] <= index && index < gaps[i + 1]) return false;
  }
  return true;
}

/**
 * The gaps to save for a stream: what is settled neither by the file's saved
 * position nor by the writer's view (`next`, `gaps`), below the larger `next`.
 * One writer's view never reopens what it saved, so alone it saves its gaps as
 * they are; when a second writer of the file takes the same stream, what one
 * stored stays settled and what one still waits for stays open, whichever saves
 * last (replacing the gaps had lost a gap the other still held, or stored a late
 * copy twice).
 */
export function gapsToSave(saved: StreamState, next: number, gaps: readonly number[]): number[] {
  if (gaps.length === 0 && saved.gaps.length === 0) return [];
  const end = Math.max(saved.next, next);
  // Each side's open indexes: its gaps, then everything from its next on.
  const ours = [...gaps, next, Infinity], theirs = [...saved.gaps, saved.next, Infinity];
  const open: number[] = [];
  let i = 0, j = 0;
  while (i < ours.length && j < theirs.length) {
    const from = Math.max(ours[i], theirs[j]);
    const to = Math.min(ours[i + 1], theirs[j + 1], end);
    // A gap of one side that reaches its next meets that side's tail: one range.
    if (from < to && open.at(-1) === from) open[open.length - 1] = to;
    else if (from < to) open.push(from, to);
    if (ours[i + 1] < theirs[j + 1]) i += 2;
    else j += 2;
  }
  return open;
}

/**
 * The flat `[from, to)` pairs of a saved `gaps` column, written by this store
 * (NULL: none). A column this store did not write reads as everything below
 * `next` open: an event stored twice is better than a late copy skipped unseen.
 */
function savedGaps(text: string | null, next: number): number[] {
  if (text === null) return [];
  let gaps: unknown;
  try {
    gaps = JSON.parse(text);
  } catch {
    gaps = undefined;
  }
  // Pairs in order, each [from, to) not empty; two may touch.
  const valid = Array.isArray(gaps) && gaps.length % 2 === 0 &&
    gaps.every((at, i) =>
      Number.isSafeInteger(at) && (i === 0 || (i % 2 === 1 ? at > gaps[i - 1] : at >= gaps[i - 1]))
    );
  if (valid) return gaps as number[];
  return next > 0 ? [0, next] : [];
}

/**
 * Inserts rows, new types and stream positions in one transaction per call.
 *
 * A row of a stream is skipped as a duplicate when the file's saved position of
 * that stream covers it (below `next`, outside the saved gaps), read in the
 * transaction: that is what makes the writes of a sink idempotent, as one lookup
 * per stream and batch. A row of a stream the batch saves a position for is
 * written without its id: keeping the unique index on `id` up to date took a
 * quarter of SQLite's time per event (bench/e2e_bench.ts). The ids of other rows
 * (an event's own `_id`, a message stored without positions) keep that index's
 * check.
 */
export class RowWriter {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #insertMany: StatementSync;
  readonly #insertOne: StatementSync;
  readonly #addType: StatementSync;
  readonly #savePosition: StatementSync;
  readonly #savedPosition: StatementSync;
  readonly #knownTypes = new Set<string>();
  readonly #args: BoundValue[] = new Array(ROWS_PER_STATEMENT * BOUND);
  readonly #oneArgs: BoundValue[] = new Array(BOUND);

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
    this.#savedPosition = db.prepare(
      "SELECT next, gaps FROM streams WHERE source = ? AND topic = ?",
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
   * in one transaction; returns how many rows were new (the others were
   * covered by their stream's saved position or had a stored id). Rolls back
   * and throws an Error naming the path and the database's reason.
   */
  write(batch: RowBatch, positions: readonly StreamPosition[]): number {
    const rows = batch.rows;
    if (rows.length === 0 && positions.length === 0) return 0;
    const db = this.#db;
    const newTypes = batch.types.filter((type) => !this.#knownTypes.has(type));
    let inserted = 0;
    db.exec("BEGIN IMMEDIATE");
    try {
      // Read before this batch's positions are saved over them.
      const saved = new Map<string, StreamState>();
      for (const { source, topic } of positions) {
        const hex = source.toString(16);
        saved.set(`${hex}\n${topic}`, { ...this.#saved(hex, topic), positioned: true });
      }
      const streams = batch.streams.map(([source, topic]) =>
        saved.get(`${source}\n${topic}`) ?? { ...this.#saved(source, topic), positioned: false }
      );
      for (const type of newTypes) this.#addType.run(type);
      // In the same transaction: a position is never ahead of the rows.
      for (const { source, topic, next, at, gaps } of positions) {
        const hex = source.toString(16);
        const open = gapsToSave(saved.get(`${hex}\n${topic}`)!, next, gaps ?? []);
        this.#savePosition.run(hex, topic, next, at, open.length > 0 ? JSON.stringify(open) : null);
      }
      const args = this.#args;
      let textAt = 0, bound = 0;
      for (let offset = 0; offset < rows.length; offset += COLUMNS) {
        let withId = true;
        const stream = rows[offset + 5];
        if (stream >= 0) {
          const state = streams[stream];
          if (storedAlready(state, rows[offset + 6])) {
            textAt += rows[offset + 4] + Math.max(rows[offset + 3], 0);
            continue;
          }
          withId = !state.positioned;
        }
        textAt = bindRow(args, bound * BOUND, batch, offset, textAt, withId);
        if (++bound === ROWS_PER_STATEMENT) {
          inserted += Number(this.#insertMany.run(...args).changes);
          bound = 0;
        }
      }
      const one = this.#oneArgs;
      for (let row = 0; row < bound; row++) {
        for (let i = 0; i < BOUND; i++) one[i] = args[row * BOUND + i];
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

  /** The file's saved position of a stream (next 0 and no gaps for one never saved). */
  #saved(source: string, topic: string): { next: number; gaps: number[] } {
    const saved = this.#savedPosition.get(source, topic) as
      | { next: number; gaps: string | null }
      | undefined;
    const next = saved?.next ?? 0;
    return { next, gaps: savedGaps(saved?.gaps ?? null, next) };
  }
}
