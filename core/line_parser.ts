/**
 * The contract between the file follower and a log format: lines in, events out.
 *
 * @module
 */
import type { Event } from "./event.ts";

/** What a parser knows about the line it is given. */
export interface LineContext {
  /** Path of the file the line came from. */
  path: string;
  /** Host to put in events that do not name their own. */
  host: string;
  /** When the line was read; parsers use it to infer a missing year. */
  readAt: Date;
}

/**
 * A log format. Parsers may keep state across lines (Postfix follows a message by
 * queue id over many lines); such state is saved in the source's checkpoint with
 * `snapshot()` and given back with `restore()`, so a restart loses nothing open.
 *
 * @example
 * ```ts
 * import type { LineParser } from "@eventstorm/core/source";
 * const words: LineParser = {
 *   parse: (line, ctx) => [{ type: "app.line", time: ctx.readAt, host: ctx.host, words: line.split(" ").length }],
 * };
 * ```
 */
export interface LineParser<State = unknown> {
  /**
   * Events from one line (without its newline): `[]` when the line is understood
   * but yields nothing, `undefined` when it is not understood (counted as unparsed).
   */
  parse(line: string, context: LineContext): Event[] | undefined;
  /**
   * A faster way to the events of ASCII lines, for a stateless parser that can
   * read them from their bytes (see {@linkcode AsciiEncoder}); the source uses it
   * when its output takes encoded events, and `parse` for the lines it declines.
   */
  ascii?: AsciiEncoder;
  /** Events due by time alone (timeouts of open state). */
  tick?(now: Date): Event[];
  /** Events still open at the end of input (`--once`) or at shutdown. */
  end?(): Event[];
  /** JSON-serialisable state for the checkpoint. */
  snapshot?(): State;
  /** Restores state saved by `snapshot()`. */
  restore?(state: State): void;
}

/**
 * Writes the one event its parser's `parse` makes of a line, already encoded as
 * the BSON document an emitter would write of it, byte for byte: no string and no
 * object per line. It is given the line's bytes as the file holds them and reads
 * ASCII lines only: it declines every line with a byte past ASCII, and may
 * decline any other; `parse` then reads it.
 *
 * @example
 * ```ts
 * import type { AsciiEncoder } from "@eventstorm/core/source";
 * // Declines every line, which then goes to its parser's `parse`; a real encoder
 * // writes the document into `out` from `at` and returns where it ends.
 * const encoder: AsciiEncoder = {
 *   type: "app.line",
 *   encode: (_bytes, _start, _end, _host, _out, _at) => -1,
 * };
 * ```
 */
export interface AsciiEncoder {
  /** The type (topic) of every event it writes. */
  readonly type: string;
  /**
   * Writes the event of the line `bytes[start, end)` (without its newline),
   * whose host is `host`, as a BSON document into `out` from `at`; returns
   * where the document ends, -1 to leave the line to `parse` (always for a
   * line with a byte past ASCII, which may be invalid UTF-8), or -2
   * when `out` has less room after `at` than {@linkcode asciiRoom} says (the
   * caller gives at least that much).
   */
  encode(
    bytes: Uint8Array,
    start: number,
    end: number,
    host: string,
    out: Uint8Array,
    at: number,
  ): number;
}

/**
 * The room an {@linkcode AsciiEncoder} of `type` needs in its output for a line
 * of `length` bytes with `host`: twice the line (a field may be written twice,
 * whole and in parts), three bytes per character of the host and type, and 1 KiB
 * for the keys.
 *
 * @example
 * ```ts
 * import { asciiRoom } from "@eventstorm/core/source";
 * asciiRoom(100, "web1", "http.hit"); // 1260
 * ```
 */
export function asciiRoom(length: number, host: string, type: string): number {
  return 2 * length + 3 * (host.length + type.length) + 1024;
}
