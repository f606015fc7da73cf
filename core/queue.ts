/**
 * A FIFO queue with O(1) push and shift, for buffers that can hold many items.
 *
 * @module
 */

/**
 * A FIFO queue. `Array.prototype.shift` moves every element, which turns a long
 * buffer drained from the front into quadratic work; this keeps a head index and
 * compacts only when the consumed part dominates.
 *
 * @example
 * ```ts
 * import { Queue } from "./queue.ts";
 * const queue = new Queue<number>();
 * queue.push(1);
 * queue.push(2);
 * queue.shift(); // 1
 * queue.length; // 1
 * queue.unshiftMany([0, 1]);
 * queue.shiftMany(2); // [0, 1]
 * ```
 */
export class Queue<T> {
  #items: T[] = [];
  #head = 0;

  /** Number of items held. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds an item at the back. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The front item without removing it; throws when empty. */
  peek(): T {
    if (this.length === 0) throw new RangeError("queue is empty");
    return this.#items[this.#head];
  }

  /** Removes and returns the front item, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined as T;
    this.#head++;
    this.#compact();
    return item;
  }

  /** Removes up to `count` items from the front and returns them, oldest first. */
  shiftMany(count: number): T[] {
    const end = Math.min(this.#items.length, this.#head + Math.max(0, count));
    const items = this.#items.slice(this.#head, end);
    this.#discardTo(end);
    return items;
  }

  /** Discards up to `count` items from the front; returns how many went. */
  drop(count: number): number {
    const end = Math.min(this.#items.length, this.#head + Math.max(0, count));
    const dropped = end - this.#head;
    this.#discardTo(end);
    return dropped;
  }

  /** Puts `items` back at the front, in their order (e.g. a batch to retry first). */
  unshiftMany(items: readonly T[]): void {
    if (items.length <= this.#head) {
      this.#head -= items.length;
      for (let i = 0; i < items.length; i++) this.#items[this.#head + i] = items[i];
    } else {
      this.#items = items.concat(this.#items.slice(this.#head));
      this.#head = 0;
    }
  }

  /** Whether any item satisfies `predicate`. */
  some(predicate: (item: T) => boolean): boolean {
    for (let i = this.#head; i < this.#items.length; i++) {
      if (predicate(this.#items[i])) return true;
    }
    return false;
  }

  /** Sum of `value(item)` over all items. */
  sum(value: (item: T) => number): number {
    let total = 0;
    for (let i = this.#head; i < this.#items.length; i++) total += value(this.#items[i]);
    return total;
  }

  /** Removes every item. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  #discardTo(end: number): void {
    // Release the references now, so dropped items do not wait for a compaction.
    this.#items.fill(undefined as T, this.#head, end);
    this.#head = end;
    this.#compact();
  }

  /** Compacts once the consumed part dominates, so memory follows what is held. */
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
