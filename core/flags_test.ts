import assert from "node:assert/strict";
import {
  choiceFlag,
  type FlagSpec,
  type FlagValues,
  helpText,
  integerFlag,
  parseByteSize,
  parseFlags,
  topicPrefixesFlag,
  UsageError,
} from "./flags.ts";

const spec = {
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
  } as const satisfies Record<string, FlagSpec>,
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
  assert.throws(
    () => parseFlags(["--constructor"], spec),
    usageError(/^eventstorm test: unknown flag '--constructor'/),
  );
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

Deno.test("flags: values are typed by their specs, each kind with its absent value", () => {
  const flags = {
    name: { type: "string", help: "optional" },
    db: { type: "string", default: "events.db", help: "with a default" },
    file: { type: "string", multiple: true, help: "repeatable" },
    to: { type: "string", multiple: true, default: [">tcp://a:1"], help: "repeatable, default" },
    print: { type: "boolean", help: "switch" },
    on: { type: "boolean", default: true, help: "switch, on by default" },
  } as const satisfies Record<string, FlagSpec>;
  const { values } = parseFlags([], { name: "eventstorm typed", summary: "typed", flags });
  // Each line would not compile with the loose `string | boolean | string[] | undefined`.
  const name: string | undefined = values.name;
  const db: string = values.db;
  const file: string[] = values.file;
  const to: string[] = values.to;
  const print: boolean = values.print;
  const on: boolean = values.on;
  assert.deepEqual({ name, db, file, to, print, on }, {
    name: undefined,
    db: "events.db",
    file: [],
    to: [">tcp://a:1"],
    print: false,
    on: true,
  });
  // A default list is copied: changing the values leaves the spec alone.
  to.push(">tcp://b:2");
  assert.deepEqual(flags.to.default, [">tcp://a:1"]);
  // @ts-expect-error a string flag without a default may be absent
  const required: string = values.name;
  // @ts-expect-error a switch is no string
  const text: string = values.print;
  assert.equal(required, undefined);
  assert.equal(text, false);
  // A function takes the values of the flags it reads, whatever else there is.
  const dbOf = (values: FlagValues<Pick<typeof flags, "db">>): string => values.db;
  assert.equal(dbOf(values), "events.db");
  const given = parseFlags(["--name", "x", "--file", "a", "--file", "b", "--print"], {
    name: "eventstorm typed",
    summary: "typed",
    flags,
  }).values;
  assert.deepEqual([given.name, given.file, given.print], ["x", ["a", "b"], true]);
});

Deno.test("flags: choiceFlag takes one of its choices, exactly, and names them otherwise", () => {
  const mode: "a" | "b" = choiceFlag({ mode: "b" }, "mode", ["a", "b"]);
  assert.equal(mode, "b");
  for (const raw of ["c", "A", " a", "", undefined]) {
    assert.throws(
      () => choiceFlag({ mode: raw }, "mode", ["a", "b", "c-d"]),
      usageError(new RegExp(`^--mode must be a or b or c-d, got '${raw}'$`)),
      String(raw),
    );
  }
});

Deno.test("flags: integerFlag checks digits and bounds", () => {
  assert.equal(integerFlag({ n: "100" }, "n", { min: 1 }), 100);
  assert.equal(integerFlag({ n: " 7 " }, "n"), 7);
  assert.equal(integerFlag({ n: "-5" }, "n", { min: -10 }), -5);
  assert.equal(integerFlag({ n: undefined }, "n"), undefined);
  // A flag with a default gives a number, one without may give undefined.
  const n: number = integerFlag({ n: "3" as string }, "n");
  const maybe: number | undefined = integerFlag({ n: undefined as string | undefined }, "n");
  assert.deepEqual([n, maybe], [3, undefined]);
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
  // A placeholder names the bare arguments (keygen showed [ARGS] for its NAME).
  assert.ok(
    helpText({ ...spec, positionals: "NAME" }).includes("Usage: eventstorm test NAME [FLAGS]"),
  );
  // Help that says "(repeatable)" itself does not say it twice.
  const said = helpText({
    name: "x",
    summary: "x",
    flags: { unit: { type: "string", multiple: true, value: "U", help: "a unit (repeatable)" } },
  });
  assert.match(said, /--unit U \(repeatable\)\s+a unit\n/);
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

Deno.test("flags: parseByteSize reads sizes with units, and nothing else", () => {
  assert.equal(parseByteSize("65536"), 65536);
  assert.equal(parseByteSize("512k"), 512 * 1024);
  assert.equal(parseByteSize("64MiB"), 64 * 1024 ** 2);
  assert.equal(parseByteSize("2MB"), 2_000_000);
  assert.equal(parseByteSize(" 1.5 GiB "), 1.5 * 1024 ** 3);
  assert.equal(parseByteSize("0"), 0);
  for (const bad of ["", "k", "-1", "1e6", "12 parsecs", "1,5MB", "99999999999TB"]) {
    assert.throws(() => parseByteSize(bad, "size"), UsageError, bad);
  }
  assert.throws(
    () => parseByteSize("0", "buffer-bytes", 1),
    (error: Error) =>
      error instanceof UsageError &&
      /^--buffer-bytes must be a size of at least 1 byte like .*, got '0'$/.test(error.message),
  );
});
