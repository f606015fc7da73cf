/**
 * The journal export format (`journalctl -o export`): entries of `FIELD=value`
 * lines, binary-safe fields as `FIELD\n<u64 LE length><bytes>\n`, an empty line
 * after each entry.
 *
 * @module
 */

/** One journal entry: field name → value (text; binary values decoded as UTF-8 with U+FFFD). */
export type JournalEntry = Record<string, string>;

/** Counters of a {@linkcode ExportParser}. */
export interface ExportParserStats {
  /** Entries parsed. */
  entries: number;
  /** Malformed fields skipped (a line without `=`, a length that makes no sense). */
  badFields: number;
}

const LF = 10;

/**
 * Parses the export format from chunks of bytes, split anywhere.
 *
 * @example
 * ```ts
 * import { ExportParser } from "@eventstorm/source-journald";
 * const parser = new ExportParser();
 * const [entry] = parser.push(new TextEncoder().encode("MESSAGE=hi\n_PID=1\n\n"));
 * console.log(entry.MESSAGE, entry._PID); // hi 1
 * ```
 */
export class ExportParser {
  #buffer = new Uint8Array(0);
  #entry: JournalEntry = {};
  #fields = 0;
  readonly #decoder = new TextDecoder();
  readonly #maxFieldBytes: number;
  /** Entries parsed and fields refused. */
  readonly stats: ExportParserStats = { entries: 0, badFields: 0 };

  /** `maxFieldBytes`: binary fields longer than this are a framing error (default 64 MiB). */
  constructor(maxFieldBytes = 64 << 20) {
    this.#maxFieldBytes = maxFieldBytes;
  }

  /** The entries completed by `chunk`. */
  push(chunk: Uint8Array): JournalEntry[] {
    let data = chunk;
    if (this.#buffer.length > 0) {
      data = new Uint8Array(this.#buffer.length + chunk.length);
      data.set(this.#buffer);
      data.set(chunk, this.#buffer.length);
    }
    const out: JournalEntry[] = [];
    let i = 0;
    while (i < data.length) {
      const lf = data.indexOf(LF, i);
      if (lf < 0) break;
      if (lf === i) {
        if (this.#fields > 0) {
          out.push(this.#entry);
          this.stats.entries++;
        }
        this.#entry = {};
        this.#fields = 0;
        i = lf + 1;
        continue;
      }
      const eq = data.subarray(i, lf).indexOf(61 /* = */);
      if (eq >= 0) {
        const name = this.#decoder.decode(data.subarray(i, i + eq));
        this.#entry[name] = this.#decoder.decode(data.subarray(i + eq + 1, lf));
        this.#fields++;
        i = lf + 1;
        continue;
      }
      // Binary field: name, LF, 64-bit little-endian length, data, LF.
      const start = lf + 1;
      if (data.length - start < 8) break;
      const view = new DataView(data.buffer, data.byteOffset + start, 8);
      const length = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
      if (length > this.#maxFieldBytes) {
        // Not the export format (or lost sync): skip to the next line.
        this.stats.badFields++;
        i = lf + 1;
        continue;
      }
      if (data.length - start - 8 < length + 1) break;
      const name = this.#decoder.decode(data.subarray(i, lf));
      const end = start + 8 + length;
      if (data[end] !== LF) {
        this.stats.badFields++;
        i = lf + 1;
        continue;
      }
      this.#entry[name] = this.#decoder.decode(data.subarray(start + 8, end));
      this.#fields++;
      i = end + 1;
    }
    this.#buffer = i < data.length ? data.slice(i) : new Uint8Array(0);
    return out;
  }
}
