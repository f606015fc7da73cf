/**
 * The store sink's flags and the backend config they give.
 *
 * @module
 */
import { type FlagSpec, type FlagValues, parseDuration, UsageError } from "@eventstorm/core/cli";
import { DEFAULT_DB_PATH } from "./store.ts";

/**
 * The store sink's own flags (every sink's common ones come on top).
 *
 * @example
 * ```ts
 * import { STORE_FLAGS } from "@eventstorm/sink-store";
 * Object.keys(STORE_FLAGS); // ["db", "retain"]
 * ```
 */
export const STORE_FLAGS = {
  db: { type: "string", value: "PATH", default: DEFAULT_DB_PATH, help: "database file" },
  retain: {
    type: "string",
    value: "DURATION",
    help: "delete events older than this (e.g. 30d)",
  },
} as const satisfies Record<string, FlagSpec>;

/** What the store sink's flags ask for. */
export interface StoreConfig {
  /** The database file. */
  path: string;
  /** Delete events older than this many ms; keep all when undefined. */
  retainMs?: number;
}

/**
 * Reads the store sink's flags; throws `UsageError` for a bad value.
 *
 * @example
 * ```ts
 * import { storeConfigFromFlags } from "@eventstorm/sink-store";
 * storeConfigFromFlags({ db: "events.db", retain: "30d" }); // { path: "events.db", retainMs: 2592000000 }
 * ```
 */
export function storeConfigFromFlags(values: FlagValues<typeof STORE_FLAGS>): StoreConfig {
  const retain = values.retain;
  const retainMs = retain ? parseDuration(retain, "retain", { span: true }) : undefined;
  if (retainMs !== undefined && retainMs <= 0) {
    throw new UsageError(`--retain must be longer than 0, got '${retain}'`);
  }
  return { path: values.db, retainMs };
}
