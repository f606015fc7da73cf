/**
 * RFC 6587 framing of syslog over a stream: octet counting (`LEN SP MSG`) and
 * LF (non-transparent) framing, told apart per message as rsyslog does.
 *
 * @module
 */

/** Counters of a {@linkcode SyslogFramer}. */
export interface FramerStats {
  /** Messages cut out of the stream. */
  messages: number;
  /** Messages longer than the limit (cut there, the rest skipped). */
  tooLong: number;
  /** Octet counts of 0, over 64 MiB or of 11 digits and more (the bytes up to the next LF skipped). */
  badFrames: number;
}

const LF = 10;
const SPACE = 32;
const LT = 60;

/**
 * Cuts a byte stream into syslog messages. A message that starts with digits, a
 * space and `<` is octet counted; anything else ends at LF (a trailing CR and NUL are
 * dropped). Chunks may split a message anywhere.
 *
 * @example
 * ```ts
 * import { SyslogFramer } from "@eventstorm/source-syslog";
 * const framer = new SyslogFramer();
 * const bytes = new TextEncoder().encode("5 <13>a<13>b\n");
 * framer.push(bytes).map((m) => new TextDecoder().decode(m)); // ["<13>a", "<13>b"]
 * ```
 */
export class SyslogFramer {
  readonly #maxBytes: number;
  #buffer = new Uint8Array(0);
  /** Bytes still to skip of a message past the limit. */
  #skip = 0;
  /** Skipping to the next LF (an over-long LF-framed message or a bad count). */
  #skipLine = false;
  /** What the framer has seen. */
  readonly stats: FramerStats = { messages: 0, tooLong: 0, badFrames: 0 };

  /** `maxBytes`: the longest message kept whole (default 64 KiB). */
  constructor(maxBytes = 65536) {
    this.#maxBytes = maxBytes;
  }

  /** The complete messages in `chunk` and what came before it. */
  push(chunk: Uint8Array): Uint8Array[] {
    let data = chunk;
    if (this.#buffer.length > 0) {
      data = new Uint8Array(this.#buffer.length + chunk.length);
      data.set(this.#buffer);
      data.set(chunk, this.#buffer.length);
    }
    const out: Uint8Array[] = [];
    let i = 0;
    while (i < data.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, data.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      if (this.#skipLine) {
        const lf = data.indexOf(LF, i);
        if (lf < 0) {
          i = data.length;
          break;
        }
        this.#skipLine = false;
        i = lf + 1;
        continue;
      }
      const c = data[i];
      if (c === LF || c === 0 || c === 13) {
        i++; // blank lines between frames
        continue;
      }
      if (c >= 48 && c <= 57) {
        // Every digit, not the first 10 only: the 11th would otherwise start what looked
        // like an LF-framed line, and a bad count would pass as a message. Up to the
        // limit: a longer run of digits is a line to cut, not a count to wait for.
        const limit = Math.min(data.length, i + this.#maxBytes + 1);
        let j = i;
        let length = 0;
        while (j < limit && data[j] >= 48 && data[j] <= 57) {
          length = j - i < 10 ? length * 10 + data[j] - 48 : Infinity;
          j++;
        }
        const digitsOnly = j - i > this.#maxBytes;
        // The count (or what follows it) is in the next chunk.
        if (!digitsOnly && j + 1 >= data.length) break;
        // A frame holds a whole syslog message, which starts with `<PRI>`; digits then a
        // space then anything else is an LF-framed line that starts with a year.
        if (!digitsOnly && data[j] === SPACE && data[j + 1] === LT) {
          if (length === 0 || length > 64 * 1024 * 1024) {
            this.stats.badFrames++;
            this.#skipLine = true;
            i = j + 1;
            continue;
          }
          const start = j + 1;
          if (length > this.#maxBytes) {
            if (data.length - start < this.#maxBytes) break; // wait for what is kept
            out.push(trim(data.slice(start, start + this.#maxBytes)));
            this.stats.tooLong++;
            this.stats.messages++;
            this.#skip = length - this.#maxBytes;
            i = start + this.#maxBytes;
            continue;
          }
          if (data.length - start < length) break; // wait for the rest
          out.push(trim(data.slice(start, start + length)));
          this.stats.messages++;
          i = start + length;
          continue;
        }
        // Digits not followed by a space: an LF-framed message that starts with a number.
      }
      const lf = data.indexOf(LF, i);
      const end = lf < 0 ? data.length : lf;
      if (end - i > this.#maxBytes) {
        out.push(trim(data.slice(i, i + this.#maxBytes)));
        this.stats.tooLong++;
        this.stats.messages++;
        if (lf < 0) this.#skipLine = true;
        i = lf < 0 ? data.length : lf + 1;
        continue;
      }
      if (lf < 0) break;
      out.push(trim(data.slice(i, lf)));
      this.stats.messages++;
      i = lf + 1;
    }
    this.#buffer = i < data.length ? data.slice(i) : new Uint8Array(0);
    return out;
  }

  /** What is left at the end of the stream: a last message without LF, if any. */
  end(): Uint8Array[] {
    const rest = this.#buffer;
    this.#buffer = new Uint8Array(0);
    if (rest.length === 0 || this.#skip > 0 || this.#skipLine) return [];
    this.stats.messages++;
    return [trim(rest)];
  }
}

/** Without trailing CR, LF and NUL (some senders end UDP datagrams and frames with them). */
export function trim(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === LF || bytes[end - 1] === 13 || bytes[end - 1] === 0)) {
    end--;
  }
  return end === bytes.length ? bytes : bytes.subarray(0, end);
}
