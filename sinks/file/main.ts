/**
 * `eventstorm sink file`: archive events into rolling segment files.
 *
 * @module
 */
import {
  type Command,
  type Flags,
  type FlagSpec,
  formatBytes,
  parseDuration,
  runCommand,
  stringFlag,
  UsageError,
} from "@eventstorm/core/cli";
import { sinkCommand } from "@eventstorm/core/sink";
import { FileBackend, type FileBackendOptions } from "./backend.ts";
import type { SegmentFormat } from "./naming.ts";
import { parseByteSize } from "./size.ts";

/** The file sink's own flags.
 *
 * @example
 * ```ts
 * import { FILE_SINK_FLAGS } from "@eventstorm/sink-file/main";
 * Object.keys(FILE_SINK_FLAGS); // ["dir", "format", "gzip", "max-bytes", "max-age"]
 * ```
 */
export const FILE_SINK_FLAGS: Record<string, FlagSpec> = {
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
};

const EPILOG = `Files:
  DIR/TYPE/2026-11-23T18-00-00Z-000001.bson[.gz]   closed segment (or .jsonl[.gz])
  DIR/TYPE/2026-11-23T19-00-00Z-000001.bson.part   segment being written
  The name is the UTC second the segment was opened and a sequence number; names of
  one type sort in the order the events were written. A file without .part is
  complete and fsynced. After a crash, the next start finalizes .part files up to
  their last complete event. One sink per DIR (DIR/.lock).
  Each event's _id is <source hex>-<topic>-<index>, set by the sink from its
  stream position (an _id the sender put is replaced). DIR/.positions keeps
  each stream's position: after a restart, a replay counts as duplicates on
  wire and is not written again, and events sent while the sink was stopped
  count as lost on wire.

Examples:
  eventstorm sink file --dir /var/lib/eventstorm/archive --gzip
  bsondump /var/lib/eventstorm/archive/http.hit/2026-11-23T18-00-00Z-000001.bson
  mongorestore --db events --collection http_hit --gzip DIR/http.hit/…bson.gz`;

/**
 * Reads the file sink's flags into backend options; throws {@linkcode UsageError}
 * for a bad value.
 *
 * @example
 * ```ts
 * import { fileBackendOptions } from "@eventstorm/sink-file/main";
 * fileBackendOptions({ dir: "/tmp/a", format: "jsonl", gzip: true, "max-bytes": "1MiB", "max-age": "10m" });
 * ```
 */
export function fileBackendOptions(values: Flags): FileBackendOptions {
  const dir = stringFlag(values, "dir");
  if (dir === undefined || dir.trim() === "") throw new UsageError("--dir is required");
  const format = stringFlag(values, "format") ?? "bson";
  if (format !== "bson" && format !== "jsonl") {
    throw new UsageError(`--format must be bson or jsonl, got '${format}'`);
  }
  const maxBytes = parseByteSize(stringFlag(values, "max-bytes") ?? "64MiB", "max-bytes");
  if (maxBytes < 1) throw new UsageError("--max-bytes must be at least 1 byte");
  const maxAgeMs = parseDuration(stringFlag(values, "max-age") ?? "1h", "max-age");
  if (maxAgeMs < 1000) throw new UsageError("--max-age must be at least 1s");
  return {
    dir: dir.replace(/(.)\/+$/, "$1"),
    format: format as SegmentFormat,
    gzip: values.gzip === true,
    maxBytes,
    maxAgeMs,
  };
}

/**
 * The file sink's command: its flags, its help and how it runs.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/sink-file/main";
 * await command.main(["--dir", "/var/lib/eventstorm/archive", "--gzip"]);
 * ```
 */
export const command: Command = sinkCommand({
  name: "file",
  summary: "archive events into rolling .bson (mongodump) or .jsonl segment files per type",
  flags: FILE_SINK_FLAGS,
  epilog: EPILOG,
  makeBackend: async (values) => {
    const options = fileBackendOptions(values);
    let lastError = "";
    const backend = await FileBackend.open({
      ...options,
      onError: (error) => {
        // A failing disk fails every tick: say it once until it changes.
        if (error.message === lastError) return;
        lastError = error.message;
        console.error(`sink file: ${error.message}`);
      },
      onClose: (segment) => {
        lastError = "";
        console.error(
          `sink file: closed ${segment.path} (${segment.documents} events, ${
            formatBytes(segment.fileBytes)
          })`,
        );
      },
    });
    for (const recovery of backend.recovered) {
      console.error(
        recovery.error
          ? `sink file: left ${recovery.part} as it is: ${recovery.error}`
          : recovery.path && recovery.documents > 0
          ? `sink file: recovered ${recovery.path} from a crash: ${recovery.documents} events kept, ${recovery.droppedBytes} torn bytes dropped`
          : recovery.path
          ? `sink file: removed ${recovery.part}, already recovered as ${recovery.path}`
          : `sink file: removed ${recovery.part}: no complete event in it`,
      );
    }
    return backend;
  },
});

if (import.meta.main) await runCommand(() => command.main(Deno.args));
