/**
 * Sink groups: N receivers share one stream of messages, each keeping whole
 * streams (all of a source id), so per-stream accounting stays exact in the one
 * member that owns a stream.
 *
 * @module
 */
import { UsageError } from "./flags.ts";

/** Member `index` (1 … `count`) of a group of `count`. */
export interface Member {
  /** This member's number, from 1. */
  index: number;
  /** How many members the group has. */
  count: number;
}

/**
 * The member (1 … `count`) that owns the streams of `source`: `source mod count + 1`.
 * Source ids are random, so streams spread evenly; two-frame messages (no source)
 * belong to member 1.
 *
 * @example
 * ```ts
 * import { memberOf } from "@eventstorm/core";
 * memberOf(7n, 3); // 2
 * ```
 */
export function memberOf(source: bigint, count: number): number {
  return Number(source % BigInt(count)) + 1;
}

/**
 * Parses `--member I/N` (e.g. `2/3`); throws a one-line `UsageError`.
 *
 * @example
 * ```ts
 * import { parseMember } from "@eventstorm/core";
 * parseMember("2/3"); // { index: 2, count: 3 }
 * ```
 */
export function parseMember(text: string): Member {
  const match = /^(\d{1,4})\/(\d{1,4})$/.exec(text.trim());
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!match || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--member must be I/N with 1 ≤ I ≤ N, like 2/3, not '${text}'`);
  }
  return { index, count };
}
