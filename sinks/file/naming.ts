/**
 * Segment file names. A segment of events of type `T` lives in `DIR/T/` and is
 * named after the moment it was opened (UTC, colons replaced by dashes so that
 * the name is valid everywhere) and a sequence number:
 *
 * ```text
 * DIR/http.hit/2026-11-23T18-00-00Z-000001.bson        closed, final
 * DIR/http.hit/2026-11-23T18-00-00Z-000002.jsonl.gz    closed, final
 * DIR/http.hit/2026-11-23T19-00-00Z-000001.bson.part   being written
 * ```
 *
 * Names of one type sort by the time their segment was opened, and so by the
 * order of the events in them. A name without `.part` is complete: it is only
 * given, by an atomic rename, to a file that has been written, flushed and
 * fsynced.
 *
 * @module
 */

/** How events are laid out in a segment. */
export type SegmentFormat = "bson" | "jsonl";

/** Suffix of a segment that is still being written (or was, when a crash left it). */
export const PART_SUFFIX = ".part";

/** What a segment file name says. */
export interface SegmentName {
  /** The base name: `2026-11-23T18-00-00Z-000001`. */
  base: string;
  /** When the segment was opened, to the second. */
  openedAt: Date;
  /** Sequence number among segments opened in the same second. */
  sequence: number;
  /** The body format. */
  format: SegmentFormat;
  /** Whether the file is gzip-compressed. */
  gzip: boolean;
  /** Whether the segment is unfinished (`.part`). */
  part: boolean;
}

const NAME_PATTERN = /^(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)-(\d{6,})\.(bson|jsonl)(\.gz)?(\.part)?$/;

/**
 * The time stamp used in names: UTC to the second, `2026-11-23T18-00-00Z`.
 *
 * @example
 * ```ts
 * import { formatStamp } from "@eventstorm/sink-file";
 * formatStamp(Date.UTC(2026, 10, 23, 18, 0, 0)); // "2026-11-23T18-00-00Z"
 * ```
 */
export function formatStamp(time: number): string {
  return new Date(time).toISOString().slice(0, 19).replaceAll(":", "-") + "Z";
}

/**
 * The base name of a segment from its stamp and sequence number.
 *
 * @example
 * ```ts
 * import { segmentBase } from "@eventstorm/sink-file";
 * segmentBase("2026-11-23T18-00-00Z", 1); // "2026-11-23T18-00-00Z-000001"
 * ```
 */
export function segmentBase(stamp: string, sequence: number): string {
  return `${stamp}-${String(sequence).padStart(6, "0")}`;
}

/**
 * The extension of a closed segment: `.bson`, `.jsonl`, `.bson.gz`, `.jsonl.gz`.
 *
 * @example
 * ```ts
 * import { segmentExtension } from "@eventstorm/sink-file";
 * segmentExtension("bson", true); // ".bson.gz"
 * ```
 */
export function segmentExtension(format: SegmentFormat, gzip: boolean): string {
  return `.${format}${gzip ? ".gz" : ""}`;
}

/**
 * Reads a segment file name, or `undefined` when it is not one.
 *
 * @example
 * ```ts
 * import { parseSegmentName } from "@eventstorm/sink-file";
 * parseSegmentName("2026-11-23T18-00-00Z-000002.jsonl.gz")?.sequence; // 2
 * parseSegmentName("notes.txt"); // undefined
 * ```
 */
export function parseSegmentName(fileName: string): SegmentName | undefined {
  const match = fileName.match(NAME_PATTERN);
  if (!match) return undefined;
  const [, stamp, sequence, format, gz, part] = match;
  const iso = `${stamp.slice(0, 10)}T${stamp.slice(11, 19).replaceAll("-", ":")}Z`;
  const openedAt = new Date(iso);
  if (Number.isNaN(openedAt.getTime())) return undefined;
  return {
    base: `${stamp}-${sequence}`,
    openedAt,
    sequence: Number(sequence),
    format: format as SegmentFormat,
    gzip: gz !== undefined,
    part: part !== undefined,
  };
}
