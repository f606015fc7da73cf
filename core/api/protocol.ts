/**
 * Wire protocol v1 (`docs/protocol.md`): the header, BSON batches, topic and
 * message parsing, drop reasons, and the per-stream sequence accounting a
 * receiver keeps. For tools that speak the protocol without an
 * {@linkcode Emitter} or {@linkcode Collector}.
 *
 * @example Encode a message and check it as a receiver does
 * ```ts
 * import { encodeBatch, encodeHeader, parseMessage } from "@eventstorm/core/protocol";
 *
 * const body = encodeBatch([{ type: "app.start", time: new Date(), host: "web-1" }]);
 * const header = encodeHeader({ flags: 0, count: 1, source: 1n, first: 0 });
 * const result = parseMessage([new TextEncoder().encode("app.start"), header, body]);
 * if (!result.ok) throw new Error(result.detail);
 * ```
 *
 * @module
 */
export {
  BatchEncoder,
  CodecError,
  countDocuments,
  decodeBatch,
  decodeEvents,
  type DecodeOptions,
  encodeBatch,
  MAX_DOCUMENT_SIZE,
} from "../codec.ts";
export {
  decodeFields,
  decodeValue,
  encodeFields,
  encodeValue,
  fromJsonLine,
  toJsonLine,
} from "../json.ts";
export {
  decodeTopic,
  DEFAULT_MAX_MESSAGE_SIZE,
  DROP_REASONS,
  type DropReason,
  encodeHeader,
  type Header,
  HEADER_MAGIC,
  HEADER_SIZE,
  parseHeader,
  parseMessage,
  type ParseResult,
  PROTOCOL_VERSION,
  randomSourceId,
  type WireMessage,
} from "../protocol.ts";
export {
  GAP_HOLD_MS,
  MAX_GAPS,
  MAX_INDEX_JUMP,
  MAX_INDEX_RATE,
  OWNER_IDLE_MS,
  SequenceTracker,
  type SequenceTrackerOptions,
  type SequenceVerdict,
  type StreamCounters,
} from "../sequence.ts";
export { documentProblem, MAX_DATE_MS, MAX_NESTING } from "../bson_depth.ts";
