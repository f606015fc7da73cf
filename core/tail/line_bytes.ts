/**
 * The lines of a batch as bytes, in buffers kept from batch to batch, and their
 * text decoded only when asked for.
 *
 * @module
 */
import { cleanLine } from "./line_buffer.ts";
import type { ByteLineBatch } from "./types.ts";

const NEWLINE = 10;
const CR = 13;
/** The buffer a batch starts with, and the size it goes back to after a batch of long lines. */
const INITIAL_BYTES = 64 * 1024;
const KEEP_BYTES = 1024 * 1024;
// A decoded run stays under V8's large-object size (128 KiB), so its string is
// allocated young and dies young, not in the old generation.
const RUN_BYTES = 64 * 1024;

/**
 * Lines gathered for one batch: each line's bytes as read, then a newline (one is
 * added after a last line that had none), and where its text starts and ends:
 * after a BOM, before a CRLF's CR.
 */
export class LineBytes {
  bytes = new Uint8Array(INITIAL_BYTES);
  length = 0;
  count = 0;
  readonly starts: Int32Array;
  readonly ends: Int32Array;

  constructor(readonly maxLines: number, readonly decoder: TextDecoder) {
    this.starts = new Int32Array(maxLines);
    this.ends = new Int32Array(maxLines);
  }

  get full(): boolean {
    return this.count >= this.maxLines;
  }

  /** Starts the next batch, in the same buffers. */
  clear(): void {
    if (this.bytes.length > KEEP_BYTES) this.bytes = new Uint8Array(INITIAL_BYTES);
    this.length = 0;
    this.count = 0;
  }

  /**
   * Takes the complete lines from `pos` that need no cutting, up to the batch's
   * room, with one copy; returns where they end (`pos` when there is none).
   */
  addRun(chunk: Uint8Array, pos: number, maxLineBytes: number): number {
    // The run is copied to the end of what the batch holds: `shift` on from `pos`.
    const shift = this.length - pos;
    let end = pos;
    while (this.count < this.maxLines) {
      const newline = chunk.indexOf(NEWLINE, end);
      if (newline < 0 || newline - end > maxLineBytes) break;
      this.#record(chunk, end, newline, shift);
      end = newline + 1;
    }
    if (end > pos) this.#append(chunk.subarray(pos, end));
    return end;
  }

  /** Takes one line (without its newline). */
  addLine(line: Uint8Array): void {
    const start = this.length;
    this.#append(line, 1);
    this.bytes[this.length++] = NEWLINE;
    this.#record(this.bytes, start, start + line.length, 0);
  }

  /** The batch of the lines gathered, for the file `r` names. */
  batch(path: string, file: string, fingerprint: string, offset: number): ByteLineBatch {
    return new LineBytesView(this, path, file, fingerprint, offset);
  }

  /** Where line `i`'s bytes start, BOM included. */
  rawStart(i: number): number {
    return i === 0 ? 0 : this.rawEnd(i - 1) + 1;
  }

  /** Where line `i`'s bytes end, CR included: at its newline. */
  rawEnd(i: number): number {
    const end = this.ends[i];
    return this.bytes[end] === CR ? end + 1 : end;
  }

  /**
   * Line `[start, newline)` of `bytes`, at `count`, without a BOM and a CRLF's CR;
   * it is at `shift` from there in `this.bytes`.
   */
  #record(bytes: Uint8Array, start: number, newline: number, shift: number): void {
    const bom = newline - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb &&
      bytes[start + 2] === 0xbf;
    const cr = newline > start && bytes[newline - 1] === CR;
    this.starts[this.count] = (bom ? start + 3 : start) + shift;
    this.ends[this.count] = (cr ? newline - 1 : newline) + shift;
    this.count++;
  }

  #append(bytes: Uint8Array, extra = 0): void {
    const needed = this.length + bytes.length + extra;
    if (needed > this.bytes.length) {
      const grown = new Uint8Array(Math.max(2 * this.bytes.length, needed));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }
}

/** A batch handed out: the gatherer's buffers, as they are until the next batch. */
class LineBytesView implements ByteLineBatch {
  readonly count: number;
  readonly bytes: Uint8Array;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly #lines: LineBytes;

  constructor(
    lines: LineBytes,
    readonly path: string,
    readonly file: string,
    readonly fingerprint: string,
    readonly offset: number,
  ) {
    this.#lines = lines;
    this.count = lines.count;
    this.bytes = lines.bytes;
    this.starts = lines.starts;
    this.ends = lines.ends;
  }

  text(index: number): string {
    if (!(index >= 0 && index < this.count)) throw new RangeError(`no line ${index}`);
    const lines = this.#lines;
    const raw = this.bytes.subarray(lines.rawStart(index), lines.rawEnd(index));
    return cleanLine(lines.decoder.decode(raw));
  }

  texts(): string[] {
    const lines = this.#lines;
    const out: string[] = [];
    // In runs decoded with one call rather than one per line, which is most of
    // the cost of reading text. A newline byte always decodes to "\n", also
    // right after invalid UTF-8, so the split gives exactly the lines.
    for (let from = 0, to = 0; from < this.count; from = to) {
      const start = lines.rawStart(from);
      to = from + 1;
      while (to < this.count && this.ends[to] - start <= RUN_BYTES) to++;
      const run = lines.decoder.decode(this.bytes.subarray(start, lines.rawEnd(to - 1)));
      for (const text of run.split("\n")) out.push(cleanLine(text));
    }
    return out;
  }
}
