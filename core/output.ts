/**
 * Where a source hands its events: the network (`Emitter`) or stdout (`PrintOutput`).
 *
 * @module
 */
import type { Event } from "./event.ts";

/**
 * The one thing sources need from the transport. `positions()` is the per-topic
 * stream index (see docs/protocol.md) that a source stores in its checkpoint, so a
 * restarted source numbers re-read lines exactly as before and receivers drop the
 * replays.
 *
 * @example
 * ```ts
 * import type { EventOutput } from "@eventstorm/core";
 * function ship(out: EventOutput) {
 *   out.send({ type: "app.start", time: new Date(), host: "h" });
 * }
 * ```
 */
export interface EventOutput {
  /** Queues one event; it leaves at the next flush at the latest. */
  send(event: Event): void;
  /** Hands everything queued to the transport. */
  flush(): Promise<void>;
  /** Flushes and releases the transport. */
  close(): Promise<void>;
  /** Random identity of this output's stream (protocol header `source`). */
  readonly sourceId: bigint;
  /** Next stream index per topic. */
  positions(): Record<string, number>;
}
