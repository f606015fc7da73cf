// @ts-check
/// <reference lib="dom" />
// Series out of frames: what a range shows, which names get a line, per-minute sums.

/** @typedef {import("../frame.ts").Frame} Frame */

/**
 * The frames of the last `rangeSeconds` (all of them for 0).
 * @param {Frame[]} frames
 * @param {number} rangeSeconds
 * @returns {Frame[]}
 */
export function visibleFrames(frames, rangeSeconds) {
  if (frames.length === 0 || rangeSeconds === 0) return frames.slice();
  const end = frames[frames.length - 1].t;
  const start = end - rangeSeconds * 1000;
  let i = frames.length - 1;
  while (i > 0 && frames[i - 1].t >= start) i--;
  return frames.slice(i);
}

/**
 * Names ranked by `weight(frame, name)` summed over `list`, heaviest first.
 * @param {Frame[]} list
 * @param {(frame: Frame) => string[]} names
 * @param {(frame: Frame, name: string) => number | undefined} weight
 * @returns {string[]}
 */
export function rankNames(list, names, weight) {
  /** @type {Map<string, number>} */
  const totals = new Map();
  for (const frame of list) {
    for (const name of names(frame)) {
      totals.set(name, (totals.get(name) ?? 0) + (weight(frame, name) ?? 0));
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([n]) => n);
}

/**
 * `count` columns of per-minute sums of `read(frame)`, with their minutes. A
 * frame of a minute or more (history, or live frames merged as they aged) gives
 * its count per minute, held until the next point: the chart's area over its
 * span is still its total.
 * @param {Frame[]} list
 * @param {(frame: Frame) => number[]} read
 * @param {number} count
 * @returns {{ x: number[], columns: number[][] }}
 */
export function perMinute(list, read, count) {
  /** @type {Map<number, number[]>} */
  const buckets = new Map();
  for (const frame of list) {
    const minute = Math.floor(frame.t / 60_000) * 60;
    let sums = buckets.get(minute);
    if (!sums) buckets.set(minute, sums = new Array(count).fill(0));
    const values = read(frame);
    const long = frame.dt > 60;
    for (let i = 0; i < count; i++) sums[i] += long ? (values[i] * 60) / frame.dt : values[i];
  }
  const x = [...buckets.keys()];
  const columns = Array.from(
    { length: count },
    (_, i) => x.map((m) => /** @type {number[]} */ (buckets.get(m))[i]),
  );
  if (x.length) {
    // Steps hold a value until the next point: one more closes the current minute.
    x.push(x[x.length - 1] + 60);
    for (const column of columns) column.push(column[column.length - 1]);
  }
  return { x, columns };
}

/**
 * Frames the sink merged into a coarser one as they aged.
 * @typedef {{ from: number, to: number, frame: Frame }} Rollup
 */

/**
 * Puts each merged frame in place of the frames it was made of (those with
 * `from <= t < to`), as the sink did with the frames it keeps, so a page open
 * for days holds what a new page is sent, not a frame per second.
 * @param {Frame[]} frames oldest first, changed in place
 * @param {Rollup[]} rollups
 */
export function applyRollups(frames, rollups) {
  for (const { from, to, frame } of rollups) {
    let i = 0;
    while (i < frames.length && frames[i].t < from) i++;
    let j = i;
    while (j < frames.length && frames[j].t < to) j++;
    frames.splice(i, j - i, frame);
  }
}

/**
 * Drops the frames more than `historyMs` older than the newest, as the sink does.
 * @param {Frame[]} frames oldest first, changed in place
 * @param {number} historyMs
 */
export function trimFrames(frames, historyMs) {
  if (frames.length === 0) return;
  const horizon = frames[frames.length - 1].t - historyMs;
  let drop = 0;
  while (drop < frames.length && frames[drop].t < horizon) drop++;
  if (drop) frames.splice(0, drop);
}
