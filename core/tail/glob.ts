/**
 * Globs for the files to follow: `*`, `?`, `[a-z]`, `{a,b}` and `**`.
 *
 * @module
 */
import { join, parse, resolve, sep } from "node:path";
import { UsageError } from "../flags.ts";

const MAGIC = /[*?[{]/;
const MAX_GLOB_DEPTH = 32;

/**
 * A regular expression for one path segment of a glob: `*` (any run of
 * characters), `?` (one character), `[a-z]` and `[!a-z]` (classes), `\\x` (a
 * literal). Like shells, a wildcard does not match a leading dot.
 *
 * @example
 * ```ts
 * import { globToRegExp } from "./glob.ts";
 * globToRegExp("access*.log").test("access-2.log"); // true
 * globToRegExp("*.log").test(".hidden.log"); // false
 * ```
 */
export function globToRegExp(segment: string): RegExp {
  let source = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === "*") {
      source += "[^/]*";
      while (segment[i + 1] === "*") i++;
    } else if (c === "?") {
      source += "[^/]";
    } else if (c === "[") {
      let j = i + 1;
      if (segment[j] === "!" || segment[j] === "^") j++;
      if (segment[j] === "]") j++;
      const end = segment.indexOf("]", j);
      if (end < 0) {
        source += "\\[";
        continue;
      }
      let body = segment.slice(i + 1, end);
      const negate = body[0] === "!" || body[0] === "^";
      if (negate) body = body.slice(1);
      source += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = end;
    } else if (c === "\\" && i + 1 < segment.length) {
      source += escapeRegExp(segment[++i]);
    } else {
      source += escapeRegExp(c);
    }
  }
  return new RegExp(`^${segment.startsWith(".") ? "" : "(?!\\.)"}${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** `a{b,c}d` → `abd`, `acd` (nested braces too). */
function expandBraces(pattern: string): string[] {
  let depth = 0;
  let open = -1;
  const commas: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") i++;
    else if (c === "{" && depth++ === 0) open = i;
    else if (c === "," && depth === 1) commas.push(i);
    else if (c === "}" && depth > 0 && --depth === 0) {
      if (commas.length === 0) {
        commas.length = 0;
        continue;
      }
      const prefix = pattern.slice(0, open);
      const suffix = pattern.slice(i + 1);
      const cuts = [open, ...commas, i];
      const out: string[] = [];
      for (let k = 0; k < cuts.length - 1; k++) {
        out.push(...expandBraces(prefix + pattern.slice(cuts[k] + 1, cuts[k + 1]) + suffix));
      }
      return out;
    }
  }
  return [pattern];
}

/**
 * Options of {@linkcode expandGlobs}.
 *
 * @example
 * ```ts
 * import type { ExpandGlobsOptions } from "./glob.ts";
 * const options: ExpandGlobsOptions = { cwd: "/var/log" };
 * ```
 */
export interface ExpandGlobsOptions {
  /** Directory relative patterns start from; the current one by default. */
  cwd?: string;
  /**
   * What a pattern without wildcards that names a directory is: `"refuse"` (the
   * default, for the paths a user gives at start) throws a {@linkcode UsageError}
   * saying so, since no file will ever match it; `"skip"` (for a rescan while
   * running) leaves it out like any other non-file.
   */
  directories?: "refuse" | "skip";
}

/**
 * The regular files (symlinks followed) that `patterns` name, as sorted absolute
 * paths without duplicates. Patterns may use `*`, `?`, `[..]`, `{a,b}` and `**`
 * (any number of directories); a pattern without wildcards names itself when it
 * exists, and is a {@linkcode UsageError} when it names a directory (unless
 * `directories: "skip"`). Unreadable directories are skipped.
 *
 * @example
 * ```ts
 * import { expandGlobs } from "./glob.ts";
 * const files = await expandGlobs(["/var/log/nginx/*.log", "/var/log/syslog"]);
 * ```
 */
export async function expandGlobs(
  patterns: readonly string[],
  options: ExpandGlobsOptions = {},
): Promise<string[]> {
  const cwd = options.cwd ?? Deno.cwd();
  const candidates = new Set<string>();
  for (const pattern of patterns) {
    if ((options.directories ?? "refuse") === "refuse" && !MAGIC.test(pattern)) {
      await refuseDirectory(pattern, resolve(cwd, pattern));
    }
    for (const expanded of expandBraces(pattern)) {
      const absolute = resolve(cwd, expanded);
      if (!MAGIC.test(absolute)) {
        candidates.add(absolute);
        continue;
      }
      const root = parse(absolute).root;
      const segments = absolute.slice(root.length).split(sep).filter((s) => s !== "");
      await walk(root, segments, 0, candidates, 0);
    }
  }
  const files: string[] = [];
  for (const path of candidates) {
    try {
      if ((await Deno.stat(path)).isFile) files.push(path);
    } catch {
      // Vanished or unreadable: not a match.
    }
  }
  return files.sort();
}

/** A path given to follow that is a directory: say so, rather than wait for it to be a file. */
async function refuseDirectory(pattern: string, absolute: string): Promise<void> {
  let directory = false;
  try {
    directory = (await Deno.stat(absolute)).isDirectory;
  } catch {
    // Missing or unreadable: not a match, as for any path.
  }
  if (directory) {
    const glob = `${pattern.replace(/[\\/]+$/, "")}/*.log`;
    throw new UsageError(
      `${pattern} is a directory, not a file; to follow files in it, give a quoted glob like '${glob}'`,
    );
  }
}

async function walk(
  dir: string,
  segments: string[],
  index: number,
  out: Set<string>,
  depth: number,
): Promise<void> {
  if (index === segments.length) {
    out.add(dir);
    return;
  }
  const segment = segments[index];
  if (segment === "**") {
    await walk(dir, segments, index + 1, out, depth);
    if (depth >= MAX_GLOB_DEPTH) return;
    for (const entry of await listDir(dir)) {
      // Symlinked directories are not entered: they may loop.
      if (entry.isDirectory && !entry.name.startsWith(".")) {
        await walk(join(dir, entry.name), segments, index, out, depth + 1);
      }
    }
    return;
  }
  if (!MAGIC.test(segment)) {
    await walk(join(dir, segment.replace(/\\(.)/g, "$1")), segments, index + 1, out, depth);
    return;
  }
  const pattern = globToRegExp(segment);
  for (const entry of await listDir(dir)) {
    if (pattern.test(entry.name)) {
      await walk(join(dir, entry.name), segments, index + 1, out, depth);
    }
  }
}

async function listDir(dir: string): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
  } catch {
    // Missing or unreadable directories match nothing.
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
