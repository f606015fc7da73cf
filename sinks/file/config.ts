/**
 * The file sink's flags and the backend options they give.
 *
 * @module
 */
import {
  choiceFlag,
  type FlagSpec,
  type FlagValues,
  parseByteSize,
  parseDuration,
  UsageError,
} from "@eventstorm/core/cli";
import type { FileBackendOptions } from "./backend.ts";

/** The file sink's own flags.
 *
 * @example
 * ```ts
 * import { FILE_SINK_FLAGS } from "@eventstorm/sink-file";
 * Object.keys(FILE_SINK_FLAGS); // ["dir", "format", "gzip", "max-bytes", "max-age"]
 * ```
 */
export const FILE_SINK_FLAGS = {
  dir: {
    type: "string",
    value: "DIR",
    help: "archive directory, one subdirectory per event type (required)",
  },
  format: {
    type: "string",
    value: "FORMAT",
    default: "bson",
    help: "bson (documents back to back, for bsondump/mongorestore) or jsonl (Extended JSON)",
  },
  gzip: { type: "boolean", help: "compress segments (.gz)" },
  "max-bytes": {
    type: "string",
    value: "SIZE",
    default: "64MiB",
    help: "roll a segment before its content (uncompressed) would pass this",
  },
  "max-age": {
    type: "string",
    value: "DURATION",
    default: "1h",
    help: "roll segments at multiples of this (UTC), so 1h segments end on the hour",
  },
} as const satisfies Record<string, FlagSpec>;

/**
 * Reads the file sink's flags into backend options; throws {@linkcode UsageError}
 * for a bad value.
 *
 * @example
 * ```ts
 * import { fileBackendOptions } from "@eventstorm/sink-file";
 * fileBackendOptions({ dir: "/tmp/a", format: "jsonl", gzip: true, "max-bytes": "1MiB", "max-age": "10m" });
 * ```
 */
export function fileBackendOptions(values: FlagValues<typeof FILE_SINK_FLAGS>): FileBackendOptions {
  const dir = values.dir;
  if (dir === undefined || dir.trim() === "") throw new UsageError("--dir is required");
  const format = choiceFlag(values, "format", ["bson", "jsonl"]);
  const maxBytes = parseByteSize(values["max-bytes"], "max-bytes");
  if (maxBytes < 1) throw new UsageError("--max-bytes must be at least 1 byte");
  const maxAgeMs = parseDuration(values["max-age"], "max-age", { span: true });
  if (maxAgeMs < 1000) throw new UsageError("--max-age must be at least 1s");
  return {
    dir: dir.replace(/(.)\/+$/, "$1"),
    format,
    gzip: values.gzip,
    maxBytes,
    maxAgeMs,
  };
}
