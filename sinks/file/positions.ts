/**
 * The file sink's stream positions (docs/stored.md): `DIR/.positions`, one JSON
 * line per stream that a batch moved, appended right after the batch's documents
 * and before any segment it rolled past is finished, so that documents a crash
 * left beyond the file are all in `.part` segments, which recovery reads.
 *
 * @module
 */
import { removeRange, sameRanges } from "@eventstorm/core/internal";
import { gapsOf, parseEventId, type StreamPosition } from "@eventstorm/core/sink";

/**
 * Name of the positions file in the archive directory.
 *
 * @example
 * ```ts
 * import { POSITIONS_FILE } from "@eventstorm/sink-file";
 * POSITIONS_FILE; // ".positions"
 * ```
 */
export const POSITIONS_FILE = ".positions";

/**
 * Stream positions kept in an append-only file, rewritten whole (to a temporary
 * file, then renamed) when it opens and whenever it holds four times more lines
 * than streams. A torn last line (a crash) is ignored: that position is then
 * behind what is stored, never ahead.
 *
 * @example
 * ```ts
 * import { PositionLog } from "@eventstorm/sink-file";
 * const dir = await Deno.makeTempDir();
 * const log = await PositionLog.open(dir);
 * await log.compact();
 * await log.save([{ source: 255n, topic: "a", next: 3, at: 0 }]);
 * log.close();
 * (await PositionLog.open(dir)).positions(); // [{ source: 255n, topic: "a", next: 3, at: 0 }]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class PositionLog {
  readonly #path: string;
  /** By `<source hex>-<topic>`. */
  readonly #streams = new Map<string, StreamPosition>();
  #file: Deno.FsFile | undefined;
  #lines = 0;

  private constructor(path: string) {
    this.#path = path;
  }

  /** Reads the positions file of `dir` (none yet is no position). */
  static async open(dir: string): Promise<PositionLog> {
    const log = new PositionLog(`${dir}/${POSITIONS_FILE}`);
    let text = "";
    try {
      text = await Deno.readTextFile(log.#path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    for (const line of text.split("\n")) {
      if (line === "") continue;
      try {
        const { s, t, n, a, g } = JSON.parse(line);
        if (typeof s !== "string" || !/^[0-9a-f]{1,16}$/.test(s) || typeof t !== "string") continue;
        if (!Number.isSafeInteger(n) || n < 0 || typeof a !== "number") continue;
        // A line without `g` (none, or written before gaps were saved) has no gaps.
        log.#advance({ source: BigInt(`0x${s}`), topic: t, next: n, at: a, gaps: gapsOf(g) });
      } catch {
        // A line torn by a crash: the position it held is behind the documents, which
        // recovery then reads from the `.part` segments.
      }
    }
    return log;
  }

  /**
   * Takes a position: `next` only moves forward, the gaps are replaced (the
   * runner's latest view, see `StreamPosition.gaps`). Returns the stream's new
   * state when it changed, else undefined.
   */
  #advance(position: StreamPosition): StreamPosition | undefined {
    const key = `${position.source.toString(16)}-${position.topic}`;
    const known = this.#streams.get(key);
    const gaps = position.gaps ?? [];
    const sameGaps = sameRanges(known?.gaps ?? [], gaps);
    if (known !== undefined && known.next >= position.next && sameGaps) return undefined;
    const next = Math.max(known?.next ?? 0, position.next);
    const updated: StreamPosition = {
      source: position.source,
      topic: position.topic,
      next,
      at: position.at,
    };
    if (gaps.length > 0) updated.gaps = [...gaps];
    this.#streams.set(key, updated);
    return updated;
  }

  /**
   * Moves a stream past a document found in a recovered segment (its derived
   * `_id`), or takes it out of the stream's gaps (a late copy that was stored).
   */
  noteStored(id: unknown, at: number): void {
    const parsed = parseEventId(id);
    if (parsed === undefined) return;
    const { source, topic, index } = parsed;
    const known = this.#streams.get(`${source.toString(16)}-${topic}`);
    if (known?.gaps !== undefined && index < known.next) {
      const gaps = removeRange(known.gaps, index, index + 1);
      this.#advance({ source, topic, next: known.next, at, gaps });
      return;
    }
    this.#advance({ source, topic, next: index + 1, at, gaps: known?.gaps });
  }

  /** The positions known now. */
  positions(): StreamPosition[] {
    return [...this.#streams.values()].map((position) => ({ ...position }));
  }

  /** Rewrites the file with one line per stream, atomically, and opens it for appending. */
  async compact(): Promise<void> {
    this.#file?.close();
    this.#file = undefined;
    const temporary = `${this.#path}.tmp`;
    const lines = [...this.#streams.values()].map(lineOf).join("");
    await Deno.writeTextFile(temporary, lines);
    const file = await Deno.open(temporary, { write: true });
    try {
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temporary, this.#path);
    this.#file = await Deno.open(this.#path, { append: true });
    this.#lines = this.#streams.size;
  }

  /** Appends the positions that move a stream forward (a gap filled late never moves one back). */
  async save(positions: readonly StreamPosition[]): Promise<void> {
    let text = "";
    for (const position of positions) {
      const updated = this.#advance(position);
      if (updated !== undefined) text += lineOf(updated);
    }
    if (text === "") return;
    if (this.#file === undefined || this.#lines > Math.max(4096, 4 * this.#streams.size)) {
      await this.compact();
      return;
    }
    const bytes = new TextEncoder().encode(text);
    try {
      let offset = 0;
      while (offset < bytes.length) offset += await this.#file.write(bytes.subarray(offset));
    } catch (error) {
      // Perhaps half a line: the next save rewrites the whole file instead.
      this.#file.close();
      this.#file = undefined;
      throw error;
    }
    this.#lines += positions.length;
  }

  /** Closes the file. */
  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}

/** One line: the stream's whole state, so that the last line of a stream is all of it. */
function lineOf({ source, topic, next, at, gaps }: StreamPosition): string {
  const line: Record<string, unknown> = { s: source.toString(16), t: topic, n: next, a: at };
  if (gaps !== undefined && gaps.length > 0) line.g = gaps;
  return JSON.stringify(line) + "\n";
}
