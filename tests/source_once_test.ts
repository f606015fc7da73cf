// Audit findings 15 and 18: a `--once` backfill that loses events must say so in its
// exit code, must not wait for ever for a receiver, and its help must not promise storage.
import assert from "node:assert/strict";
import { Collector } from "@eventstorm/core";
import { cli, finish, freePort, startRouterProcess, tempDir, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const LINE = '1.2.3.4 - - [06/Dec/2026:16:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n';

Deno.test(
  "source --once without a receiver gives up after 5s and exits 1, naming the drops",
  opts,
  async () => {
    await using dir = await tempDir();
    const log = `${dir.path}/ten.log`;
    Deno.writeTextFileSync(log, LINE.repeat(10));
    const started = Date.now();
    const to = `>tcp://127.0.0.1:${freePort()}`;
    const child = cli([
      ...["source", "nginx", "--file", log, "--once", "--to", to],
      ...["--no-checkpoint", "--stats-interval", "0"],
    ]);
    // It used to wait for ever: killed, it fails the exit code check below.
    const timer = setTimeout(() => child.kill("SIGKILL"), 40_000);
    const result = await finish(child);
    clearTimeout(timer);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /no receiver subscribed at .* for 5s; giving up \(--once\)/);
    assert.match(result.stderr, /--once: 10 events dropped unsent \(no receiver\); exit code 1/);
    // The 5s wait, then the emitter's 5s close timeout, and Deno's start.
    assert.ok(Date.now() - started < 30_000);
  },
);

Deno.test(
  "source --once with a receiver exits 0 once everything is handed over",
  opts,
  async () => {
    await using dir = await tempDir();
    const log = `${dir.path}/ten.log`;
    Deno.writeTextFileSync(log, LINE.repeat(10));
    const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*" });
    try {
      let received = 0;
      const reading = (async () => {
        for await (const batch of collector.batches()) received += batch.events.length;
      })();
      const result = await finish(cli([
        ...["source", "nginx", "--file", log, "--once", "--to", `>${collector.boundEndpoint()}`],
        ...["--no-checkpoint", "--stats-interval", "0"],
      ]));
      assert.equal(result.code, 0, result.stderr);
      assert.doesNotMatch(result.stderr, /dropped/);
      await waitFor(() => received === 10, "the 10 events");
      collector.finish({ maxMs: 100 });
      await reading;
    } finally {
      await collector.close();
    }
  },
);

Deno.test("source --help says what --once promises and how a backfill avoids drops", async () => {
  const { code, stdout } = await finish(cli(["source", "nginx", "--help"]));
  assert.equal(code, 0);
  assert.match(stdout, /--once +read the files .* then exit once a receiver has been handed every/);
  assert.match(stdout, /handed over, not yet stored/);
  assert.match(stdout, /no receiver subscribed for 5s/);
  assert.match(stdout, /sink --buffer/);
});

Deno.test(
  "a source stopped while its router is stalled says how many events may be lost, unconfirmed",
  opts,
  async () => {
    const router = await startRouterProcess();
    const collector = await Collector.open({ endpoints: router.sinks });
    let received = 0;
    const reading = (async () => {
      for await (const batch of collector.batches()) received += batch.events.length;
    })();
    const source = cli([
      ...["source", "demo", "--rate", "50000", "--to", router.sources],
      ...["--stats-interval", "0"],
    ]);
    try {
      await waitFor(() => received > 0, "the first events through the router");
      Deno.kill(router.pid, "SIGSTOP");
      // 50,000 events a second fill the kernel's loopback buffers within a second or
      // two; after that libzmq's queue holds what the close will not get out.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      source.kill("SIGTERM");
      const result = await finish(source);
      assert.equal(result.code, 0, result.stderr);
      const line = result.stderr.match(/source demo: .*/g)?.at(-1) ?? "";
      const unconfirmed = Number(line.match(/unconfirmed at close (\d+)/)?.[1]);
      assert.ok(unconfirmed > 0, result.stderr);
    } finally {
      try {
        source.kill("SIGKILL");
      } catch {
        // Already ended.
      }
      Deno.kill(router.pid, "SIGCONT");
      collector.finish({ maxMs: 100 });
      await reading;
      await collector.close();
      await router.stop();
    }
  },
);
