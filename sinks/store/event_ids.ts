/**
 * The `_id`s the sink runner gives a message's events (`eventId` in
 * `@eventstorm/core/sink`), written as ASCII bytes: the store needs them as
 * bytes, thousands a second, and no string of them.
 *
 * @module
 */
import { writeDecimal } from "@eventstorm/core/internal";
import { eventId } from "@eventstorm/core/sink";

/**
 * Writes the ids of one stream's events into a buffer of its own.
 *
 * @example
 * ```ts
 * import { EventIdBytes } from "./event_ids.ts";
 * const ids = new EventIdBytes();
 * ids.start(255n, "http.hit");
 * new TextDecoder().decode(ids.of(7)); // "ff-http.hit-7"
 * ```
 */
export class EventIdBytes {
  #bytes = new Uint8Array(64);
  #prefix = 0;
  /** Views of `#bytes` by length: a new view per event was most of the cost of an id. */
  #views: Uint8Array[] = [];
  readonly #encoder = new TextEncoder();

  /** Starts the ids of the events `source` sent on `topic`. */
  start(source: bigint, topic: string): void {
    // Everything before the index, as eventId writes it: the format lives there only.
    const prefix = eventId(source, topic, 0).slice(0, -1);
    // Room for the prefix's UTF-8 and an index of up to 2^53 (16 digits).
    const room = prefix.length * 3 + 16;
    if (room > this.#bytes.length) {
      this.#bytes = new Uint8Array(room);
      this.#views = [];
    }
    this.#prefix = this.#encoder.encodeInto(prefix, this.#bytes).written;
  }

  /** The id of the stream's event `index`; valid until the next call. */
  of(index: number): Uint8Array {
    const end = writeDecimal(this.#bytes, this.#prefix, index);
    return this.#views[end] ??= this.#bytes.subarray(0, end);
  }
}
