/**
 * The 2-node Cassandra cluster the cluster and fleet tests share (scripts/cassandra.sh
 * cluster): where it lives, its port, starting and stopping it, and an exclusive lock beside
 * its directory. The cluster test stops and kills its nodes, and stops the cluster under CI,
 * which a test that needs the cluster whole (the fleet test) must never see; with the lock
 * they take turns.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { runScript, type ScriptResult } from "./db_server.ts";
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

/** The nodes' CQL addresses, as a driver's contact points. */
export const CLUSTER_CONTACT_POINTS: string[] = [
  `127.0.0.1:${CLUSTER_PORT}`,
  `127.0.0.2:${CLUSTER_PORT}`,
];

/**
 * Starts the cluster, or the nodes of it that are not running (what runs is reused);
 * returns the script's output, and throws an Error with it when the start failed.
 *
 * @example
 * ```ts ignore
 * console.error(await startCluster());
 * ```
 */
export async function startCluster(): Promise<string> {
  const result = await runScript("cassandra.sh", [
    "cluster",
    "start",
    CLUSTER_DIR,
    String(CLUSTER_PORT),
    "2",
  ]);
  if (!result.ok) throw new Error(`cassandra.sh cluster start failed:\n${result.output}`);
  return result.output;
}

/**
 * Stops every node of the cluster.
 *
 * @example
 * ```ts ignore
 * const result = await stopCluster();
 * ```
 */
export function stopCluster(): Promise<ScriptResult> {
  return runScript("cassandra.sh", ["cluster", "stop", CLUSTER_DIR]);
}

/**
 * Waits for and holds the cluster's lock until `release`.
 *
 * @example
 * ```ts ignore
 * const lock = await lockCluster();
 * try { /* use the cluster *\/ } finally { lock.release(); }
 * ```
 */
export async function lockCluster(): Promise<{ release(): void }> {
  await Deno.mkdir(dirname(CLUSTER_DIR), { recursive: true });
  const file = await Deno.open(`${CLUSTER_DIR}.lock`, { create: true, write: true });
  await file.lock(true);
  let held = true;
  return {
    release: () => {
      if (held) file.close();
      held = false;
    },
  };
}
