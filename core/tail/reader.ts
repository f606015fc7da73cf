/**
 * One open file (`Reader`), the position entry it owns (`Entry`), and how files are
 * told apart: by device and inode while open, by a fingerprint of their first line
 * across renames, copies and restarts.
 *
 * @module
 */
import { LineBuffer } from "./line_buffer.ts";

/** Where reading stands in one file, kept per fingerprint. */
export interface Entry {
  fingerprint: string;
  path: string;
  offset: number;
  seenAt: number;
  finished: boolean;
  order: number;
  owner?: Reader;
  /** {@linkcode evidence} of the bytes just before `offset`, when known. */
  check?: string;
}

/** One open file. */
export class Reader {
  file: Deno.FsFile;
  stream?: ReadableStreamDefaultReader<Uint8Array>;
  order = -1;
  head: Uint8Array = new Uint8Array(0);
  established = false;
  fingerprint = "";
  entry?: Entry;
  dupe = false;
  fresh = false;
  startAtEnd = false;
  readOffset = 0;
  committed = 0;
  skipUntil = 0;
  leftover?: Uint8Array;
  leftoverStart = 0;
  size = 0;
  mtimeMs = 0;
  birthMs = 0;
  ino = 0;
  nlink = 1;
  lastGrowth: number;
  validatedAt: number;
  seenAt: number;
  eof = false;
  truncated = false;
  closed = false;
  rotationSeen = false;
  line: LineBuffer;

  constructor(
    readonly key: string,
    public path: string,
    readonly base: string,
    readonly gz: boolean,
    public matched: boolean,
    file: Deno.FsFile,
    stat: Deno.FileInfo,
    maxLineBytes: number,
  ) {
    this.file = file;
    this.line = new LineBuffer(maxLineBytes);
    this.lastGrowth = this.validatedAt = this.seenAt = Date.now();
    this.updateStat(stat);
  }

  updateStat(stat: Deno.FileInfo): void {
    this.size = stat.size;
    this.mtimeMs = stat.mtime?.getTime() ?? 0;
    this.birthMs = stat.birthtime?.getTime() ?? 0;
    this.ino = stat.ino ?? 0;
    this.nlink = stat.nlink ?? 1;
  }

  reposition(offset: number): void {
    this.readOffset = this.committed = offset;
    this.leftover = undefined;
    this.line.reset();
  }
}

/** Device and inode: which open file this is, whatever its name. */
export function keyOf(stat: Deno.FileInfo): string {
  return `${stat.dev}:${stat.ino}`;
}

/** Size and modification time, to notice a skipped file that changed. */
export function stampOf(stat: Deno.FileInfo): string {
  return `${stat.size}:${stat.mtime?.getTime()}`;
}

/** The {@linkcode stampOf} of what a reader last saw. */
export function stamp(r: Reader): string {
  return `${r.size}:${r.mtimeMs}`;
}

/** The first line including its newline, or the first `max` bytes. */
export function headOf(bytes: Uint8Array, max: number): Uint8Array {
  const limit = Math.min(bytes.length, max);
  const newline = bytes.subarray(0, limit).indexOf(10);
  return bytes.subarray(0, newline >= 0 ? newline + 1 : limit);
}

/** Hex of the first 16 bytes of the SHA-256 of a file's head. */
export async function fingerprint(head: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", head as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Bytes before an offset that {@linkcode evidence} covers at most. */
export const EVIDENCE_BYTES = 64;

/**
 * Length and FNV-1a hash of the bytes just before a saved offset. Files are
 * told apart by their first line, which many logs share (a header, a banner,
 * an empty line): a new file with the same first line must not resume at the
 * offset of the one before it, and these bytes tell the two apart.
 */
export function evidence(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return `${bytes.length}:${hash.toString(16).padStart(8, "0")}`;
}
