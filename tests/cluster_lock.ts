/**
 * An exclusive lock beside the shared Cassandra cluster's directory: the cluster test stops and
 * kills its nodes, and stops the cluster under CI, which a test that needs the cluster whole
 * (the fleet test) must never see; with the lock they take turns.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { buildCache } from "./helpers.ts";

/** The shared cluster's CQL port, on 127.0.0.1 and 127.0.0.2. */
export const CLUSTER_PORT: number = Number(
  Deno.env.get("EVENTSTORM_CASSANDRA_CLUSTER_PORT") ?? "29042",
);

/**
 * The shared cluster's directory: the user's cache (as scripts/cassandra.sh keeps Cassandra
 * itself), not the temporary directory, because it outlives every run on purpose so a rerun reuses
 * the cluster, and tests leave no temporary directories behind.
 */
export const CLUSTER_DIR: string = Deno.env.get("EVENTSTORM_CASSANDRA_CLUSTER_DIR") ??
  join(buildCache("EVENTSTORM_CACHE", "eventstorm"), "cassandra-cluster");

/**
 * Waits for and holds the lock of the cluster in `dir` until `release`.
 *
 * @example
 * ```ts ignore
 * const lock = await lockCluster(CLUSTER_DIR);
 * try { /* use the cluster *\/ } finally { lock.release(); }
 * ```
 */
export async function lockCluster(dir: string): Promise<{ release(): void }> {
  await Deno.mkdir(dirname(dir), { recursive: true });
  const file = await Deno.open(`${dir}.lock`, { create: true, write: true });
  await file.lock(true);
  let held = true;
  return {
    release: () => {
      if (held) file.close();
      held = false;
    },
  };
}
