/**
 * An exclusive lock beside the shared Cassandra cluster's directory: the cluster test stops and
 * kills its nodes, and stops the cluster under CI, which a test that needs the cluster whole
 * (the fleet test) must never see; with the lock they take turns.
 *
 * @module
 */

/**
 * Waits for and holds the lock of the cluster in `dir` until `release`.
 *
 * @example
 * ```ts ignore
 * const lock = await lockCluster("/tmp/eventstorm-cassandra-cluster");
 * try { /* use the cluster *\/ } finally { lock.release(); }
 * ```
 */
export async function lockCluster(dir: string): Promise<{ release(): void }> {
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
