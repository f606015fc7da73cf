/**
 * The {@linkcode FileFollower}: the loop that polls every open file in reading order
 * and hands out batches of lines.
 *
 * @module
 */
import { sleep } from "../sleep.ts";
import { afterTruncation } from "./rotation.ts";
import { flushPartial, read } from "./read.ts";
import { establish, tryClaim } from "./identity.ts";
import type { Reader } from "./reader.ts";
import { scan } from "./scan.ts";
import { close, FollowerState } from "./state.ts";
import type {
  ByteLineBatch,
  FilePosition,
  FollowerOptions,
  FollowerStats,
  LineBatch,
} from "./types.ts";

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
  readonly #st: FollowerState;

  /** Creates a follower; nothing is opened before {@linkcode open} or {@linkcode batches}. */
  constructor(options: FollowerOptions) {
    this.#st = new FollowerState(options);
  }

  /**
   * Gives back positions saved from {@linkcode positions}; call before
   * {@linkcode open}. Files found then that the positions do not know are new
   * since the checkpoint and are read from their start.
   */
  restore(positions: readonly FilePosition[]): void {
    if (this.#st.opened) throw new Error("restore() must come before open()");
    this.#st.restored = true;
    for (const p of positions) {
      if (
        typeof p?.fingerprint !== "string" || typeof p.path !== "string" ||
        !Number.isSafeInteger(p.offset) || p.offset < 0 || this.#st.entries.has(p.fingerprint)
      ) continue;
      this.#st.entries.set(p.fingerprint, {
        fingerprint: p.fingerprint,
        path: p.path,
        offset: p.offset,
        seenAt: typeof p.seenAt === "number" ? p.seenAt : 0,
        finished: p.finished === true,
        order: this.#st.nextOrder++,
        ...(typeof p.check === "string" ? { check: p.check } : {}),
      });
    }
  }

  /**
   * Where reading stands in every known file, in reading order. While
   * {@linkcode batches} is paused at a batch, the positions are just after it.
   */
  positions(): FilePosition[] {
    return [...this.#st.entries.values()]
      .sort((a, b) => a.order - b.order)
      .map((e) => ({
        fingerprint: e.fingerprint,
        path: e.path,
        offset: e.offset,
        seenAt: e.seenAt,
        ...(e.finished ? { finished: true } : {}),
        ...(e.check !== undefined ? { check: e.check } : {}),
      }));
  }

  /** Current counters. */
  stats(): FollowerStats {
    return { ...this.#st.stats, filesWatched: this.#st.readers.size };
  }

  /** Finds and opens the files, placing each at its start position. Idempotent. */
  async open(): Promise<void> {
    if (this.#st.opened) return;
    this.#st.opened = true;
    await scan(this.#st, true);
  }

  /**
   * Yields batches of new lines until `signal` aborts (or, with `once`, until
   * every file is read to its end). After a poll that found nothing it yields an
   * idle batch with no lines, so a consumer can do timed work; the positions are
   * consistent whenever the generator is paused at a yield.
   */
  async *batches(signal?: AbortSignal): AsyncGenerator<LineBatch> {
    for await (const batch of this.byteBatches(signal)) {
      const { path, file, fingerprint, offset } = batch;
      yield { path, file, fingerprint, lines: batch.texts(), offset };
    }
  }

  /**
   * As {@linkcode batches}, with the lines as bytes, in buffers that the next
   * batch reuses: for a parser that reads bytes, which then makes no string of
   * a line it does not need as one.
   */
  async *byteBatches(signal?: AbortSignal): AsyncGenerator<ByteLineBatch> {
    await this.open();
    while (!signal?.aborted) {
      if (!this.#st.once && Date.now() >= this.#st.nextScan) await scan(this.#st, false);
      let progressed = false;
      for (const reader of [...this.#st.readers].sort((a, b) => a.order - b.order)) {
        for await (const batch of drain(this.#st, reader)) {
          progressed = true;
          yield batch;
          if (signal?.aborted) return;
        }
      }
      if (this.#st.once && this.#st.readers.size === 0) return;
      if (!progressed) {
        this.#st.lines.clear();
        yield this.#st.lines.batch("", "", "", 0);
        await sleep(this.#st.pollMs, signal);
      }
    }
  }

  /** Closes every file. */
  close(): void {
    for (const reader of [...this.#st.readers]) close(this.#st, reader, false);
  }
}

async function* drain(st: FollowerState, r: Reader): AsyncGenerator<ByteLineBatch> {
  if (r.closed) return;
  await refresh(st, r);
  if (r.closed) return;
  const closing = closingDue(st, r);
  if (!r.truncated && !r.established) await establish(st, r, st.once || closing);
  if (r.closed) return;
  if (r.dupe) await tryClaim(st, r);
  if (!r.truncated && r.established && !r.dupe) {
    for (let batch; (batch = await read(st, r));) yield batch;
  }
  if (r.truncated) return await afterTruncation(st, r);
  if (r.gz ? !(r.eof && !r.dupe) : !(st.once || closingDue(st, r))) return;
  const last = r.dupe ? undefined : flushPartial(st, r);
  // Still-watched files are not "finished": a later run picks them up again.
  close(st, r, !r.matched);
  if (last) yield last;
}

function closingDue(st: FollowerState, r: Reader): boolean {
  return !r.matched && Date.now() - r.lastGrowth >= st.rotateWaitMs;
}

async function refresh(st: FollowerState, r: Reader): Promise<void> {
  if (r.gz) return;
  let stat: Deno.FileInfo;
  try {
    stat = await r.file.stat();
  } catch {
    st.stats.readErrors++;
    return close(st, r, false);
  }
  if (stat.size > r.size) r.lastGrowth = Date.now();
  r.updateStat(stat);
  if (stat.size < r.readOffset) r.truncated = true;
}
