import assert from "node:assert/strict";
import { UsageError } from "@eventstorm/core/cli";
import { command } from "./main.ts";
import { parseListen } from "./config.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const MAIN = new URL("./main.ts", import.meta.url).pathname;

Deno.test("parseListen", () => {
  assert.deepEqual(parseListen("127.0.0.1:8080"), { hostname: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseListen("localhost:0"), { hostname: "localhost", port: 0 });
  assert.deepEqual(parseListen("[::1]:9000"), { hostname: "::1", port: 9000 });
  assert.deepEqual(parseListen(":8080"), { hostname: "0.0.0.0", port: 8080 });
  for (const bad of ["8080", "host:", "host:99999", "a b:1", "[::1:80", "::1:80"]) {
    assert.throws(() => parseListen(bad), UsageError, bad);
  }
});

Deno.test("the dashboard command refuses bad flags with a usage error", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /unknown flag '--bogus'/],
    [["--listen", "0.0.0.0:0"], /not a loopback address: give --token/],
    [["--listen", "127.0.0.1:0", "--token", "short"], /16 characters/],
    [["--listen", "nonsense"], /--listen must be HOST:PORT/],
    [["--history", "soon"], /--history must be a duration/],
    [["--history", "10s"], /--history must be from 1m/],
    [["--window", "1s"], /--window must be from 6s/],
    [["--db", "/nonexistent/eventstorm.db"], /no such store file/],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(() => command.main(args), (error: Error) => {
      assert.ok(error instanceof UsageError, `${args.join(" ")}: ${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("eventstorm sink dashboard: exit 2 for a bad flag, help with 0", opts, async () => {
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--listen", "0.0.0.0:0"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /^error: .*--token/);
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(help.code, 0);
  assert.match(new TextDecoder().decode(help.stdout), /--listen HOST:PORT/);
});

Deno.test(
  "eventstorm sink dashboard prints its address, serves, stops on SIGTERM",
  opts,
  async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "--listen",
        "127.0.0.1:0",
        "--token",
        "0123456789abcdef",
        "--from",
        ">tcp://127.0.0.1:1",
        "--stats-interval",
        "0s",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const url = text.match(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=0123456789abcdef)$/m)
      ?.[1];
    assert.ok(url, `address line in ${JSON.stringify(text)}`);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    await page.body?.cancel();
    child.kill("SIGTERM");
    const status = await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    const stderr = new TextDecoder().decode(
      await new Response(child.stderr).arrayBuffer(),
    );
    assert.equal(status.code, 0, stderr);
    assert.match(stderr, /sink dashboard: .*received 0, lost on wire 0/);
  },
);
