// Audit finding 12: a sink whose writes fail says why, once, and says when they work again.
import assert from "node:assert/strict";
import { Emitter } from "@eventstorm/core";
import { cli, freePort, tempDir, waitFor, watch } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "sink file: a failing write is said once with the system's reason, and its end too",
  opts,
  async () => {
    await using dir = await tempDir();
    // A file where the sink wants the type's directory: every write fails, as on a bad disk.
    Deno.writeTextFileSync(`${dir.path}/app.a`, "");
    const port = freePort();
    const sink = watch(cli([
      ...["sink", "file", "--dir", dir.path, "--from", `@tcp://127.0.0.1:${port}`],
      ...["--stats-interval", "0", "--stats-to", "none"],
    ]));
    const out = await Emitter.open({ endpoints: `>tcp://127.0.0.1:${port}` });
    try {
      await sink.said(/receiving from/);
      await waitFor(() => out.stats().subscriptions > 0, "the sink's subscription");
      for (let i = 0; i < 3; i++) out.emit("app.a", { i });
      await out.flush();
      await sink.said(/sink file: writing fails \(Not a directory.*\); retrying\n/);
      // Retries fail with the same error: it is not said again.
      await new Promise((resolve) => setTimeout(resolve, 500));
      Deno.removeSync(`${dir.path}/app.a`);
      await sink.said(/sink file: writing succeeds again after \d+ failed attempts\n/);
    } finally {
      await out.close();
      sink.child.kill("SIGTERM");
    }
    const { code, stderr } = await sink.finish();
    assert.equal(code, 0, stderr);
    assert.equal(stderr.match(/writing fails/g)?.length, 1, stderr);
    assert.match(stderr, /stored 3, .*write errors \d+/);
  },
);
