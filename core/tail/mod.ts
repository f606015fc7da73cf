/**
 * Follows log files like `tail -F`, but without losing or repeating a line across
 * rotation (rename-and-create, copytruncate), truncation, deletion and restarts.
 *
 * Files are known by a fingerprint of their first line (at most
 * `fingerprintBytes`), not by inode, so a reused inode is a new file and a copy of
 * a file is the same file. Positions are kept per fingerprint and can be saved
 * and restored (see {@linkcode FileFollower.positions}).
 *
 * The parts, each in its own file: `follower.ts` (the polling loop and the public
 * class), `scan.ts` (finding files), `identity.ts` (opening and fingerprinting),
 * `read.ts` (bytes into lines), `line_bytes.ts` (a batch's lines), `rotation.ts` (rotation and truncation),
 * `state.ts` (what they share), `reader.ts` (one open file), `line_buffer.ts`,
 * `glob.ts` and `types.ts`.
 *
 * @example
 * ```ts
 * import { FileFollower } from "./mod.ts";
 * const follower = new FileFollower({ paths: ["/var/log/nginx/*.log"], once: true });
 * for await (const batch of follower.batches()) console.log(batch.lines.length);
 * ```
 *
 * @module
 */
export { FileFollower } from "./follower.ts";
export type {
  ByteLineBatch,
  FilePosition,
  FollowerOptions,
  FollowerStats,
  LineBatch,
} from "./types.ts";
export { expandGlobs, type ExpandGlobsOptions, globToRegExp } from "./glob.ts";
