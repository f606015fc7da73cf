/**
 * Building whole protocol v1 messages, for components that publish their own
 * events on a raw socket (the router's stats).
 *
 * @module
 */
import { encodeBatch } from "./codec.ts";
import type { Event } from "./event.ts";
import { encodeHeader } from "./protocol.ts";

const encoder = new TextEncoder();

/** Numbers messages per topic for one source, like an Emitter does. */
export class MessageBuilder {
  readonly #source: bigint;
  readonly #positions = new Map<string, number>();

  /** Creates a builder for stream `source`. */
  constructor(source: bigint) {
    this.#source = source;
  }

  /**
   * The three frames of one message carrying `events`, all of type `topic`.
   *
   * @example
   * ```ts
   * import { MessageBuilder } from "@eventstorm/core/internal";
   * const frames = new MessageBuilder(1n).build("eventstorm.stats", [
   *   { type: "eventstorm.stats", time: new Date(), host: "h", events: 5 },
   * ]);
   * frames.length; // 3
   * ```
   */
  build(topic: string, events: readonly Event[]): Uint8Array[] {
    const first = this.#positions.get(topic) ?? 0;
    this.#positions.set(topic, first + events.length);
    const header = encodeHeader({ flags: 0, count: events.length, source: this.#source, first });
    return [encoder.encode(topic), header, encodeBatch(events)];
  }
}
