/**
 * `eventstorm sink file`: archive events into rolling segment files.
 *
 * @module
 */
import { type Command, formatBytes, runCommand } from "@eventstorm/core/cli";
import { sinkCommand } from "@eventstorm/core/sink";
import { FileBackend } from "./backend.ts";
import { FILE_SINK_FLAGS, fileBackendOptions } from "./config.ts";

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
