/**
 * Byte sizes as people write them in flags: `64MiB`, `500MB`, `10k`, `1048576`.
 *
 * @module
 */
import { UsageError } from "@eventstorm/core/cli";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

/**
 * Parses a byte size: a number with an optional unit. `KiB`, `MiB`, `GiB`, `TiB`
 * and the bare letters `k`, `m`, `g`, `t` are powers of 1024 (as in logrotate and
 * systemd); `KB`, `MB`, `GB`, `TB` are powers of 1000. Case does not matter.
 * Throws {@linkcode UsageError} naming the flag (when given) for anything else.
 *
 * @example
 * ```ts
 * import { parseByteSize } from "@eventstorm/sink-file";
 * parseByteSize("64MiB"); // 67108864
 * parseByteSize("1.5k"); // 1536
 * parseByteSize("2MB"); // 2000000
 * ```
 */
export function parseByteSize(text: string, flag?: string): number {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)\s*([a-z]*)$/i);
  const unit = match ? UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    const where = flag ? `--${flag} ` : "";
    throw new UsageError(`${where}must be a size like 65536, 512KiB, 64MiB or 1GB, got '${text}'`);
  }
  return Math.round(Number(match[1]) * unit);
}
