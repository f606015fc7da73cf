/**
 * The `deno` executable's pages a running process no longer touches.
 *
 * RSS counts every page of the executable the process has touched since it
 * started, and a Deno process touches a lot once: the dynamic linker reads
 * 3.6 MB of relocations, and start-up (module loading, TypeScript, npm
 * resolution) runs code that never runs again. An agent shipping 50,000
 * lines/s keeps about 47 MB of the executable resident, of which its loop
 * touches about 23 MB. Those pages are clean copies of the file: unmapping
 * them (`madvise(MADV_DONTNEED)`) leaves them in the page cache, shared with
 * every other Deno process, and a page touched again is mapped again from
 * there on a minor fault.
 *
 * Only the executable's mappings that cannot be written and hold no private
 * copy are unmapped: those are the file's bytes, and nothing of the process's
 * own is lost. Linux only; elsewhere nothing is unmapped.
 *
 * @module
 */

const MADV_DONTNEED = 4;

/** The executable's path as `/proc/self/smaps` names it, resolved once. */
let executable: string | undefined;

/** One mapping: its first address and its length in bytes. */
export interface AddressRange {
  /** First address. */
  start: bigint;
  /** Length in bytes. */
  length: bigint;
}

/**
 * The mappings of `executable` in `smaps` (the text of `/proc/<pid>/smaps`)
 * that are the file's bytes alone: not writable, no private dirty page, nothing
 * anonymous. A mapping whose fields cannot be read is left out.
 *
 * @example
 * ```ts
 * import { cleanExecutableRanges } from "./executable_pages.ts";
 * const smaps = Deno.readTextFileSync("/proc/self/smaps");
 * const ranges = cleanExecutableRanges(smaps, Deno.realPathSync(Deno.execPath()));
 * console.log(ranges.length > 0); // true on Linux
 * ```
 */
export function cleanExecutableRanges(smaps: string, executable: string): AddressRange[] {
  const ranges: AddressRange[] = [];
  let current: { range: AddressRange; private: number; fields: number } | undefined;
  const finish = () => {
    // Both fields must have been read and be zero: an unknown is not clean.
    if (current && current.fields === 2 && current.private === 0) ranges.push(current.range);
    current = undefined;
  };
  for (const line of smaps.split("\n")) {
    const head = line.match(/^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ +(.*)$/);
    if (head) {
      finish();
      const [, from, to, permissions, path] = head;
      if (path !== executable || permissions.includes("w")) continue;
      const start = BigInt(`0x${from}`);
      const end = BigInt(`0x${to}`);
      if (end <= start) continue;
      current = { range: { start, length: end - start }, private: 0, fields: 0 };
      continue;
    }
    const field = current && line.match(/^(Private_Dirty|Anonymous): +(\d+) kB$/);
    if (current && field) {
      current.private += Number(field[2]);
      current.fields++;
    }
  }
  finish();
  return ranges;
}

/**
 * Unmaps the clean pages of this process's executable, found by
 * {@linkcode cleanExecutableRanges}; `madvise` is the C library's. Returns the
 * number of mappings unmapped, 0 where `/proc` cannot be read.
 *
 * @example
 * ```ts ignore
 * import { dropExecutablePages } from "./executable_pages.ts";
 * import { openLibc } from "./native.ts";
 * const libc = openLibc({ madvise: { parameters: ["usize", "usize", "i32"], result: "i32" } });
 * if (libc) dropExecutablePages(libc.symbols.madvise);
 * ```
 */
export function dropExecutablePages(
  madvise: (start: bigint, length: bigint, advice: number) => number,
): number {
  if (Deno.build.os !== "linux") return 0;
  let ranges: AddressRange[];
  try {
    executable ??= Deno.realPathSync(Deno.execPath());
    ranges = cleanExecutableRanges(Deno.readTextFileSync("/proc/self/smaps"), executable);
  } catch {
    return 0;
  }
  let dropped = 0;
  for (const { start, length } of ranges) {
    if (madvise(start, length, MADV_DONTNEED) === 0) dropped++;
  }
  return dropped;
}
