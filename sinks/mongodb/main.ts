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
import { type Command, runCommand } from "@eventstorm/core/cli";
import { sinkCommand } from "@eventstorm/core/sink";
import { MongoBackend } from "./backend.ts";
import { mongoConfigFromFlags, MONGODB_FLAGS } from "./config.ts";

const EPILOG = `Examples:
  eventstorm sink mongodb --url mongodb://db1:27017 --ttl 30d
  eventstorm sink mongodb --collection events --topic http. --write-concern majority,journal

Each event's _id is <source hex>-<topic>-<index>, set by the sink from its
stream position (an _id the sender put is replaced), so a retried batch or a
replay is stored once. Field names starting with '$' get '＄' (U+FF04) instead,
and '.' in names becomes '_'.`;

/**
 * The mongodb sink's command: its flags, its help and how it runs.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/sink-mongodb/main";
 * await command.main(["--url", "mongodb://127.0.0.1:27017", "--db", "events"]);
 * ```
 */
export const command: Command = sinkCommand({
  name: "mongodb",
  summary: "store events in MongoDB (or FerretDB): one collection per event type, or one for all",
  flags: MONGODB_FLAGS,
  epilog: EPILOG,
  makeBackend: (values) => MongoBackend.open(mongoConfigFromFlags(values)),
});

if (import.meta.main) await runCommand(() => command.main(Deno.args));
