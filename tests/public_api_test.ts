// Issue 12 "Public API": @eventstorm/core is layered like denoland/std packages and
// its internals are exported from no public entry point; the root package is both
// the library and the `eventstorm` command.
import assert from "node:assert/strict";
import * as root from "../mod.ts";
import * as core from "@eventstorm/core";
import * as protocol from "@eventstorm/core/protocol";
import * as source from "@eventstorm/core/source";
import * as sink from "@eventstorm/core/sink";
import * as cli from "@eventstorm/core/cli";
import coreConfig from "../core/deno.json" with { type: "json" };
import rootConfig from "../deno.json" with { type: "json" };

const PUBLIC: Record<string, Record<string, unknown>> = {
  ".": core,
  "./protocol": protocol,
  "./source": source,
  "./sink": sink,
  "./cli": cli,
};

const PRIVATE = [
  "Queue",
  "mulberry32",
  "MessageBuilder",
  "Relay",
  "globToRegExp",
  "expandGlobs",
  "writeJsonAtomic",
  "readJsonFile",
  "probeWritable",
  "KNOWN_FLAGS",
  "setField",
  "readLines",
];

Deno.test("core's exports are ., ./protocol, ./source, ./sink, ./cli and ./internal", () => {
  assert.deepEqual(Object.keys(coreConfig.exports).sort(), [
    ".",
    "./cli",
    "./internal",
    "./protocol",
    "./sink",
    "./source",
  ]);
});

Deno.test("no public entry point of core exports an internal", () => {
  for (const [entry, module] of Object.entries(PUBLIC)) {
    for (const name of PRIVATE) {
      assert.equal(name in module, false, `${entry} exports ${name}`);
    }
  }
});

Deno.test("each entry point exports what its users need", () => {
  const needs: Record<string, string[]> = {
    ".": ["Emitter", "Collector", "ZmqContext", "makeEvent", "isEvent", "generateKeyPair"],
    "./protocol": [
      "encodeBatch",
      "decodeEvents",
      "encodeHeader",
      "parseMessage",
      "SequenceTracker",
    ],
    "./source": [
      "FileFollower",
      "CheckpointStore",
      "SyslogParser",
      "runFileSourceMain",
      "EmitterLink",
    ],
    "./sink": ["SinkRunner", "runSinkMain", "eventId"],
    "./cli": ["parseFlags", "helpText", "runCommand", "UsageError", "StatsReporter"],
  };
  for (const [entry, names] of Object.entries(needs)) {
    for (const name of names) assert.ok(name in PUBLIC[entry], `${entry} lacks ${name}`);
  }
  // The event API stays small: wire, source and sink pieces live in their subpaths.
  for (const name of ["encodeBatch", "FileFollower", "SinkRunner", "parseFlags"]) {
    assert.equal(name in core, false, `. exports ${name}`);
  }
});

Deno.test("the root package is @eventstorm/eventstorm and exports core's event API", () => {
  assert.equal(rootConfig.name, "@eventstorm/eventstorm");
  assert.deepEqual(rootConfig.exports, { ".": "./mod.ts" });
  assert.deepEqual(Object.keys(root).sort(), Object.keys(core).sort());
  assert.equal(root.Emitter, core.Emitter);
});

function runRoot(...args: string[]): Promise<Deno.CommandOutput> {
  const mod = new URL("../mod.ts", import.meta.url).pathname;
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", mod, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("the root module, run, is the eventstorm command", async () => {
  const help = await runRoot("--help");
  assert.equal(help.code, 0);
  assert.match(new TextDecoder().decode(help.stdout), /^eventstorm: event aggregation/);
  const bad = await runRoot("nope");
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /unknown command 'nope'/);
});

Deno.test("every component's ./main and every cli/ command export one Command", async () => {
  const members = rootConfig.workspace.filter((dir) => dir !== "./core");
  const modules = [
    ...await Promise.all(members.map(async (dir) => {
      const config = JSON.parse(
        await Deno.readTextFile(new URL(`../${dir}/deno.json`, import.meta.url)),
      );
      assert.equal(config.exports["./main"], "./main.ts", `${dir} exports ./main`);
      return [dir, await import(`../${dir}/main.ts`)] as const;
    })),
    ...await Promise.all(
      ["emit", "tap", "query", "demo/main", "keygen"].map(async (name) =>
        [`cli/${name}`, await import(`../cli/${name}.ts`)] as const
      ),
    ),
  ];
  assert.ok(modules.length >= 19, `${modules.length} commands`);
  for (const [where, module] of modules) {
    const command = module.command;
    assert.ok(command, `${where} exports command`);
    assert.match(command.name, /^eventstorm [a-z]+( [a-z]+)?$/, where);
    assert.ok(command.summary.length > 0 && command.summary.length <= 90, where);
    assert.ok(!command.summary.includes("\n"), where);
    assert.equal(typeof command.flags, "object", where);
    assert.equal(typeof command.main, "function", where);
    // The parts a component is made of are its command; its run function is not a second API.
    const exported = Object.keys(module).filter((name) => /Main$/.test(name));
    assert.deepEqual(exported, where === "cli/query" ? ["queryMain"] : [], where);
  }
});
