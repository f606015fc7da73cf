/**
 * Finalizes the `.part` segments a crash left behind: keeps every complete
 * document, cuts off a torn last one, and renames the file to its final name.
 *
 * @module
 */
import { BSON } from "bson";
import { fromJsonLine } from "@eventstorm/core/protocol";
import { crc32, deflateChunk, gunzipPrefix, gzipHeader, gzipTrailer } from "./gzip.ts";
import { parseSegmentName, PART_SUFFIX, type SegmentFormat } from "./naming.ts";
import { syncDirectory } from "./segment.ts";

/** Suffix of a gzip segment being rewritten by recovery. */
const RECOVERING_SUFFIX = ".recovering";

/** What recovery did with one `.part` file. */
export interface Recovery {
  /** The `.part` file found. */
  part: string;
  /** The final file it became; absent when nothing in it was complete (removed) or on error. */
  path?: string;
  /** Complete documents kept. */
  documents: number;
  /** Uncompressed bytes cut off after the last complete document. */
  droppedBytes: number;
  /** Why the file was left as it is. */
  error?: string;
}

/**
 * Length of the longest prefix of `content` made of complete, decodable
 * documents of `format`, and how many documents that is; `onId` is told the
 * `_id` of each document in it.
 *
 * @example
 * ```ts
 * import { completePrefix } from "@eventstorm/sink-file";
 * completePrefix(new TextEncoder().encode('{"a":1}\n{"a":'), "jsonl"); // { bytes: 8, documents: 1 }
 * ```
 */
export function completePrefix(
  content: Uint8Array,
  format: SegmentFormat,
  onId?: (id: unknown) => void,
): { bytes: number; documents: number } {
  let bytes = 0;
  let documents = 0;
  if (format === "bson") {
    const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
    while (content.length - bytes >= 5) {
      const size = view.getInt32(bytes, true);
      if (size < 5 || size > content.length - bytes || content[bytes + size - 1] !== 0) break;
      try {
        const document = BSON.deserialize(content.subarray(bytes, bytes + size), {
          validation: { utf8: true },
          allowObjectSmallerThanBufferSize: false,
        });
        onId?.(document._id);
      } catch {
        // A length that fits but garbage inside: a torn or zero-filled tail.
        break;
      }
      bytes += size;
      documents++;
    }
    return { bytes, documents };
  }
  const decoder = new TextDecoder("utf-8", { fatal: true });
  while (bytes < content.length) {
    const end = content.indexOf(0x0a, bytes);
    if (end < 0) break;
    try {
      const document = fromJsonLine(decoder.decode(content.subarray(bytes, end)));
      onId?.(document._id);
    } catch {
      break;
    }
    bytes = end + 1;
    documents++;
  }
  return { bytes, documents };
}

/**
 * Recovers one `.part` segment: finalizes it under its name without `.part`,
 * holding its complete documents (`onId` is told the `_id` of each); removes it when none is complete; leaves it
 * in place and says why when it cannot be read at all.
 *
 * @example
 * ```ts ignore
 * import { recoverPart } from "@eventstorm/sink-file";
 * const result = await recoverPart("/archive/http.hit/2026-11-23T18-00-00Z-000001.bson.part");
 * console.log(result.path, result.documents, result.droppedBytes);
 * ```
 */
export async function recoverPart(
  part: string,
  onId?: (id: unknown) => void,
): Promise<Recovery> {
  const slash = part.lastIndexOf("/");
  const name = parseSegmentName(part.slice(slash + 1));
  if (!name?.part) return { part, documents: 0, droppedBytes: 0, error: "not a segment name" };
  const path = part.slice(0, -PART_SUFFIX.length);
  const dir = slash > 0 ? part.slice(0, slash) : ".";
  try {
    await Deno.lstat(path);
    // The final file exists: recovery of a gzip part was cut off after its rename.
    await Deno.remove(part);
    await syncDirectory(dir);
    return { part, path, documents: 0, droppedBytes: 0 };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const bytes = await Deno.readFile(part);
  let content: Uint8Array;
  let complete = true;
  if (name.gzip) {
    try {
      ({ data: content, complete } = gunzipPrefix(bytes));
    } catch (error) {
      return { part, documents: 0, droppedBytes: 0, error: String(error) };
    }
  } else {
    content = bytes;
  }
  const prefix = completePrefix(content, name.format, onId);
  const droppedBytes = content.length - prefix.bytes;
  if (prefix.documents === 0) {
    await Deno.remove(part);
    await syncDirectory(dir);
    return { part, documents: 0, droppedBytes };
  }
  if (!name.gzip) {
    if (droppedBytes > 0) await Deno.truncate(part, prefix.bytes);
    const file = await Deno.open(part, { write: true });
    try {
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(part, path);
  } else if (complete && droppedBytes === 0) {
    const file = await Deno.open(part, { write: true });
    try {
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(part, path);
  } else {
    // The deflate stream is cut: write the kept content as a new, whole gzip file.
    const kept = content.subarray(0, prefix.bytes);
    const temporary = path + RECOVERING_SUFFIX;
    const file = await Deno.open(temporary, { write: true, create: true, truncate: true });
    try {
      for (
        const piece of [gzipHeader(), deflateChunk(kept), gzipTrailer(crc32(kept), kept.length)]
      ) {
        let offset = 0;
        while (offset < piece.length) offset += await file.write(piece.subarray(offset));
      }
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temporary, path);
    await syncDirectory(dir);
    await Deno.remove(part);
  }
  await syncDirectory(dir);
  return { part, path, documents: prefix.documents, droppedBytes };
}

/**
 * Recovers every `.part` segment under `dir` (one level of type directories),
 * telling `onId` the `_id` of each document kept, and removes files a recovery cut off by a crash left half written.
 *
 * @example
 * ```ts ignore
 * import { recoverDirectory } from "@eventstorm/sink-file";
 * for (const r of await recoverDirectory("/archive")) console.error(r.part, r.documents);
 * ```
 */
export async function recoverDirectory(
  dir: string,
  onId?: (id: unknown) => void,
): Promise<Recovery[]> {
  const results: Recovery[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isDirectory) continue;
    const typeDir = `${dir}/${entry.name}`;
    const parts: string[] = [];
    for await (const file of Deno.readDir(typeDir)) {
      if (!file.isFile) continue;
      if (file.name.endsWith(RECOVERING_SUFFIX)) {
        await Deno.remove(`${typeDir}/${file.name}`);
      } else if (file.name.endsWith(PART_SUFFIX) && parseSegmentName(file.name)) {
        parts.push(`${typeDir}/${file.name}`);
      }
    }
    for (const part of parts.sort()) {
      try {
        results.push(await recoverPart(part, onId));
      } catch (error) {
        results.push({ part, documents: 0, droppedBytes: 0, error: String(error) });
      }
    }
  }
  return results;
}
