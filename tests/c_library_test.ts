/**
 * libeventstorm (sources/c), held to its promises from the outside: it builds with CMake,
 * installs with a working pkg-config file, passes its CTest suite (vectors, fuzz loop,
 * emitter, collector) plainly and under AddressSanitizer + UndefinedBehaviorSanitizer,
 * its decoder survives libFuzzer, and it talks to the project's real router both ways,
 * with and without CURVE. scripts/clients.sh installs the compilers (gcc, and clang with
 * libFuzzer), CMake, pkg-config, libzmq3-dev and libbson-dev; without them the tests are
 * skipped with the reason, or fail when CI=true.
 *
 * @module
 */
import assert from "node:assert/strict";
import { cli, finish, startRouterProcess, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const CI = Deno.env.get("CI") === "true";
const root = new URL("../", import.meta.url).pathname;
const decoder = new TextDecoder();

async function installClients(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("bash", {
      args: [`${root}scripts/clients.sh`],
      stderr: "piped",
    }).output();
    return out.success ? undefined : `scripts/clients.sh: ${decoder.decode(out.stderr).trim()}`;
  } catch (error) {
    return `cannot run scripts/clients.sh: ${error instanceof Error ? error.message : error}`;
  }
}

const unavailable = await installClients();
if (unavailable && !CI) console.warn(`c_library_test: skipping, ${unavailable}`);
const ignore = unavailable !== undefined && !CI;

/** Runs a command to completion; fails the test with its output when it fails. */
async function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const out = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
  assert.ok(out.success, `${command} ${args.join(" ")} failed:\n${text}`);
  return text;
}

const builds = new Map<string, Promise<string>>();
/** How long the libFuzzer test fuzzes the decoder. */
const LIBFUZZER_SECONDS = 30;
const buildDirs: string[] = [];
// The builds serve several tests; they go when the test file is done.
globalThis.addEventListener("unload", () => {
  for (const dir of buildDirs) Deno.removeSync(dir, { recursive: true });
});

/**
 * The ways sources/c is configured: plainly, under ASan + UBSan, and with clang for the
 * libFuzzer target (its two tests only).
 */
const FLAVOURS = {
  plain: { options: ["-DES_SANITIZE=OFF", "-DES_PACKAGE_TEST=ON"], env: {}, targets: [] },
  asan: { options: ["-DES_SANITIZE=ON"], env: {}, targets: [] },
  libfuzzer: {
    options: ["-DES_LIBFUZZER=ON", `-DES_LIBFUZZER_SECONDS=${LIBFUZZER_SECONDS}`],
    env: { CC: "clang-14" },
    targets: ["--target", "fuzz_test", "decode_fuzzer"],
  },
} as const;

/** Configures and builds sources/c once per flavour, into a temporary directory. */
function build(flavour: keyof typeof FLAVOURS): Promise<string> {
  if (!builds.has(flavour)) {
    const { options, env, targets } = FLAVOURS[flavour];
    builds.set(
      flavour,
      (async () => {
        const dir = await Deno.makeTempDir({ prefix: `eventstorm_c_${flavour}_` });
        buildDirs.push(dir);
        await run("cmake", ["-S", `${root}sources/c`, "-B", dir, ...options], env);
        await run("cmake", ["--build", dir, "-j2", ...targets]);
        return dir;
      })(),
    );
  }
  return builds.get(flavour)!;
}

/** A child process whose stdout is collected; `text()` is what it printed so far. */
function spawn(command: string, args: string[]) {
  const child = new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).spawn();
  let text = "";
  const pump = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  const errors = new Response(child.stderr).text();
  return {
    text: () => text,
    stop: async (signal: Deno.Signal = "SIGINT") => {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
      const status = await child.status;
      await pump;
      return { status, stdout: text, stderr: await errors };
    },
    wait: async () => {
      const status = await child.status;
      await pump;
      return { status, stdout: text, stderr: await errors };
    },
  };
}

/** The last `total N events, lost N, …` line of `tap --stats`. */
function tapTotals(text: string) {
  const all = [...text.matchAll(
    /total (\d+) events, lost (\d+), duplicates (\d+), malformed (\d+)/g,
  )];
  const last = all.at(-1);
  if (!last) return undefined;
  const [events, lost, duplicates, malformed] = last.slice(1).map(Number);
  return { events, lost, duplicates, malformed };
}

Deno.test({
  name: "libeventstorm builds, installs a pkg-config file an app compiles against, passes CTest",
  ignore,
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    const dir = await build("plain");
    const tests = await run("ctest", ["--test-dir", dir, "--output-on-failure"]);
    // The five of every flavour, and the package test: find_package from a fresh project.
    assert.match(tests, /100% tests passed, 0 tests failed out of 6/);
    assert.match(tests, /vectors|fuzz/);
    assert.match(tests, /package \.+ +Passed/);
    const prefix = `${dir}/prefix`;
    await run("cmake", ["--install", dir, "--prefix", prefix]);
    for (
      const file of ["include/eventstorm.h", "lib/libeventstorm.a", "lib/pkgconfig/eventstorm.pc"]
    ) {
      await Deno.stat(`${prefix}/${file}`);
    }
    await Deno.stat(`${prefix}/lib/libeventstorm.so`);
    const app = `${dir}/app.c`;
    await Deno.writeTextFile(
      app,
      `#include <eventstorm.h>
#include <stdio.h>
int main (void) {
    es_emitter_t *emitter = es_emitter_new ("@inproc://app", NULL);
    if (!emitter) { fprintf (stderr, "%s\\n", es_last_error ()); return 1; }
    int rc = es_emit_json (emitter, "app.start", "{\\"version\\": \\"1.0\\"}");
    es_emitter_stats_t stats;
    es_emitter_stats (emitter, &stats);
    printf ("rc=%d events=%llu\\n", rc, (unsigned long long) stats.events);
    es_emitter_destroy (&emitter);
    return 0;
}
`,
    );
    const env = { PKG_CONFIG_PATH: `${prefix}/lib/pkgconfig` };
    const flags = (await run("pkg-config", ["--cflags", "--libs", "eventstorm"], env)).trim();
    await run("sh", ["-c", `cc -o ${dir}/app ${app} ${flags}`], env);
    const output = await run(`${dir}/app`, [], { LD_LIBRARY_PATH: `${prefix}/lib` });
    assert.equal(output.trim(), "rc=0 events=1");

    // The README's "From C" example compiles the same way, and returns on its own.
    const readme = await Deno.readTextFile(`${root}README.md`);
    const example = readme.slice(readme.indexOf("## From C")).match(/```c\n([\s\S]*?)```/);
    assert.ok(example, "README.md has no C example under ## From C");
    await Deno.writeTextFile(`${dir}/readme.c`, example[1]);
    await run("sh", ["-c", `cc -Wall -Werror -o ${dir}/readme ${dir}/readme.c ${flags}`], env);
    const started = Date.now();
    const readmeOut = await new Deno.Command(`${dir}/readme`, {
      env: { LD_LIBRARY_PATH: `${prefix}/lib` },
      stderr: "piped",
    }).output();
    assert.equal(readmeOut.code, 0);
    assert.ok(Date.now() - started < 10_000, "the example blocked");
  },
});

Deno.test({
  name:
    `libeventstorm's decoder under libFuzzer (coverage-guided) for ${LIBFUZZER_SECONDS} s: no crash`,
  ignore,
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    const dir = await build("libfuzzer");
    const tests = await run("ctest", [
      ...["--test-dir", dir, "--output-on-failure", "-V", "-R", "fuzz_seeds|libfuzzer"],
    ]);
    assert.match(tests, /100% tests passed, 0 tests failed out of 2/);
    // Seeded from docs/vectors, it starts from valid messages and runs a million or more.
    const seeds = Number(tests.match(/fuzz: (\d+) seeds written/)?.[1]);
    assert.ok(seeds > 20, `only ${seeds} seeds`);
    const runs = Number(tests.match(/#(\d+)\s+DONE/)?.[1]);
    assert.ok(runs > 100_000, `libFuzzer ran ${runs} inputs`);
    assert.doesNotMatch(tests, /AddressSanitizer|runtime error|LeakSanitizer/);
  },
});

Deno.test({
  name: "libeventstorm's CTest suite under ASan + UBSan: 0 reports, 1,000,000 fuzzed messages",
  ignore,
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    const dir = await build("asan");
    const tests = await run("ctest", ["--test-dir", dir, "--output-on-failure", "-V"]);
    assert.match(tests, /100% tests passed, 0 tests failed out of 5/);
    assert.match(tests, /fuzz: 1000000 messages from \d+ seeds/);
    assert.match(tests, /vectors: \d+ checked, 0 failed/);
    assert.doesNotMatch(tests, /AddressSanitizer|runtime error|LeakSanitizer/);
  },
});

Deno.test({
  name:
    "C emitter → the router → tap --stats counts every event, and TypeScript emit → C collector",
  ignore,
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    const dir = await build("plain");
    const r = await startRouterProcess();
    try {
      const tap = spawn(Deno.execPath(), [
        ...["run", "-A", `${root}cli.ts`, "tap", "--from", r.sinks, "--topic", "app."],
        ...["--stats", "--interval", "200ms"],
      ]);
      await waitFor(() => tapTotals(tap.text()) !== undefined, "tap prints stats");
      // 3 runs of one C emitter process each: 3 streams, 50,000 events in all.
      const counts = [30_000, 15_000, 5_000];
      for (const count of counts) {
        const sent = await run(`${dir}/es_emit`, [r.sources, "app.c", String(count), '{"k": 1}']);
        assert.match(sent, new RegExp(`sent=${count} dropped=0 unsubscribed=0`));
      }
      await waitFor(() => tapTotals(tap.text())?.events === 50_000, "50,000 events at tap");
      const { stdout } = await tap.stop();
      assert.deepEqual(tapTotals(stdout), { events: 50_000, lost: 0, duplicates: 0, malformed: 0 });
      assert.match(stdout, /3 streams/);

      // The other way: `eventstorm emit` (TypeScript) into the C collector.
      const receiver = spawn(`${dir}/es_receive`, [r.sinks, "app.", "2000"]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const emit = cli(["emit", "--to", r.sources, "--type", "app.ts"], { stdin: "piped" });
      const writer = emit.stdin.getWriter();
      const lines = Array.from({ length: 2000 }, (_, n) => JSON.stringify({ n })).join("\n");
      await writer.write(new TextEncoder().encode(lines + "\n"));
      await writer.close();
      const emitted = await finish(emit);
      assert.equal(emitted.code, 0, emitted.stderr);
      const received = await receiver.wait();
      assert.equal(received.status.code, 0, received.stderr);
      assert.equal(
        received.stdout.trim().split("\n").at(-1),
        "total events=2000 lost=0 duplicates=0 malformed=0",
      );
    } finally {
      await r.stop();
    }
  },
});

Deno.test({
  name:
    "CURVE with eventstorm keygen keys: C emitter and C collector through an --allow-keys router",
  ignore,
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    const dir = await build("plain");
    const keys = await Deno.makeTempDir({ prefix: "eventstorm_c_keys_" });
    for (const name of ["router", "client", "stranger"]) {
      const out = await finish(cli(["keygen", `${keys}/${name}`]));
      assert.equal(out.code, 0, out.stderr);
    }
    await Deno.mkdir(`${keys}/allowed`);
    await Deno.copyFile(`${keys}/client`, `${keys}/allowed/client`);
    const r = await startRouterProcess([
      "--curve-secret",
      `${keys}/router_secret`,
      "--allow-keys",
      `${keys}/allowed`,
    ]);
    try {
      const curve = ["--curve-server", `${keys}/router`, "--curve-secret", `${keys}/client_secret`];
      const receiver = spawn(`${dir}/es_receive`, [...curve, r.sinks, "app.", "5000"]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const sent = await run(`${dir}/es_emit`, [...curve, r.sources, "app.secret", "5000"]);
      assert.match(sent, /sent=5000 dropped=0/);
      const received = await receiver.wait();
      assert.equal(received.status.code, 0, received.stderr);
      assert.equal(
        received.stdout.trim().split("\n").at(-1),
        "total events=5000 lost=0 duplicates=0 malformed=0",
      );
      // A key the router does not know gets nothing through: no subscriber ever appears.
      const stranger = [
        "--curve-server",
        `${keys}/router`,
        "--curve-secret",
        `${keys}/stranger_secret`,
      ];
      const refused = spawn(`${dir}/es_emit`, [...stranger, r.sources, "app.secret", "10"]);
      const result = await refused.wait();
      assert.equal(result.status.code, 1);
      assert.match(result.stderr, /no subscriber yet/);
      assert.match(result.stdout, /sent=0 dropped=1 /);
      const secret = (await Deno.readTextFile(`${keys}/stranger_secret`))
        .match(/secret-key = "(.{40})"/)![1];
      assert.ok(!(result.stderr + result.stdout).includes(secret), "the secret key leaked");
    } finally {
      await r.stop();
      await Deno.remove(keys, { recursive: true });
    }
  },
});
