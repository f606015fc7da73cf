import assert from "node:assert/strict";
import { Emitter } from "@eventstorm/core";
import { UsageError } from "@eventstorm/core/cli";
import { command } from "./main.ts";
import { parseListen } from "./config.ts";

/**
 * What a child wrote on stdout up to its first newline (its address line), and
 * how to stop reading the rest.
 */
async function firstLine(
  stdout: Deno.ChildProcess["stdout"],
): Promise<{ text: string; stop: () => Promise<void> }> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  return { text, stop: () => reader.cancel().catch(() => {}) };
}

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
    // Linux refuses a link-local address without a scope with EINVAL, a TypeError in Deno.
    [
      ["--listen", "[fe80::1]:0", "--token", "0123456789abcdef0"],
      /^--listen \[fe80::1\]:0: \S/,
    ],
    // Every sink's flags, checked before the dashboard's own.
    [["--when-full", "sideways"], /--when-full must be drop-newest or drop-oldest/],
    [["--shutdown-timeout", "soon"], /--shutdown-timeout must be a duration/],
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
    const { text, stop } = await firstLine(child.stdout);
    const url = text.match(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=0123456789abcdef)$/m)
      ?.[1];
    assert.ok(url, `address line in ${JSON.stringify(text)}`);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    await page.body?.cancel();
    child.kill("SIGTERM");
    const status = await child.status;
    await stop();
    const stderr = new TextDecoder().decode(
      await new Response(child.stderr).arrayBuffer(),
    );
    assert.equal(status.code, 0, stderr);
    // The sink runner's line, with the dashboard's own counters at the end.
    assert.match(
      stderr,
      /sink dashboard: .*received 0, stored 0, buffered 0, dropped 0, lost on wire 0, .*, clients 0, frames \d+$/m,
    );
  },
);

Deno.test(
  "eventstorm sink dashboard runs on the sink runner: losses reach the page, SIGTERM aggregates what is on its way",
  opts,
  async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "-A", MAIN, "--listen", "127.0.0.1:0", "--from", `@tcp://127.0.0.1:${port}`],
        ...["--stats-interval", "0s", "--stats-to", "none", "--buffer", "50000"],
        ...["--batch-size", "100", "--shutdown-timeout", "5s"],
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const { text, stop } = await firstLine(child.stdout);
    const url = text.match(/^dashboard: (http:\S+)$/m)?.[1];
    assert.ok(url, `address line in ${JSON.stringify(text)}`);
    const endpoint = `>tcp://127.0.0.1:${port}`;
    const sourceId = 0xfeedn;
    const until = async (ok: () => boolean | Promise<boolean>, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    // A source that resumes past a gap: the wire says exactly 90 events were lost.
    for (const [first, count] of [[0, 10], [100, 1]]) {
      const out = await Emitter.open({
        endpoints: endpoint,
        host: "lossy1",
        sourceId,
        positions: { "app.lossy": first },
      });
      await until(() => out.stats().subscriptions > 0, "the dashboard's subscription");
      for (let i = 0; i < count; i++) out.emit("app.lossy", { i });
      await out.close();
    }
    type State = {
      state: {
        totals: { events: number; lost: number };
        sources: { label: string; lost: number; received: number }[];
      };
      frames: { lost: Record<string, number> }[];
    };
    const state = async (): Promise<State> => await (await fetch(`${url}api/state`)).json();
    await until(async () => (await state()).state.totals.lost === 90, "90 lost on the page");
    const page = await state();
    assert.deepEqual(
      page.state.sources.map(({ label, lost, received }) => ({ label, lost, received })),
      [{ label: "lossy1 (00feed)", lost: 90, received: 11 }],
    );
    assert.equal(
      page.frames.reduce((sum, frame) => sum + (frame.lost["lossy1 (00feed)"] ?? 0), 0),
      90,
      "the lost chart",
    );
    // Sent right before SIGTERM: the runner takes in what is on its way and
    // aggregates it before the final line.
    const out = await Emitter.open({ endpoints: endpoint, host: "web1" });
    await until(() => out.stats().subscriptions > 0, "the dashboard's subscription");
    for (let i = 0; i < 5000; i++) out.emit("http.hit", { status: 200, path: "/", i });
    await out.flush();
    child.kill("SIGTERM");
    await out.close();
    const status = await child.status;
    await stop();
    const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    assert.equal(status.code, 0, stderr);
    assert.match(
      stderr.trim().split("\n").at(-1)!,
      /^sink dashboard: .*; received 5011, stored 5011, buffered 0, dropped 0, lost on wire 90, malformed 0, rejected 0, .*clients 0, frames \d+$/,
    );
  },
);
