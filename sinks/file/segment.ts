/**
 * One segment being written: a `.part` file that grows by whole batches, can
 * take its last appends back, and ends as a flushed, fsynced file under its
 * final name.
 *
 * @module
 */
import { crc32, deflateChunk, gzipHeader, gzipTrailer } from "./gzip.ts";
import { PART_SUFFIX, type SegmentFormat } from "./naming.ts";

/** The file operations a segment needs; `Deno.FsFile` has them all. */
export interface SegmentFile {
  /** Writes some of `data` at the current position; resolves with how much. */
  write(data: Uint8Array): Promise<number>;
  /** Cuts the file to `length` bytes. */
  truncate(length?: number): Promise<void>;
  /** Moves the position. */
  seek(offset: number, whence: Deno.SeekMode): Promise<number>;
  /** Flushes data and metadata to the disk (fsync). */
  sync(): Promise<void>;
  /** Releases the file. */
  close(): void;
}

/** Creates a new file at `path` for writing; fails when it exists. */
export type OpenSegmentFile = (path: string) => Promise<SegmentFile>;

/**
 * Creates `path` exclusively for writing, the default {@linkcode OpenSegmentFile}.
 *
 * @example
 * ```ts ignore
 * import { createSegmentFile } from "@eventstorm/sink-file";
 * const file = await createSegmentFile("/tmp/x.bson.part");
 * file.close();
 * ```
 */
export function createSegmentFile(path: string): Promise<SegmentFile> {
  return Deno.open(path, { write: true, createNew: true });
}

/** Options of {@linkcode Segment.create}. */
export interface SegmentOptions {
  /** The final path; the file is written as `path + ".part"` until it is finished. */
  path: string;
  /** Body format (only used for reporting; the caller encodes). */
  format: SegmentFormat;
  /** Compress with gzip. */
  gzip: boolean;
  /** When the segment was opened, ms since the epoch. */
  openedAt: number;
  /** When the segment is due to be closed by age, ms since the epoch. */
  closesAt: number;
  /** How to create the file (tests inject failures here). */
  openFile?: OpenSegmentFile;
}

/** Where a segment stood, to go back to with {@linkcode Segment.rollback}. */
export interface SegmentMark {
  /** Bytes in the file. */
  fileBytes: number;
  /** Uncompressed bytes of documents. */
  contentBytes: number;
  /** Documents. */
  documents: number;
  /** Running CRC-32 of the content (gzip only). */
  crc: number;
}

/**
 * A segment file being written. Appends are all-or-nothing: an append that
 * fails partway is cut back before the error is rethrown, and a caller can undo
 * earlier appends with {@linkcode Segment.mark} and {@linkcode Segment.rollback}.
 *
 * @example
 * ```ts
 * import { Segment } from "@eventstorm/sink-file";
 * const dir = await Deno.makeTempDir();
 * const segment = await Segment.create({
 *   path: `${dir}/2026-01-01T00-00-00Z-000001.jsonl`, format: "jsonl", gzip: false,
 *   openedAt: Date.now(), closesAt: Date.now() + 3_600_000,
 * });
 * await segment.append(new TextEncoder().encode('{"n":1}\n'), 1);
 * await segment.finish(); // fsynced, renamed from .part
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Segment {
  /** Final path. */
  readonly path: string;
  /** Path while being written. */
  readonly partPath: string;
  /** Body format. */
  readonly format: SegmentFormat;
  /** Whether the file is gzip. */
  readonly gzip: boolean;
  /** When it was opened, ms since the epoch. */
  readonly openedAt: number;
  /** When it is due to close by age, ms since the epoch. */
  readonly closesAt: number;
  #file: SegmentFile | undefined;
  #fileBytes = 0;
  #contentBytes = 0;
  #documents = 0;
  #crc = 0;
  #trailerWritten = false;
  #synced = false;
  #finished = false;
  #broken = false;

  private constructor(options: SegmentOptions, file: SegmentFile) {
    this.path = options.path;
    this.partPath = options.path + PART_SUFFIX;
    this.format = options.format;
    this.gzip = options.gzip;
    this.openedAt = options.openedAt;
    this.closesAt = options.closesAt;
    this.#file = file;
  }

  /** Creates the `.part` file (exclusively: an existing one throws `AlreadyExists`). */
  static async create(options: SegmentOptions): Promise<Segment> {
    const partPath = options.path + PART_SUFFIX;
    const file = await (options.openFile ?? createSegmentFile)(partPath);
    const segment = new Segment(options, file);
    if (options.gzip) {
      try {
        await segment.#writeAll(gzipHeader());
      } catch (error) {
        await segment.discard().catch(() => {});
        throw error;
      }
    }
    return segment;
  }

  /** Bytes in the file. */
  get fileBytes(): number {
    return this.#fileBytes;
  }

  /** Uncompressed bytes of documents, what `--max-bytes` limits. */
  get contentBytes(): number {
    return this.#contentBytes;
  }

  /** Documents appended. */
  get documents(): number {
    return this.#documents;
  }

  /** Whether a failed rollback left the file in an unknown state. */
  get broken(): boolean {
    return this.#broken;
  }

  /** Where the segment stands now. */
  mark(): SegmentMark {
    return {
      fileBytes: this.#fileBytes,
      contentBytes: this.#contentBytes,
      documents: this.#documents,
      crc: this.#crc,
    };
  }

  /** Appends encoded documents (`count` of them), compressing when gzip; all or nothing. */
  async append(content: Uint8Array, count: number): Promise<void> {
    if (this.#file === undefined || this.#trailerWritten || this.#broken) {
      throw new Error(`segment ${this.partPath} is not open for writing`);
    }
    const mark = this.mark();
    const bytes = this.gzip ? deflateChunk(content) : content;
    try {
      await this.#writeAll(bytes);
    } catch (error) {
      await this.rollback(mark);
      throw error;
    }
    this.#contentBytes += content.length;
    this.#documents += count;
    if (this.gzip) this.#crc = crc32(content, this.#crc);
  }

  /**
   * Cuts the file back to `mark`. When even that fails the segment is marked
   * {@linkcode Segment.broken} and the error rethrown.
   */
  async rollback(mark: SegmentMark): Promise<void> {
    try {
      await this.#file!.truncate(mark.fileBytes);
      await this.#file!.seek(mark.fileBytes, Deno.SeekMode.Start);
    } catch (error) {
      this.#broken = true;
      throw error;
    }
    this.#fileBytes = mark.fileBytes;
    this.#contentBytes = mark.contentBytes;
    this.#documents = mark.documents;
    this.#crc = mark.crc;
  }

  /**
   * Finishes the segment: gzip trailer, fsync, close, rename from `.part` to the
   * final name, fsync of the directory. A failed step throws and the next call
   * resumes from it.
   */
  async finish(): Promise<void> {
    if (this.#finished) return;
    if (this.#broken) throw new Error(`segment ${this.partPath} is broken`);
    if (this.gzip && !this.#trailerWritten) {
      const mark = this.mark();
      try {
        await this.#writeAll(gzipTrailer(this.#crc, this.#contentBytes));
      } catch (error) {
        await this.rollback(mark);
        throw error;
      }
      this.#trailerWritten = true;
    }
    if (!this.#synced) {
      await this.#file!.sync();
      this.#synced = true;
      this.#file!.close();
      this.#file = undefined;
    }
    await Deno.rename(this.partPath, this.path);
    await syncDirectory(dirname(this.path));
    this.#finished = true;
  }

  /** Closes and deletes the `.part` file (a segment that must not exist after all). */
  async discard(): Promise<void> {
    this.#file?.close();
    this.#file = undefined;
    this.#finished = true;
    await Deno.remove(this.partPath);
  }

  /** Closes the file and leaves the `.part` where it is, for recovery at the next start. */
  abandon(): void {
    try {
      this.#file?.close();
    } catch {
      // Already closed: nothing held.
    }
    this.#file = undefined;
    this.#finished = true;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.#file!.write(bytes.subarray(offset));
    this.#fileBytes += bytes.length;
  }
}

/** The directory part of a path. */
function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? (slash === 0 ? "/" : ".") : path.slice(0, slash);
}

/**
 * Fsyncs a directory, so that a rename or a new file in it survives a power cut.
 * File systems that cannot (EINVAL) are let be.
 *
 * @example
 * ```ts ignore
 * import { syncDirectory } from "@eventstorm/sink-file";
 * await syncDirectory("/var/lib/eventstorm/archive");
 * ```
 */
export async function syncDirectory(path: string): Promise<void> {
  const dir = await Deno.open(path, { read: true });
  try {
    await dir.sync();
  } catch (error) {
    if (!/os error 22\b/.test(String(error))) throw error;
  } finally {
    dir.close();
  }
}
