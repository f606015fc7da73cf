/**
 * A gzip file written piece by piece so that every piece can be taken back.
 *
 * The file is one ordinary gzip member (RFC 1952), readable by `gunzip`,
 * `DecompressionStream`, `mongorestore --gzip` and the rest. Its deflate stream
 * is a series of independently compressed chunks, each ending on a sync-flush
 * boundary (an empty stored block), and the trailer adds an empty final block,
 * the CRC-32 and the length. Because no chunk refers back into an earlier one,
 * appending a chunk is undone by truncating the file to where it was, and a file
 * cut short by a crash still inflates up to its last complete chunk.
 *
 * `CompressionStream` has neither a flush nor a way to undo a write, which is
 * why the chunks are made with `node:zlib` here.
 *
 * @module
 */
import zlib from "node:zlib";

/** The fixed 10-byte header: deflate, no name, no time, unknown OS. */
const HEADER = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255);

/**
 * The header every gzip segment starts with.
 *
 * @example
 * ```ts
 * import { gzipHeader } from "@eventstorm/sink-file";
 * gzipHeader().length; // 10
 * ```
 */
export function gzipHeader(): Uint8Array {
  return HEADER.slice();
}

/**
 * Compresses `data` into a self-contained deflate chunk ending on a byte
 * boundary, to be appended after the header or after another chunk.
 *
 * @example
 * ```ts
 * import { deflateChunk } from "@eventstorm/sink-file";
 * deflateChunk(new TextEncoder().encode("hello")).length > 0; // true
 * ```
 */
export function deflateChunk(data: Uint8Array, options: { level?: number } = {}): Uint8Array {
  const out = zlib.deflateRawSync(data, {
    level: options.level ?? zlib.constants.Z_DEFAULT_COMPRESSION,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Updates a running CRC-32 (the gzip one) with `data`.
 *
 * @example
 * ```ts
 * import { crc32 } from "@eventstorm/sink-file";
 * crc32(new TextEncoder().encode("123456789")).toString(16); // "cbf43926"
 * ```
 */
export function crc32(data: Uint8Array, previous = 0): number {
  return zlib.crc32(data, previous) >>> 0;
}

/**
 * The end of a gzip segment: an empty final deflate block, the CRC-32 of all
 * uncompressed bytes and their count modulo 2^32.
 *
 * @example
 * ```ts
 * import { gzipTrailer } from "@eventstorm/sink-file";
 * gzipTrailer(0, 0).length; // 10
 * ```
 */
export function gzipTrailer(crc: number, length: number): Uint8Array {
  const trailer = new Uint8Array(10);
  // BFINAL=1, BTYPE=01 (fixed Huffman), then the end-of-block code: 0x03 0x00.
  trailer[0] = 0x03;
  trailer[1] = 0x00;
  const view = new DataView(trailer.buffer);
  view.setUint32(2, crc >>> 0, true);
  view.setUint32(6, length % 2 ** 32, true);
  return trailer;
}

/**
 * Decompresses as much of a gzip file as can be read: all of a complete file,
 * or everything up to the cut of one a crash left short (`complete` false).
 * Throws when even the beginning is not gzip.
 *
 * @example
 * ```ts
 * import { deflateChunk, gunzipPrefix, gzipHeader } from "@eventstorm/sink-file";
 * const chunk = deflateChunk(new TextEncoder().encode("hello"));
 * const cut = new Uint8Array([...gzipHeader(), ...chunk]);
 * new TextDecoder().decode(gunzipPrefix(cut).data); // "hello"
 * ```
 */
export function gunzipPrefix(bytes: Uint8Array): { data: Uint8Array; complete: boolean } {
  try {
    const whole = zlib.gunzipSync(bytes);
    return {
      data: new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength),
      complete: true,
    };
  } catch {
    // Cut short: inflate the raw stream after our fixed header, up to where it stops.
  }
  if (bytes.length < HEADER.length || bytes[0] !== 0x1f || bytes[1] !== 0x8b || bytes[3] !== 0) {
    throw new Error("not a gzip file written by the file sink");
  }
  const body = bytes.subarray(HEADER.length);
  if (body.length === 0) return { data: new Uint8Array(0), complete: false };
  const out = zlib.inflateRawSync(body, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return { data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), complete: false };
}
