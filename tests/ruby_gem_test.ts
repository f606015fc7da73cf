/**
 * The Ruby gem (sources/ruby) is tested by its own RSpec suite, which drives the project's
 * real router, tap, emit and keygen, and Puma. This test runs that suite and checks that
 * `gem build` makes a gem that installs and loads. scripts/clients.sh installs Ruby, the
 * gems and Puma from Debian; without them the tests are skipped with the reason, or fail
 * when CI=true.
 *
 * @module
 */
import assert from "node:assert/strict";

const opts = { sanitizeOps: false, sanitizeResources: false };
const CI = Deno.env.get("CI") === "true";
const gemDir = new URL("../sources/ruby/", import.meta.url).pathname;
const decoder = new TextDecoder();

async function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  cwd = gemDir,
) {
  const out = await new Deno.Command(command, {
    args,
    cwd,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    success: out.success,
    text: decoder.decode(out.stdout) + decoder.decode(out.stderr),
  };
}

async function unavailable(): Promise<string | undefined> {
  try {
    const script = new URL("../scripts/clients.sh", import.meta.url).pathname;
    const out = await run("bash", [script]);
    return out.success ? undefined : out.text.trim();
  } catch (error) {
    return `cannot run scripts/clients.sh: ${error instanceof Error ? error.message : error}`;
  }
}

const missing = await unavailable();
if (missing && !CI) console.warn(`ruby_gem_test: skipping, ${missing}`);
const ignore = missing !== undefined && !CI;

Deno.test({
  name: "ruby gem: the RSpec suite passes (vectors, emitter, collector, router, CURVE, Rack)",
  ignore,
  ...opts,
  fn: async () => {
    assert.equal(missing, undefined, missing);
    // rake spec builds the C writer (ext/eventstorm) into lib/ first, as gem install does.
    const out = await run("rake", ["spec", "SPEC_OPTS=--format progress"]);
    assert.ok(out.success, `rspec failed:\n${out.text}`);
    const summary = out.text.match(/(\d+) examples?, 0 failures/);
    assert.ok(summary, `no RSpec summary in:\n${out.text}`);
    assert.ok(Number(summary[1]) >= 50, `only ${summary[1]} examples ran`);
  },
});

Deno.test({
  name: "ruby gem: the C writer's specs pass under ASan and UBSan (0 reports)",
  ignore,
  ...opts,
  fn: async () => {
    assert.equal(missing, undefined, missing);
    const dir = await Deno.makeTempDir({ prefix: "eventstorm-asan-" });
    try {
      const sanitize = "-fsanitize=address,undefined -fno-sanitize-recover=undefined";
      const configured = await run("ruby", [`${gemDir}ext/eventstorm/extconf.rb`], {}, dir);
      assert.ok(configured.success, configured.text);
      const made = await run(
        "make",
        [
          `CFLAGS=-O1 -g -fPIC -fno-omit-frame-pointer ${sanitize}`,
          `LDFLAGS=${sanitize}`,
        ],
        {},
        dir,
      );
      assert.ok(made.success, made.text);
      await Deno.mkdir(`${dir}/lib/eventstorm`, { recursive: true });
      await Deno.rename(`${dir}/native.so`, `${dir}/lib/eventstorm/native.so`);
      const runtime = async (name: string) =>
        (await run("gcc", [`-print-file-name=${name}`])).text.trim();
      // Ruby itself is not instrumented: the runtimes go in first, and its leaks at exit are its own.
      const env = {
        LD_PRELOAD: `${await runtime("libasan.so")}:${await runtime("libubsan.so")}`,
        ASAN_OPTIONS: "detect_leaks=0",
        UBSAN_OPTIONS: "print_stacktrace=1",
        CI: "true",
      };
      const loadPath = ["-I", `${dir}/lib`, "-I", `${gemDir}lib`];
      const loaded = await run("ruby", [
        ...loadPath,
        "-e",
        'require "eventstorm/rack"; puts $LOADED_FEATURES.grep(/eventstorm.native\\.so$/)',
      ], env);
      assert.equal(loaded.text.trim(), `${dir}/lib/eventstorm/native.so`, loaded.text);
      const out = await run("ruby", [
        ...loadPath,
        "-S",
        "rspec",
        "spec/native_spec.rb",
        "spec/rack_spec.rb",
        "-e",
        "native writer",
        "-e",
        "byte for byte",
      ], env);
      assert.ok(out.success, `rspec under ASan failed:\n${out.text}`);
      const ran = out.text.match(/(\d+) examples?, 0 failures/);
      assert.ok(ran && Number(ran[1]) >= 6, `not every spec of the C writer ran:\n${out.text}`);
      assert.doesNotMatch(out.text, /AddressSanitizer|runtime error/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "ruby gem: gem build makes a gem that installs and loads",
  ignore,
  ...opts,
  fn: async () => {
    assert.equal(missing, undefined, missing);
    const dir = await Deno.makeTempDir({ prefix: "eventstorm-gem-" });
    try {
      const gem = `${dir}/eventstorm.gem`;
      const built = await run("gem", ["build", "eventstorm.gemspec", "--output", gem]);
      assert.ok(built.success, `gem build failed:\n${built.text}`);
      const system = (await run("gem", ["env", "gempath"])).text.trim();
      const env = { GEM_HOME: `${dir}/home`, GEM_PATH: `${dir}/home:${system}` };
      const installed = await run("gem", ["install", "--local", "--no-document", gem], env);
      assert.ok(installed.success, `gem install failed:\n${installed.text}`);
      const loaded = await run("ruby", [
        "-e",
        'gem "eventstorm"; require "eventstorm/rack"; ' +
        "puts $LOADED_FEATURES.grep(/eventstorm(\\.rb|\\/native\\.so)$/); " +
        'puts Eventstorm::Emitter.name; puts "native #{Eventstorm::Rack.native?}"',
      ], env);
      assert.ok(loaded.success, `the installed gem does not load:\n${loaded.text}`);
      assert.ok(loaded.text.includes(`${dir}/home/gems/eventstorm-`), loaded.text);
      assert.match(loaded.text, /Eventstorm::Emitter/);
      // gem install compiled the C writer, and the installed gem loads it.
      assert.match(loaded.text, /\/home\/(gems|extensions)\/.*eventstorm\/native\.so/);
      assert.match(loaded.text, /native true/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
