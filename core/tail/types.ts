/**
 * What a {@linkcode FileFollower} is given and hands out: options, batches of lines
 * (as text or as bytes), saved positions and counters.
 *
 * @module
 */
// deno-lint-ignore no-unused-vars -- named by {@linkcode FileFollower} in the docs
import type { FileFollower } from "./follower.ts";

/**
 * Options of {@linkcode FileFollower}.
 *
 * @example
 * ```ts
 * import type { FollowerOptions } from "@eventstorm/core/source";
 * const options: FollowerOptions = { paths: ["/var/log/nginx/*.log"], fromStart: true };
 * ```
 */
export interface FollowerOptions {
  /** Files to follow: paths or globs (`*`, `?`, `**`, `[a-z]`, `{a,b}`). */
  paths: string[];
  /** Read files found at start from their beginning instead of their end. */
  fromStart?: boolean;
  /** Read what is there (from the start) and stop at the end of every file. */
  once?: boolean;
  /** How often open files are checked for new data, in ms (default 250). */
  pollIntervalMs?: number;
  /** How often globs are expanded again and paths checked for rotation, in ms (default 1000). */
  rescanIntervalMs?: number;
  /** How long a rotated-away file is kept open after its last growth, in ms (default 5000). */
  rotateWaitMs?: number;
  /** Longer lines are cut to this many bytes and counted (default 65536). */
  maxLineBytes?: number;
  /** Fingerprint covers the first line up to this many bytes (default 256). */
  fingerprintBytes?: number;
  /**
   * Lines per batch at most (default 100). A batch's lines live until it is
   * handled; larger batches outlived V8's young generation under the units'
   * small semi-space and were promoted, growing the heap (a source at 70,000
   * lines/s: 107 MB RSS with 1,000, 85 MB with 100, at the same speed).
   */
  maxBatchLines?: number;
}

/**
 * Consecutive lines of one file.
 *
 * @example
 * ```ts
 * import type { LineBatch } from "@eventstorm/core/source";
 * const batch: LineBatch = { path: "/var/log/app.log", file: "/var/log/app.log.1", fingerprint: "ab12", lines: ["x"], offset: 2 };
 * ```
 */
export interface LineBatch {
  /** The watched path the lines belong to (the name the file had when first seen). */
  path: string;
  /** Where the bytes were read from now (differs from `path` after a rotation). */
  file: string;
  /** Fingerprint of the file. */
  fingerprint: string;
  /** The lines, without `\n` or `\r\n`; empty for the idle batch after a quiet poll. */
  lines: string[];
  /** Byte offset in the file just after these lines. */
  offset: number;
}

/**
 * Consecutive lines of one file as bytes, for a parser that reads bytes: no
 * string is made of a line unless {@linkcode ByteLineBatch.text} is asked for
 * it. The buffers are the follower's own, reused for the next batch: read them
 * before asking for it.
 *
 * @example
 * ```ts
 * import { FileFollower } from "@eventstorm/core/source";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/app.log`, "GET /\r\nPUT /x\n");
 * const follower = new FileFollower({ paths: [`${dir}/app.log`], once: true });
 * for await (const batch of follower.byteBatches()) {
 *   for (let i = 0; i < batch.count; i++) {
 *     const line = batch.bytes.subarray(batch.starts[i], batch.ends[i]);
 *     console.log(line.length, batch.text(i)); // 5 "GET /", then 6 "PUT /x"
 *   }
 * }
 * ```
 */
export interface ByteLineBatch {
  /** The watched path the lines belong to (the name the file had when first seen). */
  readonly path: string;
  /** Where the bytes were read from now (differs from `path` after a rotation). */
  readonly file: string;
  /** Fingerprint of the file. */
  readonly fingerprint: string;
  /** Byte offset in the file just after these lines. */
  readonly offset: number;
  /** How many lines; 0 for the idle batch after a quiet poll. */
  readonly count: number;
  /**
   * The lines' bytes as the file holds them, invalid UTF-8 included: line `i`
   * is `bytes.subarray(starts[i], ends[i])`, without its newline, a CRLF's CR
   * or a BOM at its start, and cut at `maxLineBytes`.
   */
  readonly bytes: Uint8Array;
  /** Where each line starts in `bytes` (the first `count` entries). */
  readonly starts: Int32Array;
  /** Where each line ends in `bytes` (the first `count` entries). */
  readonly ends: Int32Array;
  /** Line `index` as text, as {@linkcode LineBatch} has it (invalid UTF-8 as U+FFFD). */
  text(index: number): string;
  /** Every line as text, as {@linkcode LineBatch} has them. */
  texts(): string[];
}

/**
 * Where reading stands in one file, as saved in a checkpoint.
 *
 * @example
 * ```ts
 * import type { FilePosition } from "@eventstorm/core/source";
 * const p: FilePosition = { fingerprint: "ab12", path: "/var/log/app.log", offset: 4096, seenAt: Date.now() };
 * ```
 */
export interface FilePosition {
  /** Hash of the file's first line (or first `fingerprintBytes` bytes). */
  fingerprint: string;
  /** Watched path the file was found under. */
  path: string;
  /** Bytes consumed: everything before is handed on, always at a line boundary. */
  offset: number;
  /** Last time (ms since epoch) `path` still named this file. */
  seenAt: number;
  /** The file was read to its end after it was rotated away, deleted or compressed. */
  finished?: boolean;
  /** Length and hash of the bytes just before `offset`, to tell this file from a new one with the same first line. */
  check?: string;
}

/**
 * Counters of a {@linkcode FileFollower}.
 *
 * @example
 * ```ts
 * import { FileFollower, type FollowerStats } from "@eventstorm/core/source";
 * const stats: FollowerStats = new FileFollower({ paths: [] }).stats();
 * ```
 */
export interface FollowerStats {
  /** Files open now. */
  filesWatched: number;
  /** Lines handed out. */
  linesRead: number;
  /** Bytes read (decompressed for `.gz`). */
  bytesRead: number;
  /** Files renamed away from their watched path. */
  rotations: number;
  /** Files that shrank or were rewritten in place (copytruncate, `> file`). */
  truncations: number;
  /** Files deleted while open. */
  deletions: number;
  /** Lines cut at `maxLineBytes`. */
  linesTooLong: number;
  /** Files that could not be read (unreadable, corrupt `.gz`). */
  readErrors: number;
}
