/**
 * `eventstorm sink store`: the embedded store, the default sink.
 *
 * @module
 */
import { type Command, runCommand, UsageError } from "@eventstorm/core/cli";
import { sinkCommand } from "@eventstorm/core/sink";
import { StoreBackend } from "./backend.ts";
import { STORE_FLAGS, storeConfigFromFlags } from "./config.ts";

/**
 * The store sink's command: its flags, its help and how it runs.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/sink-store/main";
 * await command.main(["--db", "events.db", "--retain", "30d"]);
 * ```
 */
export const command: Command = sinkCommand({
  name: "store",
  summary: "store events in an embedded SQLite file, the default (query it with eventstorm query)",
  flags: STORE_FLAGS,
  // libzmq's default queue of 1000 messages is up to 1000 batches of a source (~240 MB
  // of nginx hits) held in this process whenever reading falls behind: 298 MB RSS when
  // flooded (bench/store_sink_bench.ts --rate 0), 146 MB with 100. The sink's own
  // --buffer is what holds events through a slow disk; beyond this, the router queues.
  receiveHwm: 100,
  // SQLite's inserts take less a row in larger transactions: 4000 rows at once took 0.1-0.2 µs
  // less an event than 1000 (bench/e2e_bench.ts), for about 3 MB more held by two batches in
  // flight. A trickle still writes what is there at once: the writer never waits for a batch to fill.
  batchSize: 4000,
  epilog: `Each event's _id is <source hex>-<topic>-<index>, set by the sink from its
stream position (an _id the sender put is replaced). An event whose _id is
already stored (a replay) is not stored again and counts as a duplicate. The
file also keeps each stream's position (table streams): after a restart, a
replay counts as duplicates on wire, and events sent while the sink was
stopped count as lost on wire.

Examples:
  eventstorm sink store --db /var/lib/eventstorm/events.db --retain 30d
  eventstorm query --db /var/lib/eventstorm/events.db --type http. --since 1h --every 1m --measure count`,
  makeBackend: (values) => {
    const { path, retainMs } = storeConfigFromFlags(values);
    try {
      return Promise.resolve(new StoreBackend(path, { retainMs }));
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  },
});

if (import.meta.main) await runCommand(() => command.main(Deno.args));
