/**
 * Rotation and truncation: finding the files a watched path named before (renamed
 * away, several times between two scans, or copied before a copytruncate) and
 * starting over in a truncated file.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { claim, family, likeness, openReader, tryClaim } from "./identity.ts";
import { keyOf, type Reader } from "./reader.ts";
import { adopt, CLOCK_SLACK_MS, close, type FollowerState, ROTATED_SUFFIX } from "./state.ts";

/** Starts a truncated file over from its start, after finding where the old content went (a copy). */
export async function afterTruncation(st: FollowerState, r: Reader): Promise<void> {
  st.stats.truncations++;
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
    for (const other of [...st.readers]) {
      if (other !== r && other.dupe && other.fingerprint === old.fingerprint) {
        await tryClaim(st, other);
        if (old.owner === other) break;
      }
    }
    if (!old.owner && !st.once) found.push(...await searchSiblings(st, r.base, since));
    if (!old.owner) old.finished = true;
  }
  await adopt(st, found);
  // The new content comes after everything that was there before.
  r.order = st.nextOrder++;
}

/**
 * Opens files next to `base` that continue what was read there: the copy or
 * rotated name of a file whose position nobody holds (after copytruncate or a
 * restart), and rotated files written since `since` that were never seen
 * because they were renamed again between two scans.
 */
export async function searchSiblings(
  st: FollowerState,
  base: string,
  since: number,
): Promise<Reader[]> {
  const dir = dirname(base);
  const name = basename(base);
  const found: Reader[] = [];
  const resumable = () =>
    [...st.entries.values()].some((e) => e.path === base && !e.owner && !e.finished);
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
      if (!stat.isFile || st.byKey.has(keyOf(stat))) continue;
      const recent = !sibling.endsWith(".gz") &&
        ROTATED_SUFFIX.test(sibling.slice(name.length)) &&
        (stat.mtime?.getTime() ?? 0) >= since;
      const resume = resumable();
      if (!recent && !resume) continue;
      const r = await openReader(st, path, base, { matched: false, probe: true });
      if (!r) {
        vanished = true;
        continue;
      }
      // Files sharing the first line (a header) are told apart by their bytes.
      const kin = r.established ? family(st, r.fingerprint) : [];
      const like = await Promise.all(kin.map((entry) => likeness(r, entry)));
      if (kin.some((entry, i) => !entry.owner && !entry.finished && like[i] !== "differs")) {
        await claim(st, r);
        found.push(r);
      } else if (recent && like.every((l) => l === "differs")) {
        if (r.established) await claim(st, r);
        found.push(r);
      } else {
        close(st, r, false);
      }
    }
    if (!vanished) break;
  }
  return found;
}
