/**
 * Reading an archive back: list the closed segments of a directory in order
 * and decode one.
 *
 * @module
 */
import { decodeBatch, fromJsonLine } from "@eventstorm/core/protocol";
import { parseSegmentName, type SegmentName } from "./naming.ts";

/** A segment file found by {@linkcode listSegments}. */
export interface SegmentEntry extends SegmentName {
  /** The event type (its directory). */
  type: string;
  /** Path of the file. */
  path: string;
}

/** Options of {@linkcode listSegments}. */
export interface ListSegmentsOptions {
  /** Only this event type. */
  type?: string;
  /** Also list unfinished `.part` files. */
  includeParts?: boolean;
}

/**
 * The segments under `dir`, by type and then in the order they were written
 * (which is their name order).
 *
 * @example
 * ```ts ignore
 * import { listSegments, readSegment } from "@eventstorm/sink-file";
 * for (const segment of await listSegments("/archive", { type: "http.hit" })) {
 *   console.log(segment.path, (await readSegment(segment.path)).length);
 * }
 * ```
 */
export async function listSegments(
  dir: string,
  options: ListSegmentsOptions = {},
): Promise<SegmentEntry[]> {
  const found: SegmentEntry[] = [];
  const types: string[] = [];
  if (options.type !== undefined) {
    types.push(options.type);
  } else {
    for await (const entry of Deno.readDir(dir)) if (entry.isDirectory) types.push(entry.name);
  }
  for (const type of types) {
    let entries;
    try {
      entries = await Array.fromAsync(Deno.readDir(`${dir}/${type}`));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound && options.type !== undefined) continue;
      throw error;
    }
    for (const entry of entries) {
      const name = entry.isFile ? parseSegmentName(entry.name) : undefined;
      if (!name || (name.part && !options.includeParts)) continue;
      found.push({ ...name, type, path: `${dir}/${type}/${entry.name}` });
    }
  }
  return found.sort((a, b) =>
    a.type < b.type ? -1 : a.type > b.type ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0
  );
}

/**
 * Decodes a closed segment (`.bson`, `.jsonl`, either `.gz`) into its documents.
 * Throws for a torn or malformed file.
 *
 * @example
 * ```ts ignore
 * import { readSegment } from "@eventstorm/sink-file";
 * const events = await readSegment("/archive/http.hit/2026-11-23T18-00-00Z-000001.bson.gz");
 * ```
 */
export async function readSegment(path: string): Promise<Record<string, unknown>[]> {
  const name = parseSegmentName(path.slice(path.lastIndexOf("/") + 1));
  if (!name) throw new Error(`${path} is not a segment file name`);
  let bytes = await Deno.readFile(path);
  if (name.gzip) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  }
  if (name.format === "bson") return decodeBatch(bytes);
  const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  if (text.length > 0 && !text.endsWith("\n")) throw new Error(`${path}: last line is torn`);
  return text.split("\n").slice(0, -1).map((line) => fromJsonLine(line));
}
