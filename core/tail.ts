/**
 * Follows log files like `tail -F`, but without losing or repeating a line across
 * rotation (rename-and-create, copytruncate), truncation, deletion and restarts.
 *
 * Files are known by a fingerprint of their first line (at most
 * `fingerprintBytes`), not by inode, so a reused inode is a new file and a copy of
 * a file is the same file. Positions are kept per fingerprint and can be saved
 * and restored (see {@linkcode FileFollower.positions}).
 *
 * @module
 */
import { basename, dirname, join, parse, resolve, sep } from "node:path";
import { sleep } from "./sleep.ts";

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
  /** Lines per batch at most (default 1000). */
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

// Each chunk costs a read, a check of the file's head and two seeks: at 64 KiB
// they were a third of the time a busy source spent reading.
const CHUNK_BYTES = 256 * 1024;
// How long reading may go on before timers and signals get their turn.
const PAUSE_EVERY_MS = 20;
// Kernel file timestamps come from a coarse clock that may lag Date.now() a little.
const CLOCK_SLACK_MS = 50;
// Finished files are remembered so that a copy or a compressed copy is not read again.
const MAX_FINISHED = 1000;
// An offset meaning "all of it": a `.gz` found at start when starting at the end.
const WHOLE_FILE = Number.MAX_SAFE_INTEGER;
// Names a rotated file gets after the watched name: `.1`, `-20260101`, `.1.gz`.
const ROTATED_SUFFIX = /^[._-]\d[\d._-]*(\.gz)?$/i;

interface Entry {
  fingerprint: string;
  path: string;
  offset: number;
  seenAt: number;
  finished: boolean;
  order: number;
  owner?: Reader;
}

/** Bytes of one line being assembled, cut at the limit. */
class LineBuffer {
  #parts: Uint8Array[] = [];
  #length = 0;
  /** The line went past the limit; further bytes are dropped. */
  cut = false;
  /** Drop this line entirely (we started in its middle). */
  discard = false;

  constructor(readonly max: number) {}

  get empty(): boolean {
    return this.#length === 0 && !this.cut && !this.discard;
  }

  add(bytes: Uint8Array): void {
    if (this.cut || this.discard || bytes.length === 0) return;
    const room = this.max - this.#length;
    if (bytes.length > room) {
      bytes = bytes.subarray(0, cutPoint(bytes, room));
      this.cut = true;
    }
    this.#parts.push(bytes.slice());
    this.#length += bytes.length;
  }

  take(): Uint8Array {
    const out = this.#parts.length === 1 ? this.#parts[0] : concat(this.#parts, this.#length);
    this.reset();
    return out;
  }

  reset(): void {
    this.#parts = [];
    this.#length = 0;
    this.cut = false;
    this.discard = false;
  }
}

/** One open file. */
class Reader {
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

/**
 * Follows files and yields their new lines in batches. Lines are complete: a
 * last line without its newline waits for it, except at the end of `once` input
 * and at the end of a rotated-away file, where it is handed out as it is. Lines
 * longer than `maxLineBytes` are cut there and counted; invalid UTF-8 becomes
 * U+FFFD.
 *
 * Rotation: a renamed file stays open and is read to its end before the file
 * that replaced it (and is closed `rotateWaitMs` after it stops growing); files
 * renamed more than once between two scans are found next to the watched path
 * (`app.log.1`, `app.log-20260101`). A truncated file is read again from the
 * start, and after copytruncate the rest of the old content is read from the
 * copy. Positions saved with {@linkcode positions} and given back with
 * {@linkcode restore} resume every file at the line where it stopped, including
 * files rotated (or compressed to `.gz`) while nobody was reading.
 *
 * @example
 * ```ts
 * import { FileFollower } from "@eventstorm/core/source";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/app.log`, "one\ntwo\n");
 * const follower = new FileFollower({ paths: [`${dir}/*.log`], once: true });
 * for await (const batch of follower.batches()) console.log(batch.lines); // ["one", "two"]
 * ```
 */
export class FileFollower {
  readonly #patterns: string[];
  readonly #fromStart: boolean;
  readonly #once: boolean;
  readonly #pollMs: number;
  readonly #rescanMs: number;
  readonly #rotateWaitMs: number;
  readonly #maxLineBytes: number;
  readonly #fingerprintBytes: number;
  readonly #maxBatchLines: number;
  readonly #readers = new Set<Reader>();
  readonly #byKey = new Map<string, Reader>();
  readonly #entries = new Map<string, Entry>();
  // Files not worth opening again while unchanged: finished or broken `.gz`.
  readonly #skip = new Map<string, string>();
  readonly #scratch = new Uint8Array(CHUNK_BYTES);
  #lastPause = 0;
  // BOMs are kept by decoding and dropped by cleanLine, so that where a decode
  // call happens to start cannot change a line.
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  #nextOrder = 0;
  #nextScan = 0;
  #opened = false;
  #restored = false;
  readonly #stats: FollowerStats = {
    filesWatched: 0,
    linesRead: 0,
    bytesRead: 0,
    rotations: 0,
    truncations: 0,
    deletions: 0,
    linesTooLong: 0,
    readErrors: 0,
  };

  /** Creates a follower; nothing is opened before {@linkcode open} or {@linkcode batches}. */
  constructor(options: FollowerOptions) {
    this.#patterns = [...options.paths];
    this.#once = options.once ?? false;
    this.#fromStart = this.#once || (options.fromStart ?? false);
    this.#pollMs = options.pollIntervalMs ?? 250;
    this.#rescanMs = options.rescanIntervalMs ?? 1000;
    this.#rotateWaitMs = options.rotateWaitMs ?? 5000;
    this.#maxLineBytes = Math.max(16, options.maxLineBytes ?? 64 * 1024);
    this.#fingerprintBytes = Math.max(1, options.fingerprintBytes ?? 256);
    this.#maxBatchLines = Math.max(1, options.maxBatchLines ?? 1000);
  }

  /**
   * Gives back positions saved from {@linkcode positions}; call before
   * {@linkcode open}. Files found then that the positions do not know are new
   * since the checkpoint and are read from their start.
   */
  restore(positions: readonly FilePosition[]): void {
    if (this.#opened) throw new Error("restore() must come before open()");
    this.#restored = true;
    for (const p of positions) {
      if (
        typeof p?.fingerprint !== "string" || typeof p.path !== "string" ||
        !Number.isSafeInteger(p.offset) || p.offset < 0 || this.#entries.has(p.fingerprint)
      ) continue;
      this.#entries.set(p.fingerprint, {
        fingerprint: p.fingerprint,
        path: p.path,
        offset: p.offset,
        seenAt: typeof p.seenAt === "number" ? p.seenAt : 0,
        finished: p.finished === true,
        order: this.#nextOrder++,
      });
    }
  }

  /**
   * Where reading stands in every known file, in reading order. While
   * {@linkcode batches} is paused at a batch, the positions are just after it.
   */
  positions(): FilePosition[] {
    return [...this.#entries.values()]
      .sort((a, b) => a.order - b.order)
      .map((e) => ({
        fingerprint: e.fingerprint,
        path: e.path,
        offset: e.offset,
        seenAt: e.seenAt,
        ...(e.finished ? { finished: true } : {}),
      }));
  }

  /** Current counters. */
  stats(): FollowerStats {
    return { ...this.#stats, filesWatched: this.#readers.size };
  }

  /** Finds and opens the files, placing each at its start position. Idempotent. */
  async open(): Promise<void> {
    if (this.#opened) return;
    this.#opened = true;
    await this.#scan(true);
  }

  /**
   * Yields batches of new lines until `signal` aborts (or, with `once`, until
   * every file is read to its end). After a poll that found nothing it yields an
   * idle batch with no lines, so a consumer can do timed work; the positions are
   * consistent whenever the generator is paused at a yield.
   */
  async *batches(signal?: AbortSignal): AsyncGenerator<LineBatch> {
    await this.open();
    while (!signal?.aborted) {
      if (!this.#once && Date.now() >= this.#nextScan) await this.#scan(false);
      let progressed = false;
      for (const reader of [...this.#readers].sort((a, b) => a.order - b.order)) {
        for await (const batch of this.#drain(reader)) {
          progressed = true;
          yield batch;
          if (signal?.aborted) return;
        }
      }
      if (this.#once && this.#readers.size === 0) return;
      if (!progressed) {
        yield { path: "", file: "", fingerprint: "", lines: [], offset: 0 };
        await sleep(this.#pollMs, signal);
      }
    }
  }

  /** Closes every file. */
  close(): void {
    for (const reader of [...this.#readers]) this.#close(reader, false);
  }

  // --- one file per poll -------------------------------------------------------------------

  async *#drain(r: Reader): AsyncGenerator<LineBatch> {
    if (r.closed) return;
    await this.#refresh(r);
    if (r.closed) return;
    const closing = this.#closingDue(r);
    if (!r.truncated && !r.established) await this.#establish(r, this.#once || closing);
    if (r.closed) return;
    if (r.dupe) await this.#tryClaim(r);
    if (!r.truncated && r.established && !r.dupe) {
      for (let batch; (batch = await this.#read(r));) yield batch;
    }
    if (r.truncated) return await this.#afterTruncation(r);
    if (r.gz ? !(r.eof && !r.dupe) : !(this.#once || this.#closingDue(r))) return;
    const last = r.dupe ? undefined : this.#flushPartial(r);
    // Still-watched files are not "finished": a later run picks them up again.
    this.#close(r, !r.matched);
    if (last) yield last;
  }

  #closingDue(r: Reader): boolean {
    return !r.matched && Date.now() - r.lastGrowth >= this.#rotateWaitMs;
  }

  async #refresh(r: Reader): Promise<void> {
    if (r.gz) return;
    let stat: Deno.FileInfo;
    try {
      stat = await r.file.stat();
    } catch {
      this.#stats.readErrors++;
      return this.#close(r, false);
    }
    if (stat.size > r.size) r.lastGrowth = Date.now();
    r.updateStat(stat);
    if (stat.size < r.readOffset) r.truncated = true;
  }

  /** Reads up to one batch of complete lines; `undefined` at the end of the data. */
  async #read(r: Reader): Promise<LineBatch | undefined> {
    const lines: string[] = [];
    if (!r.gz) r.file.seekSync(r.readOffset, Deno.SeekMode.Start);
    while (lines.length < this.#maxBatchLines) {
      let chunk: Uint8Array;
      let start: number;
      if (r.leftover) {
        chunk = r.leftover;
        start = r.leftoverStart;
        r.leftover = undefined;
      } else {
        const got = await this.#nextChunk(r);
        if (!got) break;
        [chunk, start] = got;
      }
      let pos = Math.max(0, r.skipUntil - start);
      while (pos < chunk.length && lines.length < this.#maxBatchLines) {
        if (r.line.empty) {
          const end = this.#decodeRun(chunk, pos, this.#maxBatchLines - lines.length, lines);
          if (end > pos) {
            pos = end;
            r.committed = start + pos;
            continue;
          }
        }
        const newline = chunk.indexOf(10, pos);
        if (newline < 0) {
          r.line.add(chunk.subarray(pos));
          pos = chunk.length;
          break;
        }
        const line = this.#completeLine(r, chunk.subarray(pos, newline));
        pos = newline + 1;
        r.committed = start + pos;
        if (line !== undefined) lines.push(line);
      }
      if (pos < chunk.length) {
        r.leftover = chunk.slice(pos);
        r.leftoverStart = start + pos;
      }
    }
    if (r.entry) r.entry.offset = r.committed;
    if (lines.length === 0) return undefined;
    this.#stats.linesRead += lines.length;
    return { path: r.base, file: r.path, fingerprint: r.fingerprint, lines, offset: r.committed };
  }

  async #nextChunk(r: Reader): Promise<[Uint8Array, number] | undefined> {
    if (r.gz) {
      if (r.eof || !r.stream) return undefined;
      try {
        const { value, done } = await r.stream.read();
        if (done) {
          r.eof = true;
          return undefined;
        }
        const start = r.readOffset;
        r.readOffset += value.length;
        this.#stats.bytesRead += value.length;
        return [value, start];
      } catch {
        this.#stats.readErrors++;
        r.eof = true;
        return undefined;
      }
    }
    // Mostly synchronous, like the seeks around it: only regular files are
    // followed, and reading one from the page cache takes microseconds, while an
    // async op waits for a thread-pool round trip (a busy source sat idle a fifth
    // of its time). Every PAUSE_EVERY_MS one read is async all the same: that
    // round trip is when signals and timers (Ctrl-C, stats lines) get their turn.
    let n: number | null;
    if (performance.now() - this.#lastPause < PAUSE_EVERY_MS) {
      n = r.file.readSync(this.#scratch);
    } else {
      n = await r.file.read(this.#scratch);
      this.#lastPause = performance.now();
    }
    if (n === null || n === 0) return undefined;
    // The bytes are ours only if the file still starts as it did: after copytruncate
    // they may already belong to the new content.
    if (!this.#headMatches(r)) {
      r.truncated = true;
      return undefined;
    }
    const start = r.readOffset;
    r.readOffset += n;
    this.#stats.bytesRead += n;
    if (r.readOffset > r.size) {
      r.size = r.readOffset;
      r.lastGrowth = Date.now();
    }
    r.file.seekSync(r.readOffset, Deno.SeekMode.Start);
    return [this.#scratch.subarray(0, n), start];
  }

  /**
   * Appends the run of complete lines from `pos` that need no cutting (at most
   * `room`), decoded with one call rather than one per line, which is most of
   * the cost of reading; returns where the run ends (`pos` when there is none).
   */
  #decodeRun(chunk: Uint8Array, pos: number, room: number, lines: string[]): number {
    let end = pos;
    let count = 0;
    while (count < room) {
      const newline = chunk.indexOf(10, end);
      if (newline < 0 || newline - end > this.#maxLineBytes) break;
      end = newline + 1;
      count++;
    }
    if (count === 0) return pos;
    // A newline byte always decodes to "\n", also right after invalid UTF-8, so
    // the split gives exactly the lines the bytes hold.
    for (const text of this.#decoder.decode(chunk.subarray(pos, end - 1)).split("\n")) {
      lines.push(cleanLine(text));
    }
    return end;
  }

  /** Finishes the line ending at a newline; `undefined` when it is to be dropped. */
  #completeLine(r: Reader, tail: Uint8Array): string | undefined {
    let bytes: Uint8Array;
    let cut = false;
    if (r.line.empty && tail.length <= this.#maxLineBytes) {
      bytes = tail;
    } else {
      r.line.add(tail);
      if (r.line.discard) {
        r.line.reset();
        return undefined;
      }
      cut = r.line.cut;
      bytes = r.line.take();
    }
    if (cut) this.#stats.linesTooLong++;
    return cleanLine(this.#decoder.decode(bytes));
  }

  #flushPartial(r: Reader): LineBatch | undefined {
    if (r.line.empty || r.line.discard) return undefined;
    const cut = r.line.cut;
    const bytes = r.line.take();
    if (cut) this.#stats.linesTooLong++;
    r.committed = r.readOffset;
    if (r.entry) r.entry.offset = r.committed;
    this.#stats.linesRead++;
    const text = this.#decoder.decode(bytes);
    return {
      path: r.base,
      file: r.path,
      fingerprint: r.fingerprint,
      lines: [cleanLine(text)],
      offset: r.committed,
    };
  }

  // --- identity ---------------------------------------------------------------------------

  /**
   * Reads the file's first line (up to `fingerprintBytes`) and, unless `probe`,
   * claims the position known for it. A first line still being written waits,
   * unless `final`.
   */
  async #establish(r: Reader, final: boolean, probe = false): Promise<void> {
    const max = this.#fingerprintBytes;
    let head: Uint8Array;
    if (r.gz) {
      if (!r.stream) return;
      const parts: Uint8Array[] = [];
      let length = 0;
      try {
        while (length < max && !parts.some((p) => p.includes(10))) {
          const { value, done } = await r.stream.read();
          if (done) {
            r.eof = true;
            break;
          }
          parts.push(value);
          length += value.length;
        }
      } catch {
        this.#stats.readErrors++;
        this.#skip.set(r.key, stamp(r));
        return this.#close(r, false);
      }
      const all = concat(parts, length);
      this.#stats.bytesRead += length;
      r.leftover = all;
      r.leftoverStart = 0;
      r.readOffset = length;
      head = headOf(all, max);
      final = true; // A compressed file does not grow.
    } else {
      const buffer = new Uint8Array(max);
      let length = 0;
      await r.file.seek(0, Deno.SeekMode.Start);
      while (length < max) {
        const n = await r.file.read(buffer.subarray(length));
        if (n === null || n === 0) break;
        length += n;
      }
      head = headOf(buffer.subarray(0, length), max);
    }
    const complete = head.length === max || head.at(-1) === 10;
    if (!complete && !(final && head.length > 0)) return;
    r.head = head.slice();
    r.established = true;
    r.fingerprint = await fingerprint(r.head);
    if (!probe) await this.#claim(r);
  }

  /**
   * Takes the position of the reader's fingerprint: resumes a known file, starts a
   * new one, or waits as a duplicate while another open file (a copy with the same
   * start) owns it.
   */
  async #claim(r: Reader): Promise<void> {
    const known = this.#entries.get(r.fingerprint);
    if (known?.owner && known.owner !== r && !known.owner.closed) {
      r.dupe = true;
      return;
    }
    let entry: Entry;
    let offset: number;
    let midLine = false;
    if (known && !r.fresh) {
      entry = known;
      offset = known.offset;
      entry.finished = false;
      if (entry.order >= 0) r.order = entry.order;
    } else {
      offset = 0;
      if (r.startAtEnd) {
        if (r.gz) offset = WHOLE_FILE;
        else [offset, midLine] = await this.#endOffset(r);
      }
      entry = {
        fingerprint: r.fingerprint,
        path: r.base,
        offset,
        seenAt: r.seenAt,
        finished: false,
        order: r.order,
      };
      this.#entries.set(r.fingerprint, entry);
    }
    entry.owner = r;
    r.entry = entry;
    r.dupe = false;
    r.fresh = false;
    r.startAtEnd = false;
    if (r.gz) {
      // The stream cannot seek: bytes before the offset are dropped as they come.
      r.skipUntil = r.committed = offset;
      if (offset === WHOLE_FILE) {
        r.eof = true;
        r.leftover = undefined;
      }
    } else {
      r.reposition(offset);
      r.line.discard = midLine;
    }
  }

  /** A duplicate takes over once the file owning its fingerprint is gone. */
  async #tryClaim(r: Reader): Promise<void> {
    const owner = this.#entries.get(r.fingerprint)?.owner;
    if (owner && owner !== r && !owner.closed) return;
    await this.#claim(r);
  }

  /**
   * Offset after the last complete line, where "start at the end" begins, and
   * whether that is inside a line (no newline in the last chunk of a big file).
   */
  async #endOffset(r: Reader): Promise<[number, boolean]> {
    const size = (await r.file.stat()).size;
    const from = Math.max(0, size - CHUNK_BYTES);
    await r.file.seek(from, Deno.SeekMode.Start);
    let length = 0;
    while (length < size - from) {
      const n = await r.file.read(this.#scratch.subarray(length, size - from));
      if (n === null || n === 0) break;
      length += n;
    }
    const newline = this.#scratch.subarray(0, length).lastIndexOf(10);
    if (newline >= 0) return [from + newline + 1, false];
    return from === 0 ? [0, false] : [size, true];
  }

  #headMatches(r: Reader): boolean {
    if (!r.established) return true;
    const head = r.head;
    const buffer = new Uint8Array(head.length);
    r.file.seekSync(0, Deno.SeekMode.Start);
    let length = 0;
    while (length < head.length) {
      const n = r.file.readSync(buffer.subarray(length));
      if (n === null || n === 0) break;
      length += n;
    }
    r.validatedAt = Date.now();
    if (length !== head.length) return false;
    for (let i = 0; i < length; i++) if (buffer[i] !== head[i]) return false;
    return true;
  }

  // --- rotation and truncation ------------------------------------------------------------

  async #afterTruncation(r: Reader): Promise<void> {
    this.#stats.truncations++;
    const old = r.entry;
    const since = r.validatedAt - CLOCK_SLACK_MS;
    if (old) old.owner = undefined;
    r.entry = undefined;
    r.established = false;
    r.dupe = false;
    r.fingerprint = "";
    r.head = new Uint8Array(0);
    r.truncated = false;
    r.reposition(0);
    r.size = 0;
    r.fresh = true;
    const found: Reader[] = [];
    if (old) {
      // After copytruncate the rest of the old content is in the copy: one already
      // open as a duplicate, or one next to the watched path.
      for (const other of [...this.#readers]) {
        if (other !== r && other.dupe && other.fingerprint === old.fingerprint) {
          await this.#tryClaim(other);
          if (old.owner === other) break;
        }
      }
      if (!old.owner && !this.#once) found.push(...await this.#searchSiblings(r.base, since));
      if (!old.owner) old.finished = true;
    }
    await this.#adopt(found);
    // The new content comes after everything that was there before.
    r.order = this.#nextOrder++;
  }

  /**
   * Opens files next to `base` that continue what was read there: the copy or
   * rotated name of a file whose position nobody holds (after copytruncate or a
   * restart), and rotated files written since `since` that were never seen
   * because they were renamed again between two scans.
   */
  async #searchSiblings(base: string, since: number): Promise<Reader[]> {
    const dir = dirname(base);
    const name = basename(base);
    const found: Reader[] = [];
    const resumable = () =>
      [...this.#entries.values()].some((e) => e.path === base && !e.owner && !e.finished);
    // A file renamed between listing and opening is looked for again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const names: string[] = [];
      try {
        for await (const entry of Deno.readDir(dir)) {
          if (entry.name !== name && entry.name.startsWith(name) && !entry.isDirectory) {
            names.push(entry.name);
          }
        }
      } catch {
        return found;
      }
      let vanished = false;
      for (const sibling of names.sort()) {
        const path = join(dir, sibling);
        let stat: Deno.FileInfo;
        try {
          stat = await Deno.stat(path);
        } catch {
          vanished = true;
          continue;
        }
        if (!stat.isFile || this.#byKey.has(keyOf(stat))) continue;
        const recent = !sibling.endsWith(".gz") &&
          ROTATED_SUFFIX.test(sibling.slice(name.length)) &&
          (stat.mtime?.getTime() ?? 0) >= since;
        const resume = resumable();
        if (!recent && !resume) continue;
        const r = await this.#openReader(path, base, { matched: false, probe: true });
        if (!r) {
          vanished = true;
          continue;
        }
        const entry = r.established ? this.#entries.get(r.fingerprint) : undefined;
        if (entry && !entry.owner && !entry.finished) {
          await this.#claim(r);
          found.push(r);
        } else if (recent && !entry) {
          if (r.established) await this.#claim(r);
          found.push(r);
        } else {
          this.#close(r, false);
        }
      }
      if (!vanished) break;
    }
    return found;
  }

  async #scan(initial: boolean): Promise<void> {
    const started = Date.now();
    const paths = await expandGlobs(this.#patterns);
    const present = new Map<string, string>();
    const byPath = new Map<string, string>();
    const fresh: Reader[] = [];
    for (const path of paths) {
      let stat: Deno.FileInfo;
      try {
        stat = await Deno.stat(path);
      } catch {
        continue;
      }
      if (!stat.isFile) continue;
      const key = keyOf(stat);
      byPath.set(path, key);
      if (present.has(key)) continue;
      present.set(key, path);
      const known = this.#byKey.get(key);
      if (known) {
        known.matched = true;
        known.path = path;
        if (known.base === path) {
          known.seenAt = started;
          if (known.entry?.owner === known) known.entry.seenAt = started;
        }
        continue;
      }
      if (this.#skip.get(key) === stampOf(stat)) continue;
      const startAtEnd = initial && !this.#restored && !this.#fromStart;
      const r = await this.#openReader(path, path, { matched: true, startAtEnd });
      if (r) {
        present.set(r.key, path);
        fresh.push(r);
      }
    }
    // Rotation: the watched path no longer names a file it named before.
    const searches = new Map<string, number>();
    const search = (base: string, since: number) =>
      searches.set(base, Math.min(searches.get(base) ?? Infinity, since));
    for (const r of this.#readers) {
      if (!r.matched || r.rotationSeen || byPath.get(r.base) === r.key) continue;
      r.rotationSeen = true;
      let nlink = 0;
      try {
        nlink = (await r.file.stat()).nlink ?? 1;
      } catch {
        // Closed under us: treat as deleted.
      }
      if (nlink === 0) this.#stats.deletions++;
      else this.#stats.rotations++;
      search(r.base, r.seenAt - CLOCK_SLACK_MS);
    }
    for (const r of this.#readers) if (!present.has(r.key)) r.matched = false;
    if (initial && this.#restored) {
      for (const e of this.#entries.values()) {
        if (!e.owner && !e.finished) search(e.path, e.seenAt - CLOCK_SLACK_MS);
      }
    }
    for (const [base, since] of searches) fresh.push(...await this.#searchSiblings(base, since));
    if (initial && this.#restored) {
      // Gone while nobody was reading: nothing more can be read of these.
      for (const e of this.#entries.values()) if (!e.owner) e.finished = true;
    }
    await this.#adopt(fresh);
    this.#nextScan = started + this.#rescanMs;
  }

  /**
   * Gives new files their place in the reading order: oldest content first. A
   * file found next to a watched path holds older lines than the one the path
   * names now, whatever the clocks say (a copytruncate during the scan makes the
   * live file's stat look older than the copy's). Otherwise modification time
   * decides, and on a tie (millisecond clock) the longer, suffixed name, then
   * birth time.
   */
  async #adopt(readers: Reader[]): Promise<void> {
    const unordered = readers.filter((r) => r.order < 0 && !r.closed);
    // Stats taken while scanning may predate a rotation that happened since.
    for (const r of unordered) {
      if (r.gz) continue;
      try {
        r.updateStat(await r.file.stat());
      } catch {
        // Keep the earlier stat.
      }
    }
    const live = (r: Reader) => (r.path === r.base ? 1 : 0);
    unordered.sort((a, b) =>
      live(a) - live(b) || a.mtimeMs - b.mtimeMs || b.path.length - a.path.length ||
      a.birthMs - b.birthMs || a.ino - b.ino || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
    );
    for (const r of unordered) {
      r.order = this.#nextOrder++;
      if (r.entry && r.entry.order < 0) r.entry.order = r.order;
    }
  }

  async #openReader(
    path: string,
    base: string,
    options: { matched: boolean; startAtEnd?: boolean; probe?: boolean },
  ): Promise<Reader | undefined> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) this.#stats.readErrors++;
      return undefined;
    }
    const stat = await file.stat();
    const key = keyOf(stat);
    if (this.#byKey.has(key) || !stat.isFile) {
      file.close();
      return undefined;
    }
    const gz = path.endsWith(".gz");
    const r = new Reader(key, path, base, gz, options.matched, file, stat, this.#maxLineBytes);
    if (gz) r.stream = file.readable.pipeThrough(new DecompressionStream("gzip")).getReader();
    this.#readers.add(r);
    this.#byKey.set(key, r);
    r.startAtEnd = options.startAtEnd ?? false;
    await this.#establish(r, this.#once, options.probe);
    // A first line still being written when we started is read when it completes.
    r.startAtEnd = false;
    return r.closed ? undefined : r;
  }

  #close(r: Reader, finished: boolean): void {
    if (r.closed) return;
    r.closed = true;
    if (r.stream) r.stream.cancel().catch(() => {});
    else {
      try {
        r.file.close();
      } catch {
        // Already closed.
      }
    }
    this.#readers.delete(r);
    this.#byKey.delete(r.key);
    if (r.gz) this.#skip.set(r.key, stamp(r));
    if (r.entry?.owner === r) {
      r.entry.owner = undefined;
      if (finished) r.entry.finished = true;
    }
    this.#prune();
  }

  #prune(): void {
    const finished = [...this.#entries.values()].filter((e) => e.finished && !e.owner);
    if (finished.length <= MAX_FINISHED) return;
    finished.sort((a, b) => a.order - b.order);
    for (const e of finished.slice(0, finished.length - MAX_FINISHED)) {
      this.#entries.delete(e.fingerprint);
    }
  }
}

function keyOf(stat: Deno.FileInfo): string {
  return `${stat.dev}:${stat.ino}`;
}

function stampOf(stat: Deno.FileInfo): string {
  return `${stat.size}:${stat.mtime?.getTime()}`;
}

function stamp(r: Reader): string {
  return `${r.size}:${r.mtimeMs}`;
}

/** The first line including its newline, or the first `max` bytes. */
function headOf(bytes: Uint8Array, max: number): Uint8Array {
  const limit = Math.min(bytes.length, max);
  const newline = bytes.subarray(0, limit).indexOf(10);
  return bytes.subarray(0, newline >= 0 ? newline + 1 : limit);
}

async function fingerprint(head: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", head as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Where to cut `bytes` at most `max` long without splitting a UTF-8 character. */
function cutPoint(bytes: Uint8Array, max: number): number {
  let n = max;
  for (let i = 0; i < 3 && n > 0 && (bytes[n] & 0xc0) === 0x80; i++) n--;
  return n;
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// --- globs ------------------------------------------------------------------------------------

const MAGIC = /[*?[{]/;
const MAX_GLOB_DEPTH = 32;

/**
 * A regular expression for one path segment of a glob: `*` (any run of
 * characters), `?` (one character), `[a-z]` and `[!a-z]` (classes), `\\x` (a
 * literal). Like shells, a wildcard does not match a leading dot.
 *
 * @example
 * ```ts
 * import { globToRegExp } from "./tail.ts";
 * globToRegExp("access*.log").test("access-2.log"); // true
 * globToRegExp("*.log").test(".hidden.log"); // false
 * ```
 */
export function globToRegExp(segment: string): RegExp {
  let source = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === "*") {
      source += "[^/]*";
      while (segment[i + 1] === "*") i++;
    } else if (c === "?") {
      source += "[^/]";
    } else if (c === "[") {
      let j = i + 1;
      if (segment[j] === "!" || segment[j] === "^") j++;
      if (segment[j] === "]") j++;
      const end = segment.indexOf("]", j);
      if (end < 0) {
        source += "\\[";
        continue;
      }
      let body = segment.slice(i + 1, end);
      const negate = body[0] === "!" || body[0] === "^";
      if (negate) body = body.slice(1);
      source += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = end;
    } else if (c === "\\" && i + 1 < segment.length) {
      source += escapeRegExp(segment[++i]);
    } else {
      source += escapeRegExp(c);
    }
  }
  return new RegExp(`^${segment.startsWith(".") ? "" : "(?!\\.)"}${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** `a{b,c}d` → `abd`, `acd` (nested braces too). */
function expandBraces(pattern: string): string[] {
  let depth = 0;
  let open = -1;
  const commas: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") i++;
    else if (c === "{" && depth++ === 0) open = i;
    else if (c === "," && depth === 1) commas.push(i);
    else if (c === "}" && depth > 0 && --depth === 0) {
      if (commas.length === 0) {
        commas.length = 0;
        continue;
      }
      const prefix = pattern.slice(0, open);
      const suffix = pattern.slice(i + 1);
      const cuts = [open, ...commas, i];
      const out: string[] = [];
      for (let k = 0; k < cuts.length - 1; k++) {
        out.push(...expandBraces(prefix + pattern.slice(cuts[k] + 1, cuts[k + 1]) + suffix));
      }
      return out;
    }
  }
  return [pattern];
}

/**
 * Options of {@linkcode expandGlobs}.
 *
 * @example
 * ```ts
 * import type { ExpandGlobsOptions } from "./tail.ts";
 * const options: ExpandGlobsOptions = { cwd: "/var/log" };
 * ```
 */
export interface ExpandGlobsOptions {
  /** Directory relative patterns start from; the current one by default. */
  cwd?: string;
}

/**
 * The regular files (symlinks followed) that `patterns` name, as sorted absolute
 * paths without duplicates. Patterns may use `*`, `?`, `[..]`, `{a,b}` and `**`
 * (any number of directories); a pattern without wildcards names itself when it
 * exists. Unreadable directories are skipped.
 *
 * @example
 * ```ts
 * import { expandGlobs } from "./tail.ts";
 * const files = await expandGlobs(["/var/log/nginx/*.log", "/var/log/syslog"]);
 * ```
 */
export async function expandGlobs(
  patterns: readonly string[],
  options: ExpandGlobsOptions = {},
): Promise<string[]> {
  const cwd = options.cwd ?? Deno.cwd();
  const candidates = new Set<string>();
  for (const pattern of patterns) {
    for (const expanded of expandBraces(pattern)) {
      const absolute = resolve(cwd, expanded);
      if (!MAGIC.test(absolute)) {
        candidates.add(absolute);
        continue;
      }
      const root = parse(absolute).root;
      const segments = absolute.slice(root.length).split(sep).filter((s) => s !== "");
      await walk(root, segments, 0, candidates, 0);
    }
  }
  const files: string[] = [];
  for (const path of candidates) {
    try {
      if ((await Deno.stat(path)).isFile) files.push(path);
    } catch {
      // Vanished or unreadable: not a match.
    }
  }
  return files.sort();
}

async function walk(
  dir: string,
  segments: string[],
  index: number,
  out: Set<string>,
  depth: number,
): Promise<void> {
  if (index === segments.length) {
    out.add(dir);
    return;
  }
  const segment = segments[index];
  if (segment === "**") {
    await walk(dir, segments, index + 1, out, depth);
    if (depth >= MAX_GLOB_DEPTH) return;
    for (const entry of await listDir(dir)) {
      // Symlinked directories are not entered: they may loop.
      if (entry.isDirectory && !entry.name.startsWith(".")) {
        await walk(join(dir, entry.name), segments, index, out, depth + 1);
      }
    }
    return;
  }
  if (!MAGIC.test(segment)) {
    await walk(join(dir, segment.replace(/\\(.)/g, "$1")), segments, index + 1, out, depth);
    return;
  }
  const pattern = globToRegExp(segment);
  for (const entry of await listDir(dir)) {
    if (pattern.test(entry.name)) {
      await walk(join(dir, entry.name), segments, index + 1, out, depth);
    }
  }
}

async function listDir(dir: string): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
  } catch {
    // Missing or unreadable directories match nothing.
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A line without the BOM a decoder would drop at its start, nor a CRLF's CR. */
function cleanLine(text: string): string {
  const from = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const to = text.endsWith("\r") ? text.length - 1 : text.length;
  return from === 0 && to === text.length ? text : text.slice(from, to);
}
