/**
 * Event ids derived from stream positions (`<source hex>-<topic>-<index>`), and
 * the positions a batch of such events reaches.
 *
 * @module
 */
import type { StreamPosition } from "./sequence.ts";

/**
 * A stable id for an event from its stream position, so that a retried write or a
 * replay after a source restart stores it once: `<source hex>-<topic>-<index>`.
 *
 * @example
 * ```ts
 * import { eventId } from "@eventstorm/core/sink";
 * eventId(255n, "http.hit", 7); // "ff-http.hit-7"
 * ```
 */
export function eventId(source: bigint, topic: string, index: number): string {
  return `${source.toString(16)}-${topic}-${index}`;
}

/**
 * The stream position an `_id` from {@linkcode eventId} names, or undefined for
 * any other id.
 *
 * @example
 * ```ts
 * import { parseEventId } from "@eventstorm/core/sink";
 * parseEventId("ff-http.hit-7"); // { source: 255n, topic: "http.hit", index: 7 }
 * ```
 */
export function parseEventId(
  id: unknown,
): { source: bigint; topic: string; index: number } | undefined {
  if (typeof id !== "string") return undefined;
  const dash = id.indexOf("-");
  const last = id.lastIndexOf("-");
  if (dash < 1 || dash > 16 || last <= dash + 1 || last === id.length - 1) return undefined;
  const hex = id.slice(0, dash), digits = id.slice(last + 1);
  if (!/^[0-9a-f]+$/.test(hex) || !/^[0-9]{1,16}$/.test(digits)) return undefined;
  const index = Number(digits);
  if (index >= 2 ** 53) return undefined;
  return { source: BigInt(`0x${hex}`), topic: id.slice(dash + 1, last), index };
}

/**
 * Each stream's position after `events` (the index after its last event there),
 * read from their derived `_id`s; events without one are not in any stream.
 *
 * @example
 * ```ts
 * import { positionsOf } from "@eventstorm/core/sink";
 * positionsOf([{ _id: "ff-a-3" }, { _id: "ff-a-4" }], 0); // [{ source: 255n, topic: "a", next: 5, at: 0 }]
 * ```
 */
export function positionsOf(
  events: readonly { _id?: unknown }[],
  at: number = Date.now(),
): StreamPosition[] {
  const byStream = new Map<string, StreamPosition>();
  let prefix = "";
  let current: StreamPosition | undefined;
  for (const event of events) {
    const id = event._id;
    // Consecutive events usually share a stream: compare the id's prefix first.
    if (current !== undefined && typeof id === "string" && id.startsWith(prefix)) {
      const index = Number(id.slice(prefix.length));
      if (Number.isSafeInteger(index) && index >= 0) {
        current.next = Math.max(current.next, index + 1);
        continue;
      }
    }
    const parsed = parseEventId(id);
    if (parsed === undefined) continue;
    prefix = `${parsed.source.toString(16)}-${parsed.topic}-`;
    current = byStream.get(prefix);
    if (current === undefined) {
      current = { source: parsed.source, topic: parsed.topic, next: parsed.index + 1, at };
      byStream.set(prefix, current);
    } else current.next = Math.max(current.next, parsed.index + 1);
  }
  return [...byStream.values()];
}
