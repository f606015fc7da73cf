/**
 * Building blocks for a source: line parsers (syslog and the
 * {@linkcode LineParser} contract), the rotation-aware {@linkcode FileFollower},
 * checkpoints, the line source loop that joins them to an {@linkcode EventOutput},
 * and {@linkcode runFileSourceMain}, the command-line helper every file-tailing
 * source's `main.ts` is built on.
 *
 * @example A source of application log lines (`main.ts`)
 * ```ts
 * import { runFileSourceMain } from "@eventstorm/core/source";
 * import { runCommand } from "@eventstorm/core/cli";
 *
 * if (import.meta.main) {
 *   await runCommand(() =>
 *     runFileSourceMain(Deno.args, {
 *       name: "app",
 *       summary: "application log lines as app.line events",
 *       makeParser: () => ({
 *         parse: (line, ctx) => [{ type: "app.line", time: ctx.readAt, host: ctx.host, line }],
 *       }),
 *     })
 *   );
 * }
 * ```
 *
 * @module
 */
export { type AsciiEncoder, asciiRoom, type LineContext, type LineParser } from "../line_parser.ts";
export {
  parseSyslogLine,
  type ParseSyslogLineOptions,
  type SyslogLine,
  SyslogParser,
  type SyslogParserOptions,
} from "../syslog.ts";
export {
  type ByteLineBatch,
  FileFollower,
  type FilePosition,
  type FollowerOptions,
  type FollowerStats,
  type LineBatch,
} from "../tail/mod.ts";
export { CheckpointStore } from "../checkpoint.ts";
export { EmitterLink, type EmitterLinkOptions } from "../link.ts";
export {
  LineSource,
  type LineSourceCheckpoint,
  type LineSourceOptions,
  type LineSourceStats,
  type OutputResume,
  runLineSource,
} from "../line_source.ts";
export { type DeliveredMark, type EventOutput, flushUnlessStopped } from "../output.ts";
export { type ByteSink, PrintOutput, type PrintOutputOptions } from "../print_output.ts";
export {
  checkpointFromFlags,
  checkpointWritable,
  defaultCheckpointPath,
  destinationText,
  FILE_SOURCE_FLAGS,
  fileSourceCommand,
  type FileSourceSpec,
  formatEventsLine,
  formatSourceLine,
  outputCounters,
  runFileSourceMain,
  SOURCE_SEND_HWM,
  sourceCounters,
  type SourceFlags,
  sourceFlags,
  type SourceFlagValues,
  sourceOutput,
  type SourceOutputOptions,
  warnSourceOutput,
} from "../source_cli.ts";
export {
  EventSender,
  type RouterStats,
  RoutingParser,
  type StreamCheckpoint,
  StreamCheckpointFile,
} from "../stream_source.ts";
