/**
 * Which file a reader holds: opening it, fingerprinting its first line, and
 * claiming (or waiting for) the position saved for that fingerprint.
 *
 * @module
 */
import { concat } from "./line_buffer.ts";
import {
  type Entry,
  evidence,
  EVIDENCE_BYTES,
  fingerprint,
  headOf,
  keyOf,
  Reader,
  stamp,
} from "./reader.ts";
import { CHUNK_BYTES, close, type FollowerState, WHOLE_FILE } from "./state.ts";

/** Opens `path` (followed as `base`) and establishes which file it is; `undefined` when it is gone, not a regular file, or already open. */
export async function openReader(
  st: FollowerState,
  path: string,
  base: string,
  options: { matched: boolean; startAtEnd?: boolean; probe?: boolean },
): Promise<Reader | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) st.stats.readErrors++;
    return undefined;
  }
  const stat = await file.stat();
  const key = keyOf(stat);
  if (st.byKey.has(key) || !stat.isFile) {
    file.close();
    return undefined;
  }
  const gz = path.endsWith(".gz");
  const r = new Reader(key, path, base, gz, options.matched, file, stat, st.maxLineBytes);
  if (gz) r.stream = file.readable.pipeThrough(new DecompressionStream("gzip")).getReader();
  st.readers.add(r);
  st.byKey.set(key, r);
  r.startAtEnd = options.startAtEnd ?? false;
  await establish(st, r, st.once, options.probe);
  // A first line still being written when we started is read when it completes.
  r.startAtEnd = false;
  return r.closed ? undefined : r;
}

/**
 * Reads the file's first line (up to `fingerprintBytes`) and, unless `probe`,
 * claims the position known for it. A first line still being written waits,
 * unless `final`.
 */
export async function establish(
  st: FollowerState,
  r: Reader,
  final: boolean,
  probe = false,
): Promise<void> {
  const max = st.fingerprintBytes;
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
      st.stats.readErrors++;
      st.skip.set(r.key, stamp(r));
      return close(st, r, false);
    }
    const all = concat(parts, length);
    st.stats.bytesRead += length;
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
  if (!probe) await claim(st, r);
}

/**
 * Takes the position of the reader's fingerprint: resumes a known file, starts a
 * new one, or waits as a duplicate while another open file (a copy with the same
 * start) owns it. Files that only share their first line (a header, a banner)
 * are told apart by the bytes before the saved offset, and each keeps its own
 * position (`FINGERPRINT~N`).
 */
export async function claim(st: FollowerState, r: Reader): Promise<void> {
  const base = baseOf(r.fingerprint);
  const kin = family(st, base);
  let resume: Entry | undefined;
  let maybe: Entry | undefined;
  for (const known of kin) {
    if (known.owner && known.owner !== r && !known.owner.closed) {
      // A copy of an open file (copytruncate) waits until that file is done; a
      // file that merely starts the same way is read on its own.
      if (await likeness(r, known) !== "differs") {
        r.dupe = true;
        r.fingerprint = known.fingerprint;
        return;
      }
      continue;
    }
    if (r.fresh || resume) continue;
    const like = await likeness(r, known);
    if (like === "same") resume = known;
    else if (like === "unknown") maybe ??= known;
  }
  resume ??= maybe;
  let entry: Entry;
  let offset: number;
  let midLine = false;
  if (resume) {
    entry = resume;
    offset = resume.offset;
    entry.finished = false;
    if (entry.order >= 0) r.order = entry.order;
  } else {
    offset = 0;
    if (r.startAtEnd) {
      if (r.gz) offset = WHOLE_FILE;
      else [offset, midLine] = await endOffset(st, r);
    }
    entry = {
      fingerprint: newKey(st, base, kin),
      path: r.base,
      offset,
      seenAt: r.seenAt,
      finished: false,
      order: r.order,
    };
    st.entries.set(entry.fingerprint, entry);
  }
  entry.owner = r;
  r.entry = entry;
  r.fingerprint = entry.fingerprint;
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

/** Files sharing a first line keep their positions under `FINGERPRINT~N`. */
const KIN_SEPARATOR = "~";

/** The fingerprint of the first line alone, without a `~N` that tells its files apart. */
function baseOf(fingerprint: string): string {
  const at = fingerprint.indexOf(KIN_SEPARATOR);
  return at < 0 ? fingerprint : fingerprint.slice(0, at);
}

/** The positions of files whose first line is `base`'s: its own first. */
export function family(st: FollowerState, base: string): Entry[] {
  const kin: Entry[] = [];
  const own = st.entries.get(base);
  if (own) kin.push(own);
  const prefix = base + KIN_SEPARATOR;
  for (const entry of st.entries.values()) {
    if (entry.fingerprint.startsWith(prefix)) kin.push(entry);
  }
  return kin;
}

/** Alternates a first line keeps at most before the oldest is replaced. */
const MAX_KIN = 64;

/**
 * Where a new file's position goes: the first line's own key when free, else in
 * place of a finished one of the family (as one position per first line always
 * was), else a new `~N`. A position not finished (saved for a file not yet seen
 * again) is kept: that file may still come back.
 */
function newKey(st: FollowerState, base: string, kin: Entry[]): string {
  if (!st.entries.has(base)) return base;
  const idle = (e: Entry) => !e.owner || e.owner.closed;
  const finished = kin.find((e) => e.finished && idle(e));
  if (finished) return finished.fingerprint;
  if (kin.length >= MAX_KIN) {
    const oldest = kin.filter(idle).sort((a, b) => a.order - b.order)[0];
    if (oldest) return oldest.fingerprint;
  }
  for (let n = 1;; n++) {
    const key = `${base}${KIN_SEPARATOR}${n}`;
    if (!st.entries.has(key)) return key;
  }
}

/**
 * Whether the reader's file is the one `known` was saved for (or a copy of it):
 * the bytes before the saved offset tell, and while the file is shorter than
 * that, its last bytes against the same place in the open file owning it.
 * "unknown" without such evidence (an old checkpoint, offset 0, a `.gz`, which
 * cannot be read backwards and whose copies are meant to match).
 */
export async function likeness(r: Reader, known: Entry): Promise<"same" | "differs" | "unknown"> {
  if (r.gz || known.offset === 0) return "unknown";
  let end = known.offset;
  let length: number;
  let expected: string | Uint8Array | undefined;
  const size = (await r.file.stat()).size;
  if (size >= end && known.check !== undefined) {
    length = Number(known.check.slice(0, known.check.indexOf(":")));
    if (!Number.isSafeInteger(length) || length <= 0 || length > end) return "unknown";
    expected = known.check;
  } else {
    const owner = known.owner;
    if (!owner || owner.closed || owner.gz || size <= r.head.length) return "unknown";
    end = Math.min(size, end);
    length = Math.min(EVIDENCE_BYTES, end);
    expected = await bytesAt(owner.file, end - length, length);
    if (expected === undefined) return "unknown";
  }
  const bytes = await bytesAt(r.file, end - length, length);
  if (bytes === undefined) return "unknown";
  if (typeof expected === "string") return evidence(bytes) === expected ? "same" : "differs";
  return bytes.every((byte, i) => byte === (expected as Uint8Array)[i]) ? "same" : "differs";
}

/** `length` bytes of `file` from `offset`; `undefined` when fewer are there. */
async function bytesAt(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array | undefined> {
  const bytes = new Uint8Array(length);
  let got = 0;
  try {
    await file.seek(offset, Deno.SeekMode.Start);
    while (got < length) {
      const n = await file.read(bytes.subarray(got));
      if (n === null || n === 0) break;
      got += n;
    }
  } catch {
    return undefined;
  }
  return got === length ? bytes : undefined;
}

/**
 * A duplicate takes over once the file owning its fingerprint is gone, or on its
 * own once it shows it is not a copy of that file (it grew apart).
 */
export async function tryClaim(st: FollowerState, r: Reader): Promise<void> {
  const known = st.entries.get(r.fingerprint);
  const owner = known?.owner;
  if (known && owner && owner !== r && !owner.closed && await likeness(r, known) !== "differs") {
    return;
  }
  await claim(st, r);
}

/**
 * Offset after the last complete line, where "start at the end" begins, and
 * whether that is inside a line (no newline in the last chunk of a big file).
 */
export async function endOffset(st: FollowerState, r: Reader): Promise<[number, boolean]> {
  const size = (await r.file.stat()).size;
  const from = Math.max(0, size - CHUNK_BYTES);
  await r.file.seek(from, Deno.SeekMode.Start);
  let length = 0;
  const scratch = st.takeScratch();
  while (length < size - from) {
    const n = await r.file.read(scratch.subarray(length, size - from));
    if (n === null || n === 0) break;
    length += n;
  }
  const newline = scratch.subarray(0, length).lastIndexOf(10);
  if (newline >= 0) return [from + newline + 1, false];
  return from === 0 ? [0, false] : [size, true];
}

/** Whether the file still starts with the head it was fingerprinted by (it does not after copytruncate). */
export function headMatches(r: Reader): boolean {
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
  // A file rewritten in place with the same first line (a header) and grown past
  // the offset between two polls shows it only in the bytes before the offset.
  const entry = r.entry;
  if (entry?.check === undefined || entry.owner !== r || entry.offset !== r.committed) return true;
  const want = Number(entry.check.slice(0, entry.check.indexOf(":")));
  if (!Number.isSafeInteger(want) || want <= 0 || want > r.committed) return true;
  const before = new Uint8Array(want);
  r.file.seekSync(r.committed - want, Deno.SeekMode.Start);
  length = 0;
  while (length < want) {
    const n = r.file.readSync(before.subarray(length));
    if (n === null || n === 0) break;
    length += n;
  }
  return length === want && evidence(before) === entry.check;
}
