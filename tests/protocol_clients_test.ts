/**
 * docs/protocol.md promises that a C or Ruby client can be written from it alone.
 * These tests hold it to that: the page's Ruby example (taken from the page itself)
 * sends through a real router, and sources/c/examples/receive.c (libeventstorm), compiled here, counts
 * loss and replays of eventstorm's own emitters exactly as eventstorm does.
 * scripts/clients.sh installs gcc, libzmq's header and Ruby's gems; without them
 * the tests are skipped with the reason, or fail when CI=true.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Emitter } from "@eventstorm/core";
import { gather, portOf, startRouter, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const CI = Deno.env.get("CI") === "true";
const root = new URL("../", import.meta.url);
const decoder = new TextDecoder();

async function installClients(): Promise<string | undefined> {
  try {
    const script = new URL("scripts/clients.sh", root).pathname;
    const out = await new Deno.Command("bash", { args: [script], stderr: "piped" }).output();
    return out.success ? undefined : `scripts/clients.sh: ${decoder.decode(out.stderr).trim()}`;
  } catch (error) {
    return `cannot run scripts/clients.sh: ${error instanceof Error ? error.message : error}`;
  }
}

const unavailable = await installClients();
if (unavailable && !CI) console.warn(`protocol_clients_test: skipping, ${unavailable}`);
const ignore = unavailable !== undefined && !CI;

/** Compiles sources/c/examples/receive.c with libeventstorm's sources into a temporary directory. */
async function buildReceiver(dir: string): Promise<string> {
  const binary = `${dir}/receive`;
  const c = new URL("sources/c/", root).pathname;
  const library = [...Deno.readDirSync(`${c}src`)].filter((f) => f.name.endsWith(".c"))
    .map((f) => `${c}src/${f.name}`);
  const bson = decoder.decode(
    (await new Deno.Command("pkg-config", { args: ["--cflags", "--libs", "libbson-1.0"] })
      .output()).stdout,
  ).trim().split(/\s+/);
  const out = await new Deno.Command("cc", {
    args: [
      ...["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", `${c}include`, "-o", binary],
      ...[`${c}examples/receive.c`, ...library, "-lzmq", ...bson, "-lpthread"],
    ],
    stderr: "piped",
  }).output();
  assert.ok(out.success, `cc failed:\n${decoder.decode(out.stderr)}`);
  return binary;
}

/** Starts the C receiver and waits until it names its endpoint. */
async function startReceiver(binary: string, args: string[]) {
  const child = new Deno.Command(binary, { args, stdout: "piped", stderr: "piped" }).spawn();
  const reader = child.stderr.getReader();
  const first = decoder.decode((await reader.read()).value);
  reader.releaseLock();
  const endpoint = first.match(/^receive: (?:listening on|connected to) (tcp:\/\/\S+)/)?.[1];
  assert.ok(endpoint, first);
  const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return {
    /** Where the receiver's socket is, with the port it bound to `*`. */
    endpoint,
    output: async () => {
      const out = await child.output();
      clearTimeout(watchdog);
      assert.equal(out.code, 0, `receive: ${decoder.decode(out.stderr)}`);
      return decoder.decode(out.stdout);
    },
  };
}

/** The ```ruby block of docs/protocol.md, sending to `port` instead of 5555. */
async function rubyExample(port: number): Promise<string> {
  const page = await Deno.readTextFile(new URL("docs/protocol.md", root));
  const match = page.match(/```ruby\n([\s\S]*?)```/);
  assert.ok(match, "docs/protocol.md has no ruby example");
  assert.match(match[1], /tcp:\/\/127\.0\.0\.1:5555/);
  return match[1].replace("tcp://127.0.0.1:5555", `tcp://127.0.0.1:${port}`);
}

Deno.test({
  name: "the Ruby example of docs/protocol.md sends through the router to eventstorm and C",
  ignore,
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    const dir = await Deno.makeTempDir({ prefix: "protocol_clients_" });
    const r = startRouter();
    const sourcesPort = portOf(r.sources);
    const sinks = r.sinks;
    const sink = await gather({ endpoints: sinks, topics: ["app."] });
    try {
      const receiver = await startReceiver(await buildReceiver(dir), [sinks, "app.", "6"]);
      const ruby = await new Deno.Command("ruby", {
        args: ["-e", await rubyExample(sourcesPort)],
        stderr: "piped",
      }).output();
      assert.ok(ruby.success, `ruby failed:\n${decoder.decode(ruby.stderr)}`);

      const lines = (await receiver.output()).trim().split("\n");
      assert.equal(lines.length, 3, lines.join("\n"));
      assert.match(
        lines[0],
        /^app\.deploy source=[0-9a-f]{16} first=0 count=3 lost=0 duplicates=0$/,
      );
      assert.match(
        lines[1],
        /^app\.deploy source=[0-9a-f]{16} first=3 count=3 lost=0 duplicates=0$/,
      );
      assert.equal(lines[2], "total events=6 lost=0 duplicates=0 malformed=0");

      await waitFor(() => sink.events.length === 6, "6 events at the eventstorm collector");
      assert.deepEqual(sink.events.map((e) => e.version), [
        "1.1",
        "1.2",
        "1.3",
        "1.4",
        "1.5",
        "1.6",
      ]);
      for (const event of sink.events) {
        assert.equal(event.type, "app.deploy");
        assert.equal(event.host, "build1");
        assert.ok(
          event.time instanceof Date && Math.abs(Date.now() - event.time.getTime()) < 60_000,
        );
      }
      const stats = sink.collector.stats();
      assert.equal(stats.streams.length, 1, "one accounted stream, not two-frame messages");
      assert.equal(stats.lost, 0);
      assert.equal(stats.unaccounted, 0);
      assert.deepEqual(stats.malformed, {});
    } finally {
      await sink.stop();
      await r.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "sources/c/examples/receive.c counts the loss and replays of eventstorm emitters exactly",
  ignore,
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    const dir = await Deno.makeTempDir({ prefix: "protocol_clients_" });
    try {
      // 10 + 5 + 2 events delivered on http.hit; ssh.login is outside its prefix.
      const receiver = await startReceiver(await buildReceiver(dir), [
        "@tcp://127.0.0.1:*",
        "http.",
        "17",
      ]);
      const sourceId = 0x1234_5678_9abcn;
      // One stream told three times, as a source restarting from checkpoints would:
      // events 0-9; then 15-19 (10-14 lost on the way); then 18-21 (18, 19 replayed).
      for (const [start, count] of [[0, 10], [15, 5], [18, 4]]) {
        const emitter = await Emitter.open({
          endpoints: `>${receiver.endpoint}`,
          sourceId,
          positions: { "http.hit": start },
          maxEvents: 5,
        });
        for (let n = 0; n < count; n++) emitter.emit("http.hit", { n: start + n, path: "/" });
        emitter.emit("ssh.login", { user: "root" });
        await emitter.close();
        assert.equal(emitter.stats().dropped, 0);
      }
      const output = await receiver.output();
      const lines = output.trim().split("\n");
      const data = lines.filter((line) => / count=[1-9]/.test(line));
      assert.deepEqual(
        data.map((line) => line.replace(/ source=[0-9a-f]+/, "")),
        [
          "http.hit first=0 count=5 lost=0 duplicates=0",
          "http.hit first=5 count=5 lost=0 duplicates=0",
          "http.hit first=15 count=5 lost=5 duplicates=0",
          "http.hit first=18 count=4 lost=0 duplicates=2",
        ],
        output,
      );
      assert.ok(
        data.every((line) => line.includes(`source=${sourceId.toString(16).padStart(16, "0")}`)),
      );
      assert.ok(!output.includes("ssh.login"), "the prefix kept ssh.login away");
      assert.equal(lines.at(-1), "total events=17 lost=5 duplicates=2 malformed=0");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
