/**
 * Journal sequence numbers: where an entry sits in its journal, from its cursor
 * (`s=<seqnum id>;i=<seqnum hex>;…`) or, from systemd 254 on, its `__SEQNUM_ID`
 * and `__SEQNUM` export fields. journald numbers the entries of one journal (a file
 * set that rotation continues: the system journal and the user journals share one)
 * 1, 2, 3, …, so a seqnum that jumps over others shows entries gone before they
 * were read.
 *
 * @module
 */

/** An entry's place in its journal. */
export interface JournalPosition {
  /** The seqnum id: which journal (128-bit hex). */
  id: string;
  /** The entry's sequence number in it. */
  seqnum: bigint;
}

/**
 * The position a cursor names; undefined for a cursor without `s=` and `i=` (one
 * damaged, or not journald's).
 *
 * @example
 * ```ts
 * import { cursorPosition } from "@eventstorm/source-journald";
 * cursorPosition("s=0123abcd;i=1f;b=42;m=1;t=2;x=3"); // { id: "0123abcd", seqnum: 31n }
 * ```
 */
export function cursorPosition(cursor: string): JournalPosition | undefined {
  let id: string | undefined;
  let seqnum: bigint | undefined;
  for (const part of cursor.split(";")) {
    if (part.startsWith("s=")) id = part.slice(2);
    else if (part.startsWith("i=") && /^[0-9a-fA-F]{1,16}$/.test(part.slice(2))) {
      seqnum = BigInt(`0x${part.slice(2)}`);
    }
  }
  return id && seqnum !== undefined ? { id, seqnum } : undefined;
}

/**
 * The position of an export-format entry: its `__SEQNUM_ID` and `__SEQNUM` where
 * journalctl gives them (systemd 254 and later), else its `__CURSOR` (Debian 12's
 * systemd 252 gives only that).
 *
 * @example
 * ```ts
 * import { entryPosition } from "@eventstorm/source-journald";
 * entryPosition({ __SEQNUM_ID: "0123abcd", __SEQNUM: "31" }); // { id: "0123abcd", seqnum: 31n }
 * ```
 */
export function entryPosition(entry: Record<string, string>): JournalPosition | undefined {
  const id = entry.__SEQNUM_ID;
  const seqnum = entry.__SEQNUM;
  if (id && seqnum !== undefined && /^\d{1,20}$/.test(seqnum)) {
    return { id, seqnum: BigInt(seqnum) };
  }
  return entry.__CURSOR === undefined ? undefined : cursorPosition(entry.__CURSOR);
}

/** Journals remembered at most: a directory of remote journals holds one per sending host. */
const MAX_JOURNALS = 1024;

/**
 * Counts the seqnums skipped between entries of the same journal: the last seqnum
 * of each journal is kept, and an entry above it + 1 reports the difference.
 * Entries of another journal in between (a directory of several hosts' journals,
 * interleaved by time) skip nothing; a seqnum at or below the last (a journal read
 * again from its start) counts nothing.
 *
 * @example
 * ```ts
 * import { SeqnumGaps } from "@eventstorm/source-journald";
 * const gaps = new SeqnumGaps();
 * gaps.next({ id: "a", seqnum: 1n }); // 0
 * gaps.next({ id: "a", seqnum: 5n }); // 3: entries 2, 3 and 4 were never read
 * ```
 */
export class SeqnumGaps {
  readonly #last = new Map<string, bigint>();

  /** Sets where `position.id` was left (a checkpoint's cursor) without counting. */
  seen(position: JournalPosition): void {
    this.#last.delete(position.id);
    this.#last.set(position.id, position.seqnum);
    // The least recently read journal goes first: a host that stopped sending.
    if (this.#last.size > MAX_JOURNALS) this.#last.delete(this.#last.keys().next().value!);
  }

  /** The seqnum last seen in journal `id`, if any. */
  last(id: string): bigint | undefined {
    return this.#last.get(id);
  }

  /** The entries skipped before `position` in its journal (0 for none); then remembers it. */
  next(position: JournalPosition): number {
    const last = this.#last.get(position.id);
    this.seen(position);
    if (last === undefined || position.seqnum <= last + 1n) return 0;
    return Number(position.seqnum - last - 1n);
  }
}
