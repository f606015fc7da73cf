/**
 * BSON codec for batches of events: a body is documents back to back, each
 * starting with its int32 length, which is also the mongodump `.bson` format.
 *
 * @module
 */
import { BSON } from "bson";
import { envelopeProblem, type Event } from "./event.ts";
import { type AsciiEncoder, asciiRoom } from "./line_parser.ts";
import { writePlainDocument } from "./plain_bson.ts";
import { MAX_DATE_MS, MAX_NESTING, nestsDeeperThan, valueNestsDeeperThan } from "./bson_depth.ts";

/** Smallest valid BSON document: int32 length + terminating NUL. */
const MIN_DOCUMENT = 5;

const SIZE_OPTIONS = { ignoreUndefined: true } as const;

/** Past this size an encoder gives its buffer back after a batch. */
const LARGE_BUFFER = 8 * 1024 * 1024;

/**
 * BSON's own limit on one document (MongoDB's too).
 *
 * @example
 * ```ts
 * import { MAX_DOCUMENT_SIZE } from "@eventstorm/core/protocol";
 * MAX_DOCUMENT_SIZE; // 16777216
 * ```
 */
export const MAX_DOCUMENT_SIZE = 16 * 1024 * 1024;

/** Why bytes are not a valid batch. */
export class CodecError extends Error {
  /** Short machine-readable reason, used as a drop counter name. */
  readonly reason: string;
  /** Creates the error with a reason counter name and a message. */
  constructor(reason: string, message: string) {
    super(message);
    this.name = "CodecError";
    this.reason = reason;
  }
}

/**
 * Appends BSON documents into one growing buffer, so a batch is encoded once,
 * in place, with no per-event allocation of output bytes.
 *
 * @example
 * ```ts
 * import { BatchEncoder } from "@eventstorm/core/protocol";
 * const encoder = new BatchEncoder();
 * encoder.add({ type: "x", time: new Date(), host: "h" });
 * const body = encoder.take(); // one document's bytes
 * ```
 */
export class BatchEncoder {
  #buffer: Uint8Array;
  readonly #initialBytes: number;
  #length = 0;
  #count = 0;

  /** Creates an encoder with an initial capacity in bytes. */
  constructor(initialBytes = 64 * 1024) {
    this.#initialBytes = initialBytes;
    this.#buffer = new Uint8Array(initialBytes);
  }

  /** Bytes encoded so far. */
  get byteLength(): number {
    return this.#length;
  }

  /** Documents encoded so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * Encodes one document at the end; returns its encoded size. Throws
   * {@linkcode CodecError} `oversized` for a document over 16 MiB, leaving the
   * batch as it was.
   */
  add(document: Record<string, unknown>): number {
    let end = writePlainDocument(document, this.#buffer, this.#length);
    while (end === -1) {
      // Room for the worst case of a 16 MiB document was there: it is larger.
      if (this.#buffer.length - this.#length > 3 * MAX_DOCUMENT_SIZE + 64) end = -3;
      else {
        this.#grow(this.#buffer.length);
        end = writePlainDocument(document, this.#buffer, this.#length);
      }
    }
    if (end !== -2) {
      const size = end - this.#length;
      if (end === -3 || size > MAX_DOCUMENT_SIZE) {
        throw new CodecError(
          "oversized",
          `a document of ${end === -3 ? "over " : ""}${
            end === -3 ? MAX_DOCUMENT_SIZE : size
          } bytes exceeds the BSON limit of ${MAX_DOCUMENT_SIZE}`,
        );
      }
      this.#length = end;
      this.#count++;
      return size;
    }
    // Something writePlainDocument leaves alone: the bson package handles every case,
    // but recursively, so a deep document would overflow the stack in it.
    if (valueNestsDeeperThan(document)) {
      throw new CodecError(
        "depth",
        `a document nested deeper than ${MAX_NESTING} levels (or cyclic) cannot be sent`,
      );
    }
    if (holdsInvalidDate(document)) {
      // bson would write it as 1970-01-01, a wrong time no receiver could tell.
      throw new CodecError("unencodable", "a date that is no valid time (Invalid Date)");
    }
    while (true) {
      try {
        const end = BSON.serializeWithBufferAndIndex(document, this.#buffer, {
          index: this.#length,
          ignoreUndefined: true,
        });
        const size = end + 1 - this.#length;
        // bson serializes through a fixed 17 MiB scratch buffer and silently
        // truncates beyond it: refuse anything over the BSON limit instead.
        if (size > MAX_DOCUMENT_SIZE) {
          throw new CodecError(
            "oversized",
            `a document of ${size} bytes or more exceeds the BSON limit of ${MAX_DOCUMENT_SIZE}`,
          );
        }
        this.#length = end + 1;
        this.#count++;
        return size;
      } catch (error) {
        // bson throws RangeError when the document does not fit what is left of the buffer.
        if (
          !(error instanceof RangeError) && !/out of (range|bounds)|outside/i.test(String(error))
        ) throw error;
        if (
          this.#buffer.length - this.#length >=
            BSON.calculateObjectSize(document, SIZE_OPTIONS) + 16
        ) throw error;
        this.#grow(BSON.calculateObjectSize(document, SIZE_OPTIONS) + 16);
      }
    }
  }

  /**
   * Adds the event `encoder` writes of the ASCII line `bytes[start, end)` (see
   * {@linkcode AsciiEncoder}), straight into the batch; returns its size, or -1
   * when the encoder declines the line or the document would pass the BSON limit
   * (nothing added).
   */
  addAscii(
    encoder: AsciiEncoder,
    bytes: Uint8Array,
    start: number,
    end: number,
    host: string,
  ): number {
    const room = asciiRoom(end - start, host, encoder.type);
    if (this.#buffer.length - this.#length < room) this.#grow(room);
    const documentEnd = encoder.encode(bytes, start, end, host, this.#buffer, this.#length);
    const size = documentEnd - this.#length;
    if (documentEnd < 0 || size > MAX_DOCUMENT_SIZE) return -1;
    this.#length = documentEnd;
    this.#count++;
    return size;
  }

  #grow(atLeast: number): void {
    const next = new Uint8Array(Math.max(this.#buffer.length * 2, this.#length + atLeast));
    next.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = next;
  }

  /** Removes the last document added, given the size `add` returned for it. */
  undoLast(size: number): void {
    this.#length -= size;
    this.#count--;
  }

  /** Returns a copy of the encoded bytes and starts over. */
  take(): Uint8Array {
    return this.lend().slice();
  }

  /**
   * Returns the encoded bytes without a copy and starts over: the view is good
   * only until the next `add`, for a caller that hands the bytes on at once.
   */
  lend(): Uint8Array {
    const body = this.#buffer.subarray(0, this.#length);
    this.#length = 0;
    this.#count = 0;
    // One huge document must not pin a huge buffer for the encoder's lifetime.
    if (this.#buffer.length > LARGE_BUFFER) this.#buffer = new Uint8Array(this.#initialBytes);
    return body;
  }
}

/**
 * Encodes events into one body.
 *
 * @example
 * ```ts
 * import { decodeBatch, encodeBatch } from "@eventstorm/core/protocol";
 * const body = encodeBatch([{ type: "x", time: new Date(), host: "h", n: 1 }]);
 * decodeBatch(body).length; // 1
 * ```
 */
export function encodeBatch(events: readonly Record<string, unknown>[]): Uint8Array {
  const encoder = new BatchEncoder(Math.max(1024, events.length * 256));
  for (const event of events) encoder.add(event);
  return encoder.take();
}

/**
 * Counts the documents in a body by walking their length prefixes, without
 * decoding them. Throws {@linkcode CodecError} (`truncated`, `oversized`,
 * `bson`) when the lengths do not tile the body exactly.
 *
 * @example
 * ```ts
 * import { countDocuments, encodeBatch } from "@eventstorm/core/protocol";
 * const body = encodeBatch([{ type: "x", time: new Date(), host: "h" }]);
 * countDocuments(body); // 1
 * ```
 */
export function countDocuments(body: Uint8Array): number {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = 0;
  let count = 0;
  while (offset < body.length) {
    if (body.length - offset < MIN_DOCUMENT) {
      throw new CodecError("truncated", `document ${count} is truncated`);
    }
    const size = view.getInt32(offset, true);
    if (size < MIN_DOCUMENT) {
      throw new CodecError("bson", `document ${count} declares ${size} bytes`);
    }
    if (size > body.length - offset) {
      throw new CodecError(
        "oversized",
        `document ${count} declares ${size} bytes, ${body.length - offset} remain`,
      );
    }
    if (body[offset + size - 1] !== 0) {
      throw new CodecError("bson", `document ${count} lacks its terminator`);
    }
    offset += size;
    count++;
  }
  return count;
}

/** Options of {@linkcode decodeBatch}. */
export interface DecodeOptions {
  /** Stop with `CodecError("count")` unless the body holds exactly this many. */
  expectedCount?: number;
  /**
   * Read every int64 as a `bigint`, so that one re-encoded (BSON, or the JSON
   * dialect's `{"$numberLong": …}`) stays an int64. By default (bson's) an int64
   * within ±2^53 is read as a number, which encodes back as an int32 or a double.
   */
  useBigInt64?: boolean;
}

/**
 * Decodes a body into documents. Throws {@linkcode CodecError} for malformed
 * bytes (`depth` for a document nested deeper than {@linkcode MAX_NESTING},
 * `date` for one holding a datetime no `Date` holds); never returns partial
 * garbage.
 *
 * @example
 * ```ts
 * import { decodeBatch, encodeBatch } from "@eventstorm/core/protocol";
 * const [doc] = decodeBatch(encodeBatch([{ type: "x", time: new Date(0), host: "h" }]));
 * doc.time instanceof Date; // true
 * ```
 */
export function decodeBatch(
  body: Uint8Array,
  options: DecodeOptions = {},
): Record<string, unknown>[] {
  const documents = decodeDocuments(body, options);
  const refused = documents.findIndex((document) => typeof document === "string");
  if (refused !== -1) {
    throw documents[refused] === "depth"
      ? new CodecError("depth", `document ${refused} is nested deeper than ${MAX_NESTING} levels`)
      : new CodecError(
        "date",
        `document ${refused} holds a date more than ${MAX_DATE_MS} ms from the epoch`,
      );
  }
  return documents as Record<string, unknown>[];
}

/**
 * Decodes every document; one no receiver here can hold (nested too deep, or
 * with a date no `Date` holds) is left as the reason why.
 */
function decodeDocuments(
  body: Uint8Array,
  options: DecodeOptions,
): (Record<string, unknown> | "depth" | "date")[] {
  const count = countDocuments(body);
  if (options.expectedCount !== undefined && count !== options.expectedCount) {
    throw new CodecError(
      "count",
      `header says ${options.expectedCount} documents, body holds ${count}`,
    );
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const documents: (Record<string, unknown> | "depth" | "date")[] = new Array(count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const size = view.getInt32(offset, true);
    if (nestsDeeperThan(body, offset, offset + size)) {
      documents[i] = "depth";
      offset += size;
      continue;
    }
    try {
      const document = BSON.deserialize(
        body.subarray(offset, offset + size),
        options.useBigInt64 ? DESERIALIZE_INT64_OPTIONS : DESERIALIZE_OPTIONS,
      );
      // bson reads a datetime beyond a Date's range as an Invalid Date.
      documents[i] = holdsInvalidDate(document) ? "date" : document;
    } catch (error) {
      throw new CodecError(
        "bson",
        `document ${i}: ${error instanceof Error ? error.message : error}`,
      );
    }
    offset += size;
  }
  return documents;
}

const DESERIALIZE_OPTIONS = {
  validation: { utf8: true },
  allowObjectSmallerThanBufferSize: false,
} as const;

/** The same, every int64 a bigint (see {@linkcode DecodeOptions.useBigInt64}). */
const DESERIALIZE_INT64_OPTIONS = { ...DESERIALIZE_OPTIONS, useBigInt64: true } as const;

/**
 * Decodes a body and keeps only documents with a valid envelope whose type is
 * `topic` (when given); returns the events, how many were rejected and, when
 * any was, their positions in the body (so that an event's stream index stays
 * known: `first` + its position). The first `skip` documents (replays) are left
 * out before validation.
 *
 * @example
 * ```ts
 * import { decodeEvents, encodeBatch } from "@eventstorm/core/protocol";
 * const body = encodeBatch([{ type: "x", time: new Date(), host: "h" }, { type: "x" }]);
 * decodeEvents(body).rejected; // 1
 * decodeEvents(body).rejectedAt; // [1]
 * ```
 */
export function decodeEvents(
  body: Uint8Array,
  options: DecodeOptions & { topic?: string; skip?: number } = {},
): { events: Event[]; rejected: number; rejectedAt?: number[] } {
  const documents = decodeDocuments(body, options);
  const events: Event[] = [];
  let rejectedAt: number[] | undefined;
  // Skipping goes by position, before validation: a bad replayed document must
  // not shift which new ones are delivered.
  for (let i = options.skip ?? 0; i < documents.length; i++) {
    const document = documents[i];
    if (
      typeof document === "string" || envelopeProblem(document) !== undefined ||
      (options.topic !== undefined && document.type !== options.topic)
    ) {
      (rejectedAt ??= []).push(i);
    } else {
      events.push(document as Event);
    }
  }
  return rejectedAt === undefined
    ? { events, rejected: 0 }
    : { events, rejected: rejectedAt.length, rejectedAt };
}

/** Whether `value` holds, in plain objects and arrays, a `Date` that is no valid time. */
function holdsInvalidDate(value: unknown): boolean {
  if (value instanceof Date) return Number.isNaN(value.getTime());
  if (value === null || typeof value !== "object") return false;
  const prototype = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && prototype !== Object.prototype && prototype !== null) return false;
  // for-in rather than Object.values: every decoded event passes here.
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== null && typeof item === "object" && holdsInvalidDate(item)) return true;
  }
  return false;
}
