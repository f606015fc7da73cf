// Issue 11 item 2 across a sink restart, for the sinks that need no server (store, file): see
// tests/restart.ts. The Cassandra and MongoDB cases are in their own test files.
import { StoreBackend } from "@eventstorm/sink-store";
import { lostWhileDown, replayAfterRestart, type RestartTarget } from "./restart.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function storeTarget(): Promise<RestartTarget & { dir: string }> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/events.db`;
  return {
    dir,
    open: () => Promise.resolve(new StoreBackend(path)),
    rows: async () => {
      const backend = new StoreBackend(path);
      const n = backend.store.count();
      await backend.close();
      return n;
    },
  };
}

Deno.test("store sink: a replay after a restart counts as duplicates", opts, async () => {
  const target = await storeTarget();
  await replayAfterRestart(target, 0x5701n);
  await Deno.remove(target.dir, { recursive: true });
});

Deno.test("store sink: events sent while it was down count as lost", opts, async () => {
  const target = await storeTarget();
  await lostWhileDown(target, 0x5702n);
  await Deno.remove(target.dir, { recursive: true });
});
