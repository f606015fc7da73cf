/**
 * What the parts of a {@linkcode FileFollower} share: its settings, the open
 * files, the positions per fingerprint and the counters; and how a file is closed
 * and ordered among the others.
 *
 * @module
 */
// deno-lint-ignore no-unused-vars -- named by {@linkcode FileFollower} in the docs
import type { FileFollower } from "./follower.ts";
import { LineBytes } from "./line_bytes.ts";
import { type Entry, type Reader, stamp } from "./reader.ts";
import type { FollowerOptions, FollowerStats } from "./types.ts";

// Each chunk costs a read, a check of the file's head and two seeks: at 64 KiB
// they were a third of the time a busy source spent reading.
export const CHUNK_BYTES = 256 * 1024;
// How long reading may go on before timers and signals get their turn.
export const PAUSE_EVERY_MS = 20;
// Kernel file timestamps come from a coarse clock that may lag Date.now() a little.
export const CLOCK_SLACK_MS = 50;
// Finished files are remembered so that a copy or a compressed copy is not read again.
export const MAX_FINISHED = 1000;
// An offset meaning "all of it": a `.gz` found at start when starting at the end.
export const WHOLE_FILE = Number.MAX_SAFE_INTEGER;
// Names a rotated file gets after the watched name: `.1`, `-20260101`, `.1.gz`.
export const ROTATED_SUFFIX = /^[._-]\d[\d._-]*(\.gz)?$/i;

/** The state of one {@linkcode FileFollower}, shared by the files that work on it. */
export class FollowerState {
  readonly patterns: string[];
  readonly fromStart: boolean;
  readonly once: boolean;
  readonly pollMs: number;
  readonly rescanMs: number;
  readonly rotateWaitMs: number;
  readonly maxLineBytes: number;
  readonly fingerprintBytes: number;
  readonly maxBatchLines: number;
  readonly readers = new Set<Reader>();
  readonly byKey = new Map<string, Reader>();
  readonly entries = new Map<string, Entry>();
  // Files not worth opening again while unchanged: finished or broken `.gz`.
  readonly skip = new Map<string, string>();
  readonly #scratch = new Uint8Array(CHUNK_BYTES);
  // Who holds a leftover that still views #scratch: a batch often ends inside a chunk,
  // and copying the rest of the chunk at every such end cost more than the reading.
  #scratchHolder?: Reader;
  lastPause = 0;
  // BOMs are kept by decoding and dropped by cleanLine, so that where a decode
  // call happens to start cannot change a line.
  readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  /** The lines of the batch being read, in buffers kept from batch to batch. */
  readonly lines: LineBytes;
  nextOrder = 0;
  nextScan = 0;
  opened = false;
  restored = false;
  readonly stats: FollowerStats = {
    filesWatched: 0,
    linesRead: 0,
    bytesRead: 0,
    rotations: 0,
    truncations: 0,
    deletions: 0,
    linesTooLong: 0,
    readErrors: 0,
  };

  constructor(options: FollowerOptions) {
    this.patterns = [...options.paths];
    this.once = options.once ?? false;
    this.fromStart = this.once || (options.fromStart ?? false);
    this.pollMs = options.pollIntervalMs ?? 250;
    this.rescanMs = options.rescanIntervalMs ?? 1000;
    this.rotateWaitMs = options.rotateWaitMs ?? 5000;
    this.maxLineBytes = Math.max(16, options.maxLineBytes ?? 64 * 1024);
    this.fingerprintBytes = Math.max(1, options.fingerprintBytes ?? 256);
    this.maxBatchLines = Math.max(1, options.maxBatchLines ?? 100);
    this.lines = new LineBytes(this.maxBatchLines, this.decoder);
  }

  /** The scratch buffer, to read into: a leftover still viewing it is copied out first. */
  takeScratch(): Uint8Array {
    const holder = this.#scratchHolder;
    if (holder?.leftover?.buffer === this.#scratch.buffer) {
      holder.leftover = holder.leftover.slice();
    }
    this.#scratchHolder = undefined;
    return this.#scratch;
  }

  /** Keeps the unread rest of `chunk` for `r`, without a copy while nobody else reads. */
  keepLeftover(r: Reader, chunk: Uint8Array, pos: number, start: number): void {
    r.leftover = chunk.subarray(pos);
    r.leftoverStart = start + pos;
    if (chunk.buffer === this.#scratch.buffer) this.#scratchHolder = r;
  }
}

/**
 * Gives new files their place in the reading order: oldest content first. A
 * file found next to a watched path holds older lines than the one the path
 * names now, whatever the clocks say (a copytruncate during the scan makes the
 * live file's stat look older than the copy's). Otherwise modification time
 * decides, and on a tie (millisecond clock) the longer, suffixed name, then
 * birth time.
 */
export async function adopt(st: FollowerState, readers: Reader[]): Promise<void> {
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
    r.order = st.nextOrder++;
    if (r.entry && r.entry.order < 0) r.entry.order = r.order;
  }
}

/** Closes a reader; `finished` marks its position as read to the end for good. */
export function close(st: FollowerState, r: Reader, finished: boolean): void {
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
  st.readers.delete(r);
  st.byKey.delete(r.key);
  if (r.gz) st.skip.set(r.key, stamp(r));
  if (r.entry?.owner === r) {
    r.entry.owner = undefined;
    if (finished) r.entry.finished = true;
  }
  prune(st);
}

function prune(st: FollowerState): void {
  const finished = [...st.entries.values()].filter((e) => e.finished && !e.owner);
  if (finished.length <= MAX_FINISHED) return;
  finished.sort((a, b) => a.order - b.order);
  for (const e of finished.slice(0, finished.length - MAX_FINISHED)) {
    st.entries.delete(e.fingerprint);
  }
}
