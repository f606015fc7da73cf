/**
 * The archive sink: events appended to rolling segment files, one directory per
 * event type, as `.bson` (BSON documents back to back, the body format of the
 * wire and of mongodump, readable by `bsondump` and `mongorestore`) or `.jsonl`
 * (Extended JSON lines), optionally gzip-compressed. Segments roll by size and
 * by age, are fsynced and renamed from `.part` when closed, and a crash's
 * leftovers are finalized at the next start. `eventstorm sink file` is in `./main`.
 *
 * @example
 * ```ts
 * import { FileBackend, listSegments, readSegment } from "@eventstorm/sink-file";
 * const dir = await Deno.makeTempDir();
 * const backend = await FileBackend.open({ dir, format: "bson", maxBytes: 1 << 20 });
 * await backend.write([{ type: "ssh.login", time: new Date(), host: "bastion", user: "root" }]);
 * await backend.close();
 * for (const segment of await listSegments(dir)) {
 *   console.log(segment.type, segment.path, await readSegment(segment.path));
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export {
  type ClosedSegment,
  DEFAULT_MAX_AGE_MS,
  DEFAULT_MAX_BYTES,
  FileBackend,
  type FileBackendOptions,
  type FileBackendStats,
} from "./backend.ts";
export {
  createSegmentFile,
  type OpenSegmentFile,
  Segment,
  type SegmentFile,
  type SegmentMark,
  type SegmentOptions,
} from "./segment.ts";
export {
  formatStamp,
  parseSegmentName,
  PART_SUFFIX,
  segmentBase,
  segmentExtension,
  type SegmentFormat,
  type SegmentName,
} from "./naming.ts";
export { PositionLog, POSITIONS_FILE } from "./positions.ts";
export { completePrefix, recoverDirectory, recoverPart, type Recovery } from "./recover.ts";
export { listSegments, type ListSegmentsOptions, readSegment, type SegmentEntry } from "./read.ts";
export { crc32, deflateChunk, gunzipPrefix, gzipHeader, gzipTrailer } from "./gzip.ts";
export { parseByteSize } from "@eventstorm/core/cli";
export { FILE_SINK_FLAGS, fileBackendOptions } from "./config.ts";
