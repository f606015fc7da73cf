/**
 * Assembling one line from the chunks it was read in, cut at a limit without
 * splitting a UTF-8 character, and cleaning a decoded line.
 *
 * @module
 */

/** Bytes of one line being assembled, cut at the limit. */
export class LineBuffer {
  #parts: Uint8Array[] = [];
  #length = 0;
  /** The line went past the limit; further bytes are dropped. */
  cut = false;
  /** Drop this line entirely (we started in its middle). */
  discard = false;

  constructor(readonly max: number) {}

  get empty(): boolean {
    return this.#length === 0 && !this.cut && !this.discard;
  }

  add(bytes: Uint8Array): void {
    if (this.cut || this.discard || bytes.length === 0) return;
    const room = this.max - this.#length;
    if (bytes.length > room) {
      bytes = bytes.subarray(0, cutPoint(bytes, room));
      this.cut = true;
    }
    this.#parts.push(bytes.slice());
    this.#length += bytes.length;
  }

  take(): Uint8Array {
    const out = this.#parts.length === 1 ? this.#parts[0] : concat(this.#parts, this.#length);
    this.reset();
    return out;
  }

  reset(): void {
    this.#parts = [];
    this.#length = 0;
    this.cut = false;
    this.discard = false;
  }
}

/** Where to cut `bytes` at most `max` long without splitting a UTF-8 character. */
function cutPoint(bytes: Uint8Array, max: number): number {
  let n = max;
  for (let i = 0; i < 3 && n > 0 && (bytes[n] & 0xc0) === 0x80; i++) n--;
  return n;
}

/** `parts` joined into one array of `length` bytes. */
export function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A line without the BOM a decoder would drop at its start, nor a CRLF's CR. */
export function cleanLine(text: string): string {
  const from = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const to = text.endsWith("\r") ? text.length - 1 : text.length;
  return from === 0 && to === text.length ? text : text.slice(from, to);
}
