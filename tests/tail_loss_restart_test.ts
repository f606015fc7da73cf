// A stream's tail lost before the sink shows only in position announcements, which the
// router repeats for a while: a sink stopped cleanly after counting it must not count it
// again when it restarts (see tailLostOnce; the Cassandra sink's case is in its own test).
import { FileBackend } from "@eventstorm/sink-file";
import { MongoBackend } from "@eventstorm/sink-mongodb";
import { StoreBackend } from "@eventstorm/sink-store";
import { inCI, startServer, unavailable } from "./db_server.ts";
import { tailLostOnce } from "./restart.ts";
import { tempDir } from "./temp.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "store sink: a tail lost before a clean stop is not counted again after the restart",
  opts,
  async () => {
    await using dir = await tempDir();
    await tailLostOnce(() => Promise.resolve(new StoreBackend(`${dir.path}/events.db`)), 0x7a11n);
  },
);

Deno.test(
  "file sink: a tail lost before a clean stop is not counted again after the restart",
  opts,
  async () => {
    await using dir = await tempDir();
    await tailLostOnce(() => FileBackend.open({ dir: dir.path, format: "jsonl" }), 0x7a12n);
  },
);

// FerretDB from scripts/ferretdb.sh, as tests/mongodb_sink_test.ts starts it; ignored without it.
const missing = await unavailable("ferretdb.sh");
if (missing && !inCI) console.warn(`tail_loss_restart_test: mongodb ignored, ${missing}`);

Deno.test({
  name: "mongodb sink: a tail lost before a clean stop is not counted again after the restart",
  ...opts,
  ignore: missing !== undefined && !inCI,
  fn: async () => {
    const server = await startServer("ferretdb.sh");
    try {
      const config = {
        url: `mongodb://127.0.0.1:${server.port}`,
        db: "tail_loss",
        timeseries: false,
        timeoutMs: 1500,
      };
      await tailLostOnce(() => MongoBackend.open(config), 0x7a13n);
    } finally {
      await server.destroy();
    }
  },
});
