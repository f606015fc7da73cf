/**
 * The three ways nginx writes the time of a request: `$time_local`,
 * `$time_iso8601` and `$msec`.
 *
 * @module
 */

const MONTH_NAMES = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

/** Month 1-12 of the English abbreviation at `text[start..start+3]`, or NaN. */
function monthAt(text: string, start: number): number {
  for (let m = 0; m < 12; m++) {
    if (text.startsWith(MONTH_NAMES[m], start)) return m + 1;
  }
  return NaN;
}

function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const code = text.charCodeAt(i) - 48;
    if (code < 0 || code > 9) return NaN;
    value = value * 10 + code;
  }
  return value;
}

/** Days from 1970-01-01 to a civil date (Howard Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) +
    dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** Epoch milliseconds of a wall-clock time at a UTC offset; month is 1-12. */
function utcMillis(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  offsetMinutes: number,
): number {
  // NaN from a non-digit fails every comparison, so it falls through to the check below.
  if (
    !(month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 &&
      second <= 60 && year >= 0 && offsetMinutes === offsetMinutes)
  ) {
    return NaN;
  }
  const days = daysFromCivil(year, month, day);
  return ((days * 24 + hour) * 60 + minute - offsetMinutes) * 60_000 + second * 1000;
}

/**
 * Milliseconds since the epoch of a `$time_local` value (`17/May/2015:08:05:32 +0000`),
 * or `NaN` when it is not one.
 *
 * @example
 * ```ts
 * import { parseTimeLocal } from "@eventstorm/source-nginx";
 * new Date(parseTimeLocal("29/Jun/2017:03:50:22 +0300")).toISOString();
 * // "2017-06-29T00:50:22.000Z"
 * ```
 */
export function parseTimeLocal(text: string): number {
  if (text.length !== 26 || text[2] !== "/" || text[6] !== "/" || text[11] !== ":") return NaN;
  const month = monthAt(text, 3);
  const sign = text[21] === "-" ? -1 : text[21] === "+" ? 1 : 0;
  if (sign === 0) return NaN;
  const offset = sign * (digits(text, 22, 2) * 60 + digits(text, 24, 2));
  return utcMillis(
    digits(text, 7, 4),
    month,
    digits(text, 0, 2),
    digits(text, 12, 2),
    digits(text, 15, 2),
    digits(text, 18, 2),
    offset,
  );
}

/**
 * Milliseconds since the epoch of a `$time_iso8601` value (`2015-05-17T08:05:32+00:00`),
 * or `NaN` when it is not one.
 *
 * @example
 * ```ts
 * import { parseTimeIso8601 } from "@eventstorm/source-nginx";
 * parseTimeIso8601("1970-01-01T01:00:01+01:00"); // 1000
 * ```
 */
export function parseTimeIso8601(text: string): number {
  if (text.length !== 25 || text[4] !== "-" || text[10] !== "T" || text[22] !== ":") return NaN;
  const sign = text[19] === "-" ? -1 : text[19] === "+" ? 1 : 0;
  if (sign === 0) return NaN;
  const offset = sign * (digits(text, 20, 2) * 60 + digits(text, 23, 2));
  return utcMillis(
    digits(text, 0, 4),
    digits(text, 5, 2),
    digits(text, 8, 2),
    digits(text, 11, 2),
    digits(text, 14, 2),
    digits(text, 17, 2),
    offset,
  );
}

/**
 * Milliseconds since the epoch of a `$msec` value (`1431849932.123`), or `NaN`.
 *
 * @example
 * ```ts
 * import { parseMsec } from "@eventstorm/source-nginx";
 * parseMsec("1431849932.123"); // 1431849932123
 * ```
 */
export function parseMsec(text: string): number {
  if (!/^\d+(?:\.\d{1,3})?$/.test(text)) return NaN;
  return Math.round(Number(text) * 1000);
}
