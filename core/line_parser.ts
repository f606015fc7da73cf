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
  /** Events due by time alone (timeouts of open state). */
  tick?(now: Date): Event[];
  /** Events still open at the end of input (`--once`) or at shutdown. */
  end?(): Event[];
  /** JSON-serialisable state for the checkpoint. */
  snapshot?(): State;
  /** Restores state saved by `snapshot()`. */
  restore?(state: State): void;
}
