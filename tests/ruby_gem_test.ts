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

async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(command, {
    args,
    cwd: gemDir,
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
    const out = await run("rspec", ["--format", "progress"]);
    assert.ok(out.success, `rspec failed:\n${out.text}`);
    const summary = out.text.match(/(\d+) examples?, 0 failures/);
    assert.ok(summary, `no RSpec summary in:\n${out.text}`);
    assert.ok(Number(summary[1]) >= 50, `only ${summary[1]} examples ran`);
  },
});

Deno.test({
  name: "ruby gem: gem build makes a gem of Ruby files (and its license) that installs and loads",
  ignore,
  ...opts,
  fn: async () => {
    assert.equal(missing, undefined, missing);
    const dir = await Deno.makeTempDir({ prefix: "eventstorm-gem-" });
    try {
      const gem = `${dir}/eventstorm.gem`;
      const built = await run("gem", ["build", "eventstorm.gemspec", "--output", gem]);
      assert.ok(built.success, `gem build failed:\n${built.text}`);
      // The rule: ffi-rzmq and bson are the dependencies, no native extension of our own.
      const contents = await run("ruby", [
        "-e",
        'require "rubygems/package"; spec = Gem::Package.new(ARGV[0]).spec; ' +
        "puts spec.extensions.size; puts spec.files",
        gem,
      ]);
      assert.ok(contents.success, contents.text);
      const [extensions, ...files] = contents.text.trim().split("\n");
      assert.equal(extensions, "0", contents.text);
      assert.ok(files.includes("lib/eventstorm/emitter.rb"), contents.text);
      assert.ok(files.includes("LICENSE"), contents.text);
      assert.deepEqual(files.filter((file) => !/\.(rb|md|gemspec)$|^LICENSE$/.test(file)), []);
      const system = (await run("gem", ["env", "gempath"])).text.trim();
      const env = { GEM_HOME: `${dir}/home`, GEM_PATH: `${dir}/home:${system}` };
      const installed = await run("gem", ["install", "--local", "--no-document", gem], env);
      assert.ok(installed.success, `gem install failed:\n${installed.text}`);
      const loaded = await run("ruby", [
        "-e",
        'gem "eventstorm"; require "eventstorm/rack"; ' +
        "puts $LOADED_FEATURES.grep(/eventstorm\\.rb$/); puts Eventstorm::Emitter.name",
      ], env);
      assert.ok(loaded.success, `the installed gem does not load:\n${loaded.text}`);
      assert.ok(loaded.text.includes(`${dir}/home/gems/eventstorm-`), loaded.text);
      assert.match(loaded.text, /Eventstorm::Emitter/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
