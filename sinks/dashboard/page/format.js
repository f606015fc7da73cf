// @ts-check
/// <reference lib="dom" />
// How the page writes numbers: counts, bytes, durations, percentages.

/**
 * @param {number | null | undefined} value
 * @returns {string} `950`, `12.3k`, `4.56M`
 */
export function fmtCount(value) {
  if (value == null || !Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs === 0) return "0";
  if (abs < 10) return String(Math.round(value * 100) / 100);
  if (abs < 1000) return String(Math.round(value * 10) / 10);
  if (abs < 1e6) return (value / 1e3).toFixed(abs < 1e4 ? 2 : 1) + "k";
  if (abs < 1e9) return (value / 1e6).toFixed(abs < 1e7 ? 2 : 1) + "M";
  return (value / 1e9).toFixed(2) + "G";
}

/**
 * @param {number | null | undefined} value
 * @returns {string} `12,345`
 */
export function fmtInt(value) {
  return value == null ? "–" : Math.round(value).toLocaleString("en-US");
}

/**
 * @param {number | null | undefined} value
 * @returns {string} `512 B`, `1.5 MiB`
 */
export function fmtBytes(value) {
  if (value == null || !Number.isFinite(value)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return (unit === 0 ? Math.round(value) : value.toFixed(1)) + " " + units[unit];
}

/**
 * @param {number | null | undefined} value milliseconds
 * @returns {string} `12.5 ms`, `2.10 s`
 */
export function fmtMs(value) {
  if (value == null) return "–";
  if (value >= 1000) return (value / 1000).toFixed(value >= 10_000 ? 0 : 2) + " s";
  return (value >= 100 ? Math.round(value) : Math.round(value * 10) / 10) + " ms";
}

/**
 * @param {number | null | undefined} value
 * @returns {string} `42.0 %`
 */
export function fmtPercent(value) {
  return value == null ? "–" : value.toFixed(1) + " %";
}

/**
 * @param {number} ms
 * @returns {string} `5 s ago`, `3 min ago`
 */
export function fmtAgo(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}

/**
 * @param {number} ms
 * @returns {string} `1 h`, `5 min`, `30 s`
 */
export function fmtDuration(ms) {
  const s = Math.round(ms / 1000);
  return s % 3600 === 0 && s >= 3600
    ? s / 3600 + " h"
    : s % 60 === 0 && s >= 60
    ? s / 60 + " min"
    : s + " s";
}

/** @typedef {(value: number | null | undefined) => string} Format */

/** How a chart's `data-unit` writes its values. @type {Record<string, Format>} */
export const UNIT_FORMAT = {
  "events/s": (v) => fmtCount(v) + "/s",
  "req/s": (v) => fmtCount(v) + "/s",
  "B/s": (v) => fmtBytes(v) + "/s",
  "ms": fmtMs,
  "%": (v) => (v == null ? "–" : Math.round(v) + " %"),
  "per min": (v) => fmtCount(v),
};
