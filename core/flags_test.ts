import assert from "node:assert/strict";
import {
  type CommandSpec,
  helpText,
  integerFlag,
  listFlag,
  parseFlags,
  stringFlag,
  topicPrefixesFlag,
  UsageError,
} from "./flags.ts";

const spec: CommandSpec = {
  name: "eventstorm test",
  summary: "exercise the flag parser",
  flags: {
    topic: { type: "string", multiple: true, value: "PREFIX", help: "topic prefix" },
    to: {
      type: "string",
      short: "t",
      value: "ENDPOINT",
      default: ">tcp://127.0.0.1:5555",
      help: "where to send",
    },
    verbose: { type: "boolean", short: "v", help: "say more" },
    count: { type: "string", help: "how many" },
  },
  epilog: "Example:\n  eventstorm test --topic http.\n",
};

function usageError(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof UsageError, String(error));
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"), "one line");
    return true;
  };
}

Deno.test("flags: values, shorts, repeats and defaults", () => {
  const parsed = parseFlags(["-t", "tcp://h:1", "--topic", "a.", "--topic=b.", "-v"], spec);
  assert.equal(parsed.help, false);
  assert.deepEqual(parsed.values, {
    topic: ["a.", "b."],
    to: "tcp://h:1",
    verbose: true,
    count: undefined,
  });
  const defaults = parseFlags([], spec);
  assert.deepEqual(defaults.values.topic, []);
  assert.equal(defaults.values.to, ">tcp://127.0.0.1:5555");
  assert.deepEqual(defaults.positionals, []);
});

Deno.test("flags: --help and -h win over everything else", () => {
  assert.equal(parseFlags(["--help"], spec).help, true);
  assert.equal(parseFlags(["--topic", "x", "-h"], spec).help, true);
});

Deno.test("flags: positionals only when the spec allows them", () => {
  assert.throws(() => parseFlags(["stray"], spec), usageError(/unexpected argument 'stray'/));
  const parsed = parseFlags(["a", "-v", "b"], { ...spec, positionals: true });
  assert.deepEqual(parsed.positionals, ["a", "b"]);
  assert.equal(parsed.values.verbose, true);
});

Deno.test("flags: unknown flags and misuse are one-line UsageErrors", () => {
  assert.throws(
    () => parseFlags(["--nope"], spec),
    usageError(/^eventstorm test: unknown flag '--nope'/),
  );
  assert.throws(() => parseFlags(["-x"], spec), usageError(/unknown flag '-x'/));
  assert.throws(() => parseFlags(["--to"], spec), usageError(/'--to.*' needs a value/));
  assert.throws(() => parseFlags(["-t"], spec), usageError(/'--to.*' needs a value/));
  assert.throws(
    () => parseFlags(["--verbose=yes"], spec),
    usageError(/'--verbose' takes no value/),
  );
  assert.throws(
    () => parseFlags(["--to", "-5"], spec),
    usageError(
      /^eventstorm test: flag '--to' needs a value; for one starting with '-', write --to=VALUE$/,
    ),
  );
  assert.equal(parseFlags(["--to=-5"], spec).values.to, "-5");
});

Deno.test("flags: topicPrefixesFlag takes dotted lower-case prefixes and everything", () => {
  assert.deepEqual(
    topicPrefixesFlag({ topic: ["", "http.", "ssh.login", "host"] }, "topic"),
    ["", "http.", "ssh.login", "host"],
  );
  for (const bad of ["HTTP.", "a b", "http..", ".http", "ü"]) {
    assert.throws(
      () => topicPrefixesFlag({ topic: ["http.", bad] }, "topic"),
      usageError(new RegExp(`^--topic '${bad.replace(".", "\\.")}' is not a topic prefix`)),
      bad,
    );
  }
});

Deno.test({
  name: "flags: a missing value names the flag without node's <value> placeholder",
  fn() {
    assert.throws(() => parseFlags(["--to"], spec), usageError(/flag '--to' needs a value$/));
  },
});

Deno.test("flags: stringFlag, listFlag", () => {
  assert.equal(stringFlag({ a: "x" }, "a"), "x");
  assert.equal(stringFlag({ a: ["x", "y"] }, "a"), "y");
  assert.equal(stringFlag({ a: true }, "a"), undefined);
  assert.equal(stringFlag({}, "a"), undefined);
  assert.deepEqual(listFlag({ a: ["x", "y"] }, "a"), ["x", "y"]);
  assert.deepEqual(listFlag({ a: "x" }, "a"), ["x"]);
  assert.deepEqual(listFlag({ a: false }, "a"), []);
  assert.deepEqual(listFlag({}, "a"), []);
});

Deno.test("flags: integerFlag checks digits and bounds", () => {
  assert.equal(integerFlag({ n: "100" }, "n", { min: 1 }), 100);
  assert.equal(integerFlag({ n: " 7 " }, "n"), 7);
  assert.equal(integerFlag({ n: "-5" }, "n", { min: -10 }), -5);
  assert.equal(integerFlag({}, "n"), undefined);
  for (const raw of ["", "1.5", "1e3", "0x10", "ten", "-1", "99999999999999999999"]) {
    assert.throws(
      () => integerFlag({ n: raw }, "n"),
      usageError(/^--n must be a whole number from 0 to \d+, got '/),
      raw,
    );
  }
  assert.throws(() => integerFlag({ n: "11" }, "n", { min: 1, max: 10 }), usageError(/1 to 10/));
  assert.throws(() => integerFlag({ n: "0" }, "n", { min: 1 }), usageError(/from 1/));
});

Deno.test("flags: helpText lists every flag with value, short, default and repeat", () => {
  const text = helpText(spec);
  const lines = text.split("\n");
  assert.equal(lines[0], "eventstorm test: exercise the flag parser");
  assert.ok(lines.includes("Usage: eventstorm test [FLAGS]"));
  const row = (flag: string) => lines.find((line) => line.includes(flag)) ?? "";
  assert.match(row("--topic"), /--topic PREFIX \(repeatable\)\s+topic prefix$/);
  assert.match(
    row("--to "),
    /-t, --to ENDPOINT\s+where to send \[default: >tcp:\/\/127\.0\.0\.1:5555\]$/,
  );
  assert.match(row("--verbose"), /-v, --verbose\s+say more$/);
  assert.match(row("--count"), /--count VALUE\s+how many$/);
  assert.match(row("--help"), /-h, --help\s+show this help$/);
  // Descriptions start in one column.
  const columns = ["topic prefix", "where to send", "say more", "show this help"].map((help) =>
    lines.find((line) => line.includes(help))!.indexOf(help)
  );
  assert.equal(new Set(columns).size, 1);
  assert.ok(text.trimEnd().endsWith("eventstorm test --topic http."));
  assert.ok(
    helpText({ ...spec, positionals: true }).includes("Usage: eventstorm test [ARGS] [FLAGS]"),
  );
});

async function runCommandIn(body: string): Promise<{ code: number; stderr: string }> {
  const module = new URL("./flags.ts", import.meta.url).href;
  const script = `import { runCommand, UsageError } from ${JSON.stringify(module)};\n${body}`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("flags: runCommand exit codes: 0, returned, 2 for usage, 1 for failure", async () => {
  const results = await Promise.all([
    runCommandIn("await runCommand(async () => {});"),
    runCommandIn("await runCommand(async () => 3);"),
    runCommandIn('await runCommand(async () => { throw new UsageError("--x is bad"); });'),
    runCommandIn('await runCommand(async () => { throw new Error("disk full"); });'),
  ]);
  assert.deepEqual(results.map((r) => r.code), [0, 3, 2, 1]);
  assert.equal(results[2].stderr, "error: --x is bad\n");
  assert.equal(results[3].stderr, "error: disk full\n");
});
