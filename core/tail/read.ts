/**
 * Reading a file's new bytes into batches of complete lines: chunks, runs of lines
 * copied at once, lines cut at the limit, and the last line of a file that will
 * not grow.
 *
 * @module
 */
import { headMatches } from "./identity.ts";
import { evidence, EVIDENCE_BYTES, type Reader } from "./reader.ts";
import { type FollowerState, PAUSE_EVERY_MS } from "./state.ts";
import type { ByteLineBatch } from "./types.ts";

/** Reads up to one batch of complete lines; `undefined` at the end of the data. */
export async function read(st: FollowerState, r: Reader): Promise<ByteLineBatch | undefined> {
  const lines = st.lines;
  lines.clear();
  if (!r.gz) r.file.seekSync(r.readOffset, Deno.SeekMode.Start);
  let check: string | undefined;
  while (!lines.full) {
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
    while (pos < chunk.length && !lines.full) {
      if (r.line.empty) {
        const end = lines.addRun(chunk, pos, st.maxLineBytes);
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
      completeLine(st, r, chunk.subarray(pos, newline));
      pos = newline + 1;
      r.committed = start + pos;
      at = pos;
    }
    // The scratch buffer is read into again: the position's evidence is taken now.
    if (at >= 0) check = checkAt(chunk, at);
    if (pos < chunk.length) st.keepLeftover(r, chunk, pos, start);
  }
  if (r.entry && r.entry.offset !== r.committed) {
    r.entry.offset = r.committed;
    r.entry.check = check;
  }
  if (lines.count === 0) return undefined;
  st.stats.linesRead += lines.count;
  return lines.batch(r.base, r.path, r.fingerprint, r.committed);
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

/** Finishes the line ending at a newline, into the batch unless it is to be dropped. */
export function completeLine(st: FollowerState, r: Reader, tail: Uint8Array): void {
  let bytes: Uint8Array;
  let cut = false;
  if (r.line.empty && tail.length <= st.maxLineBytes) {
    bytes = tail;
  } else {
    r.line.add(tail);
    if (r.line.discard) {
      r.line.reset();
      return;
    }
    cut = r.line.cut;
    bytes = r.line.take();
  }
  if (cut) st.stats.linesTooLong++;
  st.lines.addLine(bytes);
}

/** The last line of a file that will not grow, though it has no newline. */
export function flushPartial(st: FollowerState, r: Reader): ByteLineBatch | undefined {
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
  st.lines.clear();
  st.lines.addLine(bytes);
  return st.lines.batch(r.base, r.path, r.fingerprint, r.committed);
}

function checkAt(bytes: Uint8Array, end: number): string {
  return evidence(bytes.subarray(Math.max(0, end - EVIDENCE_BYTES), end));
}
