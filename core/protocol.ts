/**
 * Wire protocol v1 (docs/protocol.md): a ZeroMQ multipart message
 * `[topic][header][body]`, or `[topic][body]` from minimal clients.
 *
 * @module
 */
import { type CodecError, countDocuments } from "./codec.ts";
import { isValidType } from "./event.ts";

/** First byte of every v1 header.
 *
 * @example
 * ```ts
 * import { HEADER_MAGIC } from "@eventstorm/core/protocol";
 * HEADER_MAGIC; // 0xe5
 * ```
 */
export const HEADER_MAGIC = 0xe5;
/** Protocol version carried in the header.
 *
 * @example
 * ```ts
 * import { PROTOCOL_VERSION } from "@eventstorm/core/protocol";
 * PROTOCOL_VERSION; // 1
 * ```
 */
export const PROTOCOL_VERSION = 1;
/** Size of the header frame in bytes.
 *
 * @example
 * ```ts
 * import { HEADER_SIZE } from "@eventstorm/core/protocol";
 * HEADER_SIZE; // 24
 * ```
 */
export const HEADER_SIZE = 24;
/** Flag bits defined by v1 (none); receivers reject any other bit.
 *
 * @example
 * ```ts
 * import { KNOWN_FLAGS } from "./protocol.ts";
 * KNOWN_FLAGS; // 0
 * ```
 */
export const KNOWN_FLAGS = 0;
/** Default largest message accepted from a peer (ZMQ_MAXMSGSIZE), 16 MiB.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_MESSAGE_SIZE } from "@eventstorm/core/protocol";
 * DEFAULT_MAX_MESSAGE_SIZE; // 16777216
 * ```
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

/** The decoded header frame. */
export interface Header {
  /** Flag bits; 0 in v1. */
  flags: number;
  /** Number of BSON documents in the body. */
  count: number;
  /** Random id of the emitting stream. */
  source: bigint;
  /** Stream index of the first event in this message, per (source, topic). */
  first: number;
}

/**
 * Writes a header into `into` (24 bytes) or a new array.
 *
 * @example
 * ```ts
 * import { encodeHeader } from "@eventstorm/core/protocol";
 * const header = encodeHeader({ flags: 0, count: 10, source: 42n, first: 0 });
 * header.length; // 24
 * ```
 */
export function encodeHeader(
  header: Header,
  into: Uint8Array = new Uint8Array(HEADER_SIZE),
): Uint8Array {
  const view = new DataView(into.buffer, into.byteOffset, HEADER_SIZE);
  view.setUint8(0, HEADER_MAGIC);
  view.setUint8(1, PROTOCOL_VERSION);
  view.setUint16(2, header.flags, true);
  view.setUint32(4, header.count, true);
  view.setBigUint64(8, header.source, true);
  view.setBigUint64(16, BigInt(header.first), true);
  return into;
}

/** Reasons a message is dropped, as counter names.
 *
 * @example
 * ```ts
 * import { DROP_REASONS } from "@eventstorm/core/protocol";
 * DROP_REASONS.includes("magic"); // true
 * ```
 */
export const DROP_REASONS = [
  "frames",
  "topic",
  "header_size",
  "magic",
  "version",
  "flags",
  "index",
  "count",
  "truncated",
  "oversized",
  "bson",
  "envelope",
  "owner",
] as const;
/** One drop reason. */
export type DropReason = typeof DROP_REASONS[number];

/** A message that passed structural checks (the BSON itself is not decoded). */
export interface WireMessage {
  /** The event type / topic. */
  topic: string;
  /** The header, absent for two-frame messages from minimal clients. */
  header?: Header;
  /** The body: `count` BSON documents back to back. */
  body: Uint8Array;
  /** Number of documents in the body. */
  count: number;
  /**
   * Set by a receiver on a piece that fills a gap another path left
   * (section 5.2), below events it delivered before; never on the wire.
   */
  fill?: boolean;
}

/**
 * Documents `[from, to)` of a checked message, its header moved along (`first`
 * and `count`); the body is a view of the message's, not a copy. The whole
 * range gives the message itself.
 *
 * @example
 * ```ts ignore
 * const tail = sliceMessage(message, 2, message.count); // header.first + 2 onwards
 * ```
 */
export function sliceMessage(message: WireMessage, from: number, to: number): WireMessage {
  if (from === 0 && to === message.count) return message;
  const body = message.body;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = 0, start = 0;
  for (let i = 0; i < to; i++) {
    if (i === from) start = offset;
    offset += view.getInt32(offset, true);
  }
  const header = message.header;
  return {
    topic: message.topic,
    header: header && { ...header, first: header.first + from, count: to - from },
    body: body.subarray(start, offset),
    count: to - from,
  };
}

/** The outcome of {@linkcode parseMessage}. */
export type ParseResult = { ok: true; message: WireMessage } | {
  ok: false;
  reason: DropReason;
  detail: string;
};

// ignoreBOM keeps a leading U+FEFF, which then fails the type check instead of vanishing.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Checks a received multipart message: frame count, topic, header and that the
 * body's document lengths tile it exactly with `count` documents. Cheap enough for
 * the router (no BSON decoding); never throws.
 *
 * @example
 * ```ts
 * import { encodeBatch, encodeHeader, parseMessage } from "@eventstorm/core/protocol";
 * const body = encodeBatch([{ type: "a.b", time: new Date(), host: "h" }]);
 * const topic = new TextEncoder().encode("a.b");
 * const result = parseMessage([topic, encodeHeader({ flags: 0, count: 1, source: 1n, first: 0 }), body]);
 * result.ok; // true
 * ```
 */
export function parseMessage(frames: readonly Uint8Array[]): ParseResult {
  if (frames.length !== 2 && frames.length !== 3) {
    return { ok: false, reason: "frames", detail: `${frames.length} frames, expected 2 or 3` };
  }
  const topic = decodeTopic(frames[0]);
  if (topic === undefined) {
    return { ok: false, reason: "topic", detail: "topic is not a valid event type" };
  }
  const body = frames[frames.length - 1];
  let header: Header | undefined;
  if (frames.length === 3) {
    const parsed = parseHeader(frames[1]);
    if ("reason" in parsed) return { ok: false, ...parsed };
    header = parsed;
  }
  let count: number;
  try {
    count = countDocuments(body);
  } catch (error) {
    const codec = error as CodecError;
    return { ok: false, reason: codec.reason as DropReason, detail: codec.message };
  }
  if (header && header.count !== count) {
    return {
      ok: false,
      reason: "count",
      detail: `header says ${header.count}, body holds ${count}`,
    };
  }
  // An empty body is a position announcement (see docs/protocol.md), which only
  // means something with a header.
  if (count === 0 && !header) return { ok: false, reason: "count", detail: "empty body" };
  return { ok: true, message: { topic, header, body, count } };
}

/**
 * Decodes a topic frame; `undefined` when it is not UTF-8 or not a valid type.
 *
 * @example
 * ```ts
 * import { decodeTopic } from "@eventstorm/core/protocol";
 * decodeTopic(new TextEncoder().encode("http.hit")); // "http.hit"
 * ```
 */
export function decodeTopic(frame: Uint8Array): string | undefined {
  // Consecutive messages nearly always share a topic: compare bytes before decoding.
  const last = lastTopic;
  if (last.bytes.length === frame.length && last.text !== undefined) {
    let same = true;
    for (let i = 0; i < frame.length; i++) {
      if (frame[i] !== last.bytes[i]) {
        same = false;
        break;
      }
    }
    if (same) return last.text;
  }
  const text = decodeTopicUncached(frame);
  if (text !== undefined) lastTopic = { bytes: frame.slice(), text };
  return text;
}

let lastTopic: { bytes: Uint8Array; text: string | undefined } = {
  bytes: new Uint8Array(0),
  text: undefined,
};

function decodeTopicUncached(frame: Uint8Array): string | undefined {
  let topic: string;
  try {
    topic = strictUtf8.decode(frame);
  } catch {
    return undefined;
  }
  return isValidType(topic) ? topic : undefined;
}

/**
 * Decodes a header frame, or says why it is not one.
 *
 * @example
 * ```ts
 * import { encodeHeader, parseHeader } from "@eventstorm/core/protocol";
 * parseHeader(encodeHeader({ flags: 0, count: 3, source: 7n, first: 9 }));
 * // { flags: 0, count: 3, source: 7n, first: 9 }
 * ```
 */
export function parseHeader(frame: Uint8Array): Header | { reason: DropReason; detail: string } {
  if (frame.length !== HEADER_SIZE) {
    return {
      reason: "header_size",
      detail: `header is ${frame.length} bytes, expected ${HEADER_SIZE}`,
    };
  }
  const view = new DataView(frame.buffer, frame.byteOffset, HEADER_SIZE);
  if (view.getUint8(0) !== HEADER_MAGIC) return { reason: "magic", detail: "bad magic byte" };
  if (view.getUint8(1) !== PROTOCOL_VERSION) {
    return { reason: "version", detail: `unsupported version ${view.getUint8(1)}` };
  }
  const flags = view.getUint16(2, true);
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    return { reason: "flags", detail: `unknown flags 0x${flags.toString(16)}` };
  }
  const first = view.getBigUint64(16, true);
  if (first > BigInt(Number.MAX_SAFE_INTEGER)) {
    return { reason: "index", detail: "first index beyond 2^53" };
  }
  return {
    flags,
    count: view.getUint32(4, true),
    source: view.getBigUint64(8, true),
    first: Number(first),
  };
}

/**
 * A random 64-bit source id (never 0, which minimal clients may use).
 *
 * @example
 * ```ts
 * import { randomSourceId } from "@eventstorm/core/protocol";
 * randomSourceId() > 0n; // true
 * ```
 */
export function randomSourceId(): bigint {
  const bytes = new BigUint64Array(1);
  do crypto.getRandomValues(bytes); while (bytes[0] === 0n);
  return bytes[0];
}
