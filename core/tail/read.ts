/**
 * Reading a file's new bytes into complete lines: chunks, runs of lines decoded at
 * once, lines cut at the limit, and the last line of a file that will not grow.
 *
 * @module
 */
import { headMatches } from "./identity.ts";
import { cleanLine } from "./line_buffer.ts";
import { evidence, EVIDENCE_BYTES, type Reader } from "./reader.ts";
import { type FollowerState, PAUSE_EVERY_MS } from "./state.ts";
import type { LineBatch } from "./types.ts";

/** Reads up to one batch of complete lines; `undefined` at the end of the data. */
export async function read(st: FollowerState, r: Reader): Promise<LineBatch | undefined> {
  const lines: string[] = [];
  if (!r.gz) r.file.seekSync(r.readOffset, Deno.SeekMode.Start);
  let check: string | undefined;
  while (lines.length < st.maxBatchLines) {
    let chunk: Uint8Array;
    let start: number;
    if (r.leftover) {
      chunk = r.leftover;
      start = r.leftoverStart;
      r.leftover = undefined;
    } else {
      const got = await nextChunk(st, r);
      if (!got) break;
      [chunk, start] = got;
    }
    let pos = Math.max(0, r.skipUntil - start);
    let at = -1;
    while (pos < chunk.length && lines.length < st.maxBatchLines) {
      if (r.line.empty) {
        const end = decodeRun(st, chunk, pos, st.maxBatchLines - lines.length, lines);
        if (end > pos) {
          pos = end;
          r.committed = start + pos;
          at = pos;
          continue;
        }
      }
      const newline = chunk.indexOf(10, pos);
      if (newline < 0) {
        r.line.add(chunk.subarray(pos));
        pos = chunk.length;
        break;
      }
      const line = completeLine(st, r, chunk.subarray(pos, newline));
      pos = newline + 1;
      r.committed = start + pos;
      at = pos;
      if (line !== undefined) lines.push(line);
    }
    // The scratch buffer is read into again: the position's evidence is taken now.
    if (at >= 0) check = checkAt(chunk, at);
    if (pos < chunk.length) st.keepLeftover(r, chunk, pos, start);
  }
  if (r.entry && r.entry.offset !== r.committed) {
    r.entry.offset = r.committed;
    r.entry.check = check;
  }
  if (lines.length === 0) return undefined;
  st.stats.linesRead += lines.length;
  return { path: r.base, file: r.path, fingerprint: r.fingerprint, lines, offset: r.committed };
}

/** The next chunk of bytes and the offset it starts at; `undefined` at the end of the data or when the file was truncated under us. */
export async function nextChunk(
  st: FollowerState,
  r: Reader,
): Promise<[Uint8Array, number] | undefined> {
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
      st.stats.bytesRead += value.length;
      return [value, start];
    } catch {
      st.stats.readErrors++;
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
  const scratch = st.takeScratch();
  if (performance.now() - st.lastPause < PAUSE_EVERY_MS) {
    n = r.file.readSync(scratch);
  } else {
    n = await r.file.read(scratch);
    st.lastPause = performance.now();
  }
  if (n === null || n === 0) return undefined;
  // The bytes are ours only if the file still starts as it did: after copytruncate
  // they may already belong to the new content.
  if (!headMatches(r)) {
    r.truncated = true;
    return undefined;
  }
  const start = r.readOffset;
  r.readOffset += n;
  st.stats.bytesRead += n;
  if (r.readOffset > r.size) {
    r.size = r.readOffset;
    r.lastGrowth = Date.now();
  }
  r.file.seekSync(r.readOffset, Deno.SeekMode.Start);
  return [scratch.subarray(0, n), start];
}

// A decoded run stays under V8's large-object size (128 KiB), so its string is
// allocated young and dies young, not in the old generation.
const RUN_BYTES = 64 * 1024;

/**
 * Appends the run of complete lines from `pos` that need no cutting (at most
 * `room`), decoded with one call rather than one per line, which is most of
 * the cost of reading; returns where the run ends (`pos` when there is none).
 * A run ends after RUN_BYTES unless it is one line.
 */
export function decodeRun(
  st: FollowerState,
  chunk: Uint8Array,
  pos: number,
  room: number,
  lines: string[],
): number {
  let end = pos;
  let count = 0;
  while (count < room) {
    const newline = chunk.indexOf(10, end);
    if (newline < 0 || newline - end > st.maxLineBytes) break;
    if (count > 0 && newline - pos > RUN_BYTES) break;
    end = newline + 1;
    count++;
  }
  if (count === 0) return pos;
  // A newline byte always decodes to "\n", also right after invalid UTF-8, so
  // the split gives exactly the lines the bytes hold.
  for (const text of st.decoder.decode(chunk.subarray(pos, end - 1)).split("\n")) {
    lines.push(cleanLine(text));
  }
  return end;
}

/** Finishes the line ending at a newline; `undefined` when it is to be dropped. */
export function completeLine(st: FollowerState, r: Reader, tail: Uint8Array): string | undefined {
  let bytes: Uint8Array;
  let cut = false;
  if (r.line.empty && tail.length <= st.maxLineBytes) {
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
  if (cut) st.stats.linesTooLong++;
  return cleanLine(st.decoder.decode(bytes));
}

/** The last line of a file that will not grow, though it has no newline. */
export function flushPartial(st: FollowerState, r: Reader): LineBatch | undefined {
  if (r.line.empty || r.line.discard) return undefined;
  const cut = r.line.cut;
  const bytes = r.line.take();
  if (cut) st.stats.linesTooLong++;
  r.committed = r.readOffset;
  if (r.entry) {
    r.entry.offset = r.committed;
    // A cut line's bytes are not all the file's last bytes.
    r.entry.check = cut ? undefined : checkAt(bytes, bytes.length);
  }
  st.stats.linesRead++;
  const text = st.decoder.decode(bytes);
  return {
    path: r.base,
    file: r.path,
    fingerprint: r.fingerprint,
    lines: [cleanLine(text)],
    offset: r.committed,
  };
}

function checkAt(bytes: Uint8Array, end: number): string {
  return evidence(bytes.subarray(Math.max(0, end - EVIDENCE_BYTES), end));
}
