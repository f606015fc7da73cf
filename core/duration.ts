/**
 * Durations as people write them in flags: `250ms`, `10s`, `5m`, `1h`, `30d`.
 *
 * @module
 */
import { UsageError } from "./flags.ts";

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a duration into milliseconds. Throws {@linkcode UsageError} naming the flag
 * (when given) for anything else.
 *
 * @example
 * ```ts
 * import { parseDuration } from "@eventstorm/core/cli";
 * parseDuration("10s"); // 10000
 * parseDuration("1.5h"); // 5400000
 * ```
 */
export function parseDuration(text: string, flag?: string): number {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/);
  if (!match) {
    const where = flag ? `--${flag} ` : "";
    throw new UsageError(
      `${where}must be a duration like 500ms, 10s, 5m, 1h or 30d, got '${text}'`,
    );
  }
  return Math.round(Number(match[1]) * UNITS[match[2]]);
}

/**
 * Formats milliseconds the short way back (`1500` → `1.5s`).
 *
 * @example
 * ```ts
 * import { formatDuration } from "@eventstorm/core/cli";
 * formatDuration(90_000); // "1.5m"
 * ```
 */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"]) {
    if (ms >= UNITS[unit]) return `${Number((ms / UNITS[unit]).toFixed(2))}${unit}`;
  }
  return `${ms}ms`;
}
