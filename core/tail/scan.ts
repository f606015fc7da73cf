/**
 * Finding the files to follow: expanding the globs again, opening new files, and
 * noticing when a watched path stops naming the file it named (a rotation or a
 * deletion).
 *
 * @module
 */
import { expandGlobs } from "./glob.ts";
import { openReader } from "./identity.ts";
import { keyOf, type Reader, stampOf } from "./reader.ts";
import { searchSiblings } from "./rotation.ts";
import { adopt, CLOCK_SLACK_MS, type FollowerState } from "./state.ts";

/** Expands the globs again: opens new files and notices rotations and deletions of the watched paths. */
export async function scan(st: FollowerState, initial: boolean): Promise<void> {
  const started = Date.now();
  // A path that became a directory while running is no file to follow, not a reason to stop.
  const paths = await expandGlobs(st.patterns, { directories: "skip" });
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
    const known = st.byKey.get(key);
    if (known) {
      known.matched = true;
      known.path = path;
      if (known.base === path) {
        known.seenAt = started;
        if (known.entry?.owner === known) known.entry.seenAt = started;
      }
      continue;
    }
    if (st.skip.get(key) === stampOf(stat)) continue;
    const startAtEnd = initial && !st.restored && !st.fromStart;
    const r = await openReader(st, path, path, { matched: true, startAtEnd });
    if (r) {
      present.set(r.key, path);
      fresh.push(r);
    }
  }
  // Rotation: the watched path no longer names a file it named before.
  const searches = new Map<string, number>();
  const search = (base: string, since: number) =>
    searches.set(base, Math.min(searches.get(base) ?? Infinity, since));
  for (const r of st.readers) {
    if (!r.matched || r.rotationSeen || byPath.get(r.base) === r.key) continue;
    r.rotationSeen = true;
    let nlink = 0;
    try {
      nlink = (await r.file.stat()).nlink ?? 1;
    } catch {
      // Closed under us: treat as deleted.
    }
    if (nlink === 0) st.stats.deletions++;
    else st.stats.rotations++;
    search(r.base, r.seenAt - CLOCK_SLACK_MS);
  }
  for (const r of st.readers) if (!present.has(r.key)) r.matched = false;
  if (initial && st.restored) {
    for (const e of st.entries.values()) {
      if (!e.owner && !e.finished) search(e.path, e.seenAt - CLOCK_SLACK_MS);
    }
  }
  for (const [base, since] of searches) fresh.push(...await searchSiblings(st, base, since));
  if (initial && st.restored) {
    // Gone while nobody was reading: nothing more can be read of these.
    for (const e of st.entries.values()) if (!e.owner) e.finished = true;
  }
  await adopt(st, fresh);
  st.nextScan = started + st.rescanMs;
}
