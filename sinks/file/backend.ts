/**
 * The archive backend: events appended to rolling segment files, one directory
 * per event type.
 *
 * @module
 */
import { type Event, isValidType } from "@eventstorm/core";
import { UsageError } from "@eventstorm/core/cli";
import { BatchEncoder, toJsonLine } from "@eventstorm/core/protocol";
import type { SinkBackend, StreamPosition, WriteResult } from "@eventstorm/core/sink";
import {
  formatStamp,
  parseSegmentName,
  segmentBase,
  segmentExtension,
  type SegmentFormat,
} from "./naming.ts";
import { PositionLog } from "./positions.ts";
import { recoverDirectory, type Recovery } from "./recover.ts";
import { type OpenSegmentFile, Segment, type SegmentMark, syncDirectory } from "./segment.ts";

/** Default `maxBytes`: 64 MiB. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** Default `maxAgeMs`: one hour. */
export const DEFAULT_MAX_AGE_MS = 3_600_000;

/** A segment that was closed. */
export interface ClosedSegment {
  /** Event type. */
  type: string;
  /** Final path. */
  path: string;
  /** Documents in it. */
  documents: number;
  /** Uncompressed bytes of documents. */
  contentBytes: number;
  /** Bytes on disk. */
  fileBytes: number;
}

/** Options of {@linkcode FileBackend.open}. */
export interface FileBackendOptions {
  /** Archive directory; created when missing. One subdirectory per event type. */
  dir: string;
  /** `bson` (documents back to back, as mongodump writes) or `jsonl` (Extended JSON lines). */
  format?: SegmentFormat;
  /** Compress segments with gzip (`.gz`). */
  gzip?: boolean;
  /**
   * Largest segment content in bytes, before compression; the next event that
   * would not fit opens a new segment. An event larger than this gets a segment
   * of its own.
   */
  maxBytes?: number;
  /**
   * Longest time a segment stays open, in ms. Segments close at multiples of
   * this since the Unix epoch, so with one hour they end on the hour (UTC).
   */
  maxAgeMs?: number;
  /** The clock, ms since the epoch (tests step it by hand). */
  now?: () => number;
  /**
   * How often to close segments that are due, in ms, even when no event comes;
   * 0 disables the timer (call {@linkcode FileBackend.maintain} instead).
   * Default: a quarter of `maxAgeMs`, between 10 ms and 1 s.
   */
  tickMs?: number;
  /** Told about failures that do not fail a write (a segment that could not be closed yet). */
  onError?: (error: Error) => void;
  /** Told about every segment closed. */
  onClose?: (segment: ClosedSegment) => void;
  /** How segment files are created (tests inject I/O failures here). */
  openFile?: OpenSegmentFile;
}

/** Counters of a {@linkcode FileBackend}. */
export interface FileBackendStats {
  /** Segments open now. */
  openSegments: number;
  /** Segments closed (renamed to their final name). */
  closedSegments: number;
  /** Segments closed because the next event would not fit. */
  rolledBySize: number;
  /** Segments closed because they reached their age. */
  rolledByAge: number;
  /** Segments whose closing failed and waits for a retry. */
  pendingClose: number;
  /** Documents written. */
  documents: number;
  /** Uncompressed bytes written. */
  contentBytes: number;
  /** Writes undone after an I/O error (the runner retries them). */
  failedWrites: number;
}

interface Planned {
  segment: Segment;
  data: Uint8Array;
  documents: number;
}

/**
 * Appends events to segment files: `DIR/<type>/<opened>-<seq>.<bson|jsonl>[.gz]`
 * (see `naming.ts`). Each type of a batch is all or nothing: when one of its
 * writes fails (ENOSPC, EIO, a directory that cannot be written) its files are
 * cut back to where they were and its events are reported as not stored, so the
 * runner's retry stores each event once, while the other types are stored. Segments roll by size and by age, and
 * are finished (gzip trailer, fsync, rename from `.part`) on roll and on close.
 * Opening takes a lock on `DIR/.lock` and recovers `.part` files left by a crash.
 *
 * @example
 * ```ts
 * import { FileBackend, listSegments, readSegment } from "@eventstorm/sink-file";
 * const dir = await Deno.makeTempDir();
 * const backend = await FileBackend.open({ dir, format: "jsonl", gzip: true });
 * await backend.write([{ type: "http.hit", time: new Date(), host: "web1", status: 200 }]);
 * await backend.close();
 * const [segment] = await listSegments(dir);
 * (await readSegment(segment.path)).length; // 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileBackend implements SinkBackend {
  /** Name for stats. */
  readonly name = "file";
  /** The directory. */
  readonly dir: string;
  /** What recovery found at open. */
  readonly recovered: Recovery[];
  readonly #format: SegmentFormat;
  readonly #gzip: boolean;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #onError: (error: Error) => void;
  readonly #onClose: (segment: ClosedSegment) => void;
  readonly #openFile: OpenSegmentFile | undefined;
  readonly #lock: Deno.FsFile;
  readonly #positions: PositionLog;
  #open = new Map<string, Segment>();
  #closing: { type: string; segment: Segment }[] = [];
  /** Last base name used per type, so new names sort after every existing one. */
  readonly #lastName = new Map<string, { stamp: string; sequence: number }>();
  #queue: Promise<unknown> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  readonly #stats = {
    closedSegments: 0,
    rolledBySize: 0,
    rolledByAge: 0,
    documents: 0,
    contentBytes: 0,
    failedWrites: 0,
  };

  private constructor(
    options: FileBackendOptions,
    lock: Deno.FsFile,
    recovered: Recovery[],
    positions: PositionLog,
  ) {
    this.dir = options.dir;
    this.#positions = positions;
    this.recovered = recovered;
    this.#format = options.format ?? "bson";
    this.#gzip = options.gzip ?? false;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
    this.#onClose = options.onClose ?? (() => {});
    this.#openFile = options.openFile;
    this.#lock = lock;
    const tickMs = options.tickMs ?? Math.min(1000, Math.max(10, this.#maxAgeMs / 4));
    if (tickMs > 0) {
      const timer = setInterval(() => {
        this.maintain().catch((error) => this.#onError(asError(error)));
      }, tickMs);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /**
   * Opens the archive in `options.dir`: creates it, locks it against a second
   * sink, and recovers `.part` files a crash left. Throws {@linkcode UsageError}
   * when the directory cannot be created or written, or is locked.
   */
  static async open(options: FileBackendOptions): Promise<FileBackend> {
    const dir = options.dir;
    if (!(options.maxBytes === undefined || options.maxBytes >= 1)) {
      throw new RangeError("maxBytes must be at least 1");
    }
    if (!(options.maxAgeMs === undefined || options.maxAgeMs >= 1)) {
      throw new RangeError("maxAgeMs must be at least 1");
    }
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (error) {
      throw new UsageError(`--dir ${dir}: cannot create it: ${describe(error)}`);
    }
    let lock: Deno.FsFile;
    try {
      lock = await Deno.open(`${dir}/.lock`, { read: true, write: true, create: true });
    } catch (error) {
      throw new UsageError(`--dir ${dir} is not writable: ${describe(error)}`);
    }
    try {
      if (!(await lock.tryLock(true))) {
        throw new UsageError(`--dir ${dir} is in use by another file sink (${dir}/.lock)`);
      }
      // Writing is what matters: root passes permission checks that a read-only mount still fails.
      const probe = `${dir}/.probe-${Deno.pid}`;
      try {
        await Deno.writeFile(probe, new Uint8Array(1));
        await Deno.remove(probe);
      } catch (error) {
        throw new UsageError(`--dir ${dir} is not writable: ${describe(error)}`);
      }
      // Documents a crash left past the saved positions are all in the `.part`
      // segments (positions are saved before a batch finishes any segment).
      const positions = await PositionLog.open(dir);
      const now = Date.now();
      const recovered = await recoverDirectory(dir, (id) => positions.noteStored(id, now));
      await positions.compact();
      return new FileBackend(options, lock, recovered, positions);
    } catch (error) {
      lock.close();
      throw error;
    }
  }

  /**
   * Appends `events` to the segments of their types, then saves `positions`;
   * resolves with how many were refused, or, when some types could not be
   * written (their directory, their files), a `WriteResult` whose `failed` holds
   * those types' events: nothing of them was kept, and their positions are not saved.
   */
  write(events: Event[], positions: StreamPosition[] = []): Promise<number | WriteResult> {
    return this.#exclusive(() => this.#write(events, positions));
  }

  /** Saves positions with no documents (see `SinkBackend.savePositions`). */
  savePositions(positions: StreamPosition[]): Promise<void> {
    return this.#exclusive(() => this.#positions.save(positions));
  }

  /** The stream positions saved with the documents (and found in recovered segments). */
  positions(): Promise<StreamPosition[]> {
    return Promise.resolve(this.#positions.positions());
  }

  async #write(
    events: Event[],
    positions: StreamPosition[],
  ): Promise<number | WriteResult> {
    if (this.#closed) throw new Error("the file sink is closed");
    const now = this.#now();
    const groups = new Map<string, Event[]>();
    let refused = 0;
    for (const event of events) {
      if (!isValidType(event.type)) {
        refused++;
        continue;
      }
      const group = groups.get(event.type);
      if (group) group.push(event);
      else groups.set(event.type, [event]);
    }
    // Each type on its own: one whose directory cannot be written keeps its events
    // (the runner retries them apart) and the others are stored.
    const retired: { type: string; segment: Segment; bySize: boolean }[] = [];
    const failed: Event[] = [];
    const failedTypes = new Set<string>();
    let firstError: unknown;
    for (const [type, group] of groups) {
      try {
        refused += await this.#writeType(type, group, now, retired);
      } catch (error) {
        this.#stats.failedWrites++;
        firstError ??= error;
        failedTypes.add(type);
        failed.push(...group);
      }
    }
    try {
      // Before any segment is finished, so what the positions miss stays in `.part` files.
      // A stream is one type: a failed type's position stays where it was.
      await this.#positions.save(
        failedTypes.size === 0
          ? positions
          : positions.filter((position) => !failedTypes.has(position.topic)),
      );
    } catch (error) {
      // The batch is stored: throwing would append it again. A later save rewrites the file.
      this.#onError(asError(error));
    }
    // The batch is stored: finishing the segments it rolled past cannot take it back.
    for (const { type, segment, bySize } of retired) {
      if (bySize) this.#stats.rolledBySize++;
      else this.#stats.rolledByAge++;
      if (this.#open.get(type) === segment) this.#open.delete(type);
      await this.#finish(type, segment);
    }
    if (failed.length === 0) return refused;
    const error = firstError instanceof Error ? firstError : new Error(String(firstError));
    return {
      rejected: refused,
      failed: {
        events: failed,
        error: failedTypes.size === 1 ? error : new Error(
          `${error.message} (and ${failedTypes.size - 1} other type(s) failing)`,
        ),
      },
    };
  }

  /**
   * Appends one type's events: all or nothing (on a failure its files are cut
   * back to where they were and the error is thrown). Segments it rolls past go to
   * `retired`; returns how many events could not be encoded.
   */
  async #writeType(
    type: string,
    group: Event[],
    now: number,
    retired: { type: string; segment: Segment; bySize: boolean }[],
  ): Promise<number> {
    const previous = this.#open.get(type);
    const opened: Segment[] = [];
    const retiring: { type: string; segment: Segment; bySize: boolean }[] = [];
    const planned: Planned[] = [];
    const marks = new Map<Segment, SegmentMark>();
    let documents = 0;
    let contentBytes = 0;
    const { body, sizes, rejected } = this.#encode(group);
    try {
      let segment = this.#open.get(type);
      if (segment && now >= segment.closesAt) {
        retiring.push({ type, segment, bySize: false });
        segment = undefined;
      }
      let filled = segment?.contentBytes ?? 0;
      let start = 0;
      let offset = 0;
      let count = 0;
      for (const size of sizes) {
        if (segment && filled > 0 && filled + size > this.#maxBytes) {
          if (count > 0) {
            planned.push({ segment, data: body.subarray(start, offset), documents: count });
          }
          retiring.push({ type, segment, bySize: true });
          segment = undefined;
        }
        if (!segment) {
          segment = await this.#create(type, now);
          opened.push(segment);
          this.#open.set(type, segment);
          filled = 0;
          start = offset;
          count = 0;
        }
        filled += size;
        offset += size;
        count++;
      }
      if (segment && count > 0) {
        planned.push({ segment, data: body.subarray(start, offset), documents: count });
      }
      for (const { segment, data, documents: count } of planned) {
        if (!marks.has(segment)) marks.set(segment, segment.mark());
        await segment.append(data, count);
        documents += count;
        contentBytes += data.length;
      }
    } catch (error) {
      await this.#undo(type, previous, marks, opened);
      throw error;
    }
    this.#stats.documents += documents;
    this.#stats.contentBytes += contentBytes;
    retired.push(...retiring);
    return rejected;
  }

  #encode(group: Event[]): { body: Uint8Array; sizes: number[]; rejected: number } {
    const sizes: number[] = [];
    let rejected = 0;
    if (this.#format === "bson") {
      const encoder = new BatchEncoder(Math.max(1024, group.length * 256));
      for (const event of group) {
        try {
          sizes.push(encoder.add(event));
        } catch {
          rejected++;
        }
      }
      return { body: encoder.take(), sizes, rejected };
    }
    const lines: string[] = [];
    for (const event of group) {
      try {
        lines.push(toJsonLine(event) + "\n");
      } catch {
        rejected++;
      }
    }
    const encoder = new TextEncoder();
    const parts = lines.map((line) => encoder.encode(line));
    const body = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      body.set(part, offset);
      offset += part.length;
      sizes.push(part.length);
    }
    return { body, sizes, rejected };
  }

  async #undo(
    type: string,
    previous: Segment | undefined,
    marks: Map<Segment, SegmentMark>,
    opened: Segment[],
  ): Promise<void> {
    if (previous === undefined) this.#open.delete(type);
    else this.#open.set(type, previous);
    for (const segment of opened) {
      try {
        await segment.discard();
      } catch (error) {
        this.#onError(new Error(`could not remove ${segment.partPath}: ${describe(error)}`));
      }
    }
    for (const [segment, mark] of marks) {
      if (opened.includes(segment)) continue;
      try {
        await segment.rollback(mark);
      } catch (error) {
        // Left as .part, it is finalized at the next start with this batch in it, which
        // the retry then writes again: a duplicated batch rather than a lost one.
        segment.abandon();
        for (const [type, open] of this.#open) if (open === segment) this.#open.delete(type);
        this.#onError(
          new Error(`could not undo a failed write in ${segment.partPath}: ${describe(error)}`),
        );
      }
    }
  }

  async #create(type: string, now: number): Promise<Segment> {
    const typeDir = `${this.dir}/${type}`;
    let last = this.#lastName.get(type);
    if (last === undefined) {
      last = await this.#prepareTypeDir(typeDir);
      this.#lastName.set(type, last);
    }
    let stamp = formatStamp(now);
    // A clock stepped back must not give a name sorting before older segments.
    if (stamp < last.stamp) stamp = last.stamp;
    let sequence = stamp === last.stamp ? last.sequence + 1 : 1;
    const closesAt = (Math.floor(now / this.#maxAgeMs) + 1) * this.#maxAgeMs;
    for (let attempt = 0;; attempt++) {
      const path = `${typeDir}/${segmentBase(stamp, sequence)}${
        segmentExtension(this.#format, this.#gzip)
      }`;
      try {
        const segment = await Segment.create({
          path,
          format: this.#format,
          gzip: this.#gzip,
          openedAt: now,
          closesAt,
          openFile: this.#openFile,
        });
        this.#lastName.set(type, { stamp, sequence });
        return segment;
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists) || attempt > 1000) throw error;
        sequence++;
      }
    }
  }

  /** Creates a type's directory when missing; returns the greatest name already in it. */
  async #prepareTypeDir(typeDir: string): Promise<{ stamp: string; sequence: number }> {
    try {
      await Deno.mkdir(typeDir);
      await syncDirectory(this.dir);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    let last = { stamp: "", sequence: 0 };
    for await (const entry of Deno.readDir(typeDir)) {
      const name = parseSegmentName(entry.name);
      if (!name) continue;
      const stamp = formatStamp(name.openedAt.getTime());
      if (stamp > last.stamp || (stamp === last.stamp && name.sequence > last.sequence)) {
        last = { stamp, sequence: name.sequence };
      }
    }
    return last;
  }

  async #finish(type: string, segment: Segment): Promise<boolean> {
    try {
      await segment.finish();
    } catch (error) {
      if (segment.broken) {
        // Its end is unknown: leave the .part to recovery at the next start.
        segment.abandon();
        this.#closing = this.#closing.filter((entry) => entry.segment !== segment);
        this.#onError(new Error(`gave up on ${segment.partPath}: ${describe(error)}`));
        return false;
      }
      if (!this.#closing.some((entry) => entry.segment === segment)) {
        this.#closing.push({ type, segment });
      }
      this.#onError(new Error(`could not close ${segment.partPath}: ${describe(error)}`));
      return false;
    }
    this.#closing = this.#closing.filter((entry) => entry.segment !== segment);
    this.#stats.closedSegments++;
    this.#onClose({
      type,
      path: segment.path,
      documents: segment.documents,
      contentBytes: segment.contentBytes,
      fileBytes: segment.fileBytes,
    });
    return true;
  }

  /**
   * Closes the segments whose age is up and retries closes that failed. The
   * backend's timer calls this; with `tickMs: 0` the caller does.
   */
  maintain(): Promise<void> {
    return this.#exclusive(async () => {
      if (this.#closed) return;
      const now = this.#now();
      for (const [type, segment] of [...this.#open]) {
        if (now < segment.closesAt) continue;
        this.#open.delete(type);
        this.#stats.rolledByAge++;
        await this.#finish(type, segment);
      }
      for (const { type, segment } of [...this.#closing]) await this.#finish(type, segment);
    });
  }

  /**
   * Finishes every open segment and releases the directory. Throws when some
   * could not be finished; they stay as `.part` and are recovered at the next open.
   */
  close(): Promise<void> {
    return this.#exclusive(async () => {
      if (this.#closed) return;
      this.#closed = true;
      if (this.#timer !== undefined) clearInterval(this.#timer);
      for (const [type, segment] of this.#open) this.#closing.push({ type, segment });
      this.#open.clear();
      const failures: string[] = [];
      for (const { type, segment } of [...this.#closing]) {
        if (!(await this.#finish(type, segment))) {
          segment.abandon();
          failures.push(segment.partPath);
        }
      }
      this.#closing = [];
      try {
        // One line per stream for the next start (and whatever a failed save missed).
        await this.#positions.compact();
      } catch (error) {
        this.#onError(asError(error));
      }
      this.#positions.close();
      this.#lock.close();
      if (failures.length > 0) {
        throw new Error(
          `${failures.length} segment(s) could not be closed and stay as .part until the next start: ${
            failures.join(", ")
          }`,
        );
      }
    });
  }

  /** The counters. */
  stats(): FileBackendStats {
    return {
      ...this.#stats,
      openSegments: this.#open.size,
      pendingClose: this.#closing.length,
    };
  }

  /** Paths of the segments open now (their `.part` files). */
  openPaths(): string[] {
    return [...this.#open.values()].map((segment) => segment.partPath);
  }

  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => {});
    return run;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
