/**
 * `eventstorm sink mongodb`: stores events in MongoDB.
 *
 * @example
 * ```sh
 * deno run -A sinks/mongodb/main.ts --from '>tcp://127.0.0.1:5556' --ttl 30d
 * ```
 *
 * @module
 */
import { runCommand } from "@eventstorm/core/cli";
import { runSinkMain } from "@eventstorm/core/sink";
import { MongoBackend } from "./backend.ts";
import { mongoConfigFromFlags, MONGODB_FLAGS } from "./config.ts";

const EPILOG = `Examples:
  eventstorm sink mongodb --url mongodb://db1:27017 --ttl 30d
  eventstorm sink mongodb --collection events --topic http. --write-concern majority,journal

Each event keeps its _id, so a retried batch or a replay is stored once. Field names
starting with '$' get '＄' (U+FF04) instead, and '.' in names becomes '_'.`;

/**
 * Runs the MongoDB sink with command-line `args`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * import { mongodbMain } from "@eventstorm/sink-mongodb/main";
 * await mongodbMain(["--url", "mongodb://127.0.0.1:27017", "--db", "events"]);
 * ```
 */
export function mongodbMain(args: string[]): Promise<number> {
  return runSinkMain(args, {
    name: "mongodb",
    summary: "store events in MongoDB",
    flags: MONGODB_FLAGS,
    epilog: EPILOG,
    makeBackend: (values) => MongoBackend.open(mongoConfigFromFlags(values)),
  });
}

if (import.meta.main) await runCommand(() => mongodbMain(Deno.args));
