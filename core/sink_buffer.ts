/**
 * The sink runner's buffer between the collector and the backend: events, or
 * whole messages counted by their events, taken out in batches by count and bytes.
 *
 * @module
 */
import type { Event } from "./event.ts";
import { sliceMessage, type WireMessage } from "./protocol.ts";
import { Queue } from "./queue.ts";

/**
 * What the runner holds between the collector and the backend: events, or whole
 * messages counted by their events. Every count here is in events; `bytes` are
 * the BSON body bytes they came from (an event's share of its message's).
 */
export interface Held<Unit, Item> {
  /** Events held. */
  readonly length: number;
  /** Body bytes held. */
  readonly bytes: number;
  /** Holds events `[from, to)` of `unit`, `bytes` in all. */
  hold(unit: Unit, from: number, to: number, bytes: number): void;
  /**
   * Removes from the front, oldest first, `count` events, and more until at least
   * `bytes` bytes went too (or none is left).
   */
  take(count: number, bytes?: number): Taken<Item>;
  /** Puts a taken batch back at the front. */
  putBack(items: Item[], count: number, bytes: number): void;
  /** Whether any item held passes `predicate`. */
  some(predicate: (item: Item) => boolean): boolean;
  clear(): void;
}

/** Events or messages taken out of a {@linkcode Held}. */
export interface Taken<Item> {
  items: Item[];
  count: number;
  bytes: number;
}

export class HeldEvents implements Held<Event[], Event> {
  readonly #queue = new Queue<Event>();
  /** Each event's bytes, in step with `#queue`. */
  readonly #sizes = new Queue<number>();
  #bytes = 0;
  get length(): number {
    return this.#queue.length;
  }
  get bytes(): number {
    return this.#bytes;
  }
  hold(events: Event[], from: number, to: number, bytes: number): void {
    const each = to > from ? bytes / (to - from) : 0;
    for (let i = from; i < to; i++) {
      this.#queue.push(events[i]);
      this.#sizes.push(each);
    }
    this.#bytes += bytes;
  }
  take(count: number, bytes = 0): Taken<Event> {
    let n = Math.min(count, this.#queue.length);
    const sizes = this.#sizes.shiftMany(n);
    let taken = 0;
    for (const size of sizes) taken += size;
    while (taken < bytes && this.#sizes.length > 0) {
      taken += this.#sizes.shift()!;
      n++;
    }
    const items = this.#queue.shiftMany(n);
    this.#bytes = this.#queue.length > 0 ? Math.max(0, this.#bytes - taken) : 0;
    return { items, count: items.length, bytes: taken };
  }
  putBack(items: Event[], _count: number, bytes: number): void {
    this.#queue.unshiftMany(items);
    const each = items.length > 0 ? bytes / items.length : 0;
    this.#sizes.unshiftMany(items.map(() => each));
    this.#bytes += bytes;
  }
  some(predicate: (item: Event) => boolean): boolean {
    return this.#queue.some(predicate);
  }
  clear(): void {
    this.#queue.clear();
    this.#sizes.clear();
    this.#bytes = 0;
  }
}

export class HeldMessages implements Held<WireMessage, WireMessage> {
  readonly #queue = new Queue<WireMessage>();
  #events = 0;
  #bytes = 0;
  get length(): number {
    return this.#events;
  }
  get bytes(): number {
    return this.#bytes;
  }
  hold(message: WireMessage, from: number, to: number): void {
    const held = sliceMessage(message, from, to);
    this.#queue.push(held);
    this.#events += to - from;
    this.#bytes += held.body.length;
  }
  take(count: number, bytes = 0): Taken<WireMessage> {
    const items: WireMessage[] = [];
    let taken = 0, takenBytes = 0;
    while ((taken < count || takenBytes < bytes) && this.#queue.length > 0) {
      const head = this.#queue.shift()!;
      // Whole documents: as many as the count asks, or as the bytes do at the head's mean size.
      const byBytes = takenBytes < bytes
        ? Math.ceil((bytes - takenBytes) / (head.body.length / head.count))
        : 0;
      const room = Math.max(count - taken, byBytes, 1);
      let part = head;
      if (head.count > room) {
        part = sliceMessage(head, 0, room);
        this.#queue.unshiftMany([sliceMessage(head, room, head.count)]);
      }
      items.push(part);
      taken += part.count;
      takenBytes += part.body.length;
    }
    this.#events -= taken;
    this.#bytes -= takenBytes;
    return { items, count: taken, bytes: takenBytes };
  }
  putBack(items: WireMessage[], count: number, bytes: number): void {
    this.#queue.unshiftMany(items);
    this.#events += count;
    this.#bytes += bytes;
  }
  some(predicate: (item: WireMessage) => boolean): boolean {
    return this.#queue.some(predicate);
  }
  clear(): void {
    this.#queue.clear();
    this.#events = 0;
    this.#bytes = 0;
  }
}
