/**
 * Index ranges as flat sorted `[from, to)` pairs: the gaps a sink saves with a
 * stream position (`StreamPosition.gaps`) and the late copies it holds.
 *
 * @module
 */

/**
 * `ranges` with `[from, to)` added, merged with those it touches.
 *
 * @example
 * ```ts ignore
 * addRange([0, 5, 10, 20], 5, 8); // [0, 8, 10, 20]
 * ```
 */
export function addRange(ranges: readonly number[], from: number, to: number): number[] {
  const result: number[] = [];
  let i = 0;
  for (; i < ranges.length && ranges[i + 1] < from; i += 2) result.push(ranges[i], ranges[i + 1]);
  for (; i < ranges.length && ranges[i] <= to; i += 2) {
    from = Math.min(from, ranges[i]);
    to = Math.max(to, ranges[i + 1]);
  }
  result.push(from, to);
  for (; i < ranges.length; i += 2) result.push(ranges[i], ranges[i + 1]);
  return result;
}

/**
 * `ranges` without `[from, to)`: a range it cuts through is split in two.
 *
 * @example
 * ```ts ignore
 * removeRange([100, 200], 120, 121); // [100, 120, 121, 200]
 * ```
 */
export function removeRange(ranges: readonly number[], from: number, to: number): number[] {
  const result: number[] = [];
  for (let i = 0; i < ranges.length; i += 2) {
    const a = ranges[i], b = ranges[i + 1];
    if (b <= from || a >= to) {
      result.push(a, b);
      continue;
    }
    if (a < from) result.push(a, from);
    if (to < b) result.push(to, b);
  }
  return result;
}

/**
 * Whether `index` lies in one of `ranges`.
 *
 * @example
 * ```ts ignore
 * inRanges([10, 20], 19); // true
 * ```
 */
export function inRanges(ranges: readonly number[], index: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) {
    if (index >= ranges[i] && index < ranges[i + 1]) return true;
  }
  return false;
}

/**
 * Whether two range lists are the same.
 *
 * @example
 * ```ts ignore
 * sameRanges([1, 2], [1, 2]); // true
 * ```
 */
export function sameRanges(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/**
 * The indexes in both `a` and `b`.
 *
 * @example
 * ```ts ignore
 * intersectRanges([0, 10, 20, 30], [5, 25]); // [5, 10, 20, 25]
 * ```
 */
export function intersectRanges(a: readonly number[], b: readonly number[]): number[] {
  const result: number[] = [];
  let i = 0, j = 0;
  while (i < a.length && j < b.length) {
    const from = Math.max(a[i], b[j]), to = Math.min(a[i + 1], b[j + 1]);
    if (from < to) result.push(from, to);
    if (a[i + 1] < b[j + 1]) i += 2;
    else j += 2;
  }
  return result;
}

/**
 * How many indexes `ranges` hold.
 *
 * @example
 * ```ts ignore
 * rangesLength([0, 10, 20, 25]); // 15
 * ```
 */
export function rangesLength(ranges: readonly number[]): number {
  let length = 0;
  for (let i = 0; i < ranges.length; i += 2) length += ranges[i + 1] - ranges[i];
  return length;
}
