import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { COMBINED_FORMAT } from "./log_format.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

async function runMain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args, "--stats-interval", "0s"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

const LINES = [
  '93.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)" rt=0.012 "0.010, 0.002"',
  "not an access log line",
  '::1 - - [23/Nov/2026:19:28:06 +0000] "GET /v6?x=1 HTTP/2.0" 200 3 "-" "curl/7.88.1" rt=0.000 "-"',
];
const FORMAT = `${COMBINED_FORMAT} rt=$request_time "$upstream_response_time"`;

Deno.test("main reads a format from nginx.conf by the access_log that writes the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = join(dir, "access.log");
    await Deno.writeTextFile(log, LINES.join("\n") + "\n");
    await Deno.writeTextFile(
      join(dir, "nginx.conf"),
      `http {\n  log_format timed '${FORMAT.replaceAll("'", "\\'")}';\n` +
        `  access_log ${log} timed;\n}\n`,
    );
    const { code, stdout, stderr } = await runMain([
      "--file",
      log,
      "--once",
      "--print",
      "--unparsed",
      "--host",
      "web1",
      "--nginx-conf",
      join(dir, "nginx.conf"),
    ]);
    assert.equal(code, 0, stderr);
    const events = stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.equal(events.length, 3);
    const [first, unparsed, v6] = events;
    assert.equal(first.type, "http.hit");
    assert.equal(first.host, "web1");
    assert.deepEqual(first.time, { $date: "2015-05-17T08:05:32.000Z" });
    assert.equal(first.request_time, 0.012);
    assert.equal(first.upstream_response_time, 0.012);
    assert.deepEqual(first.upstream_response_time_list, [0.01, 0.002]);
    assert.equal(unparsed.type, "nginx.unparsed");
    assert.equal(unparsed.line, "not an access log line");
    assert.equal(v6.remote_addr, "::1");
    assert.equal(v6.protocol, "HTTP/2.0");
    assert.equal("upstream_response_time" in v6, false);
    assert.match(stderr, /unparsed 1,/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main takes a literal --format and counts lines it does not match", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = join(dir, "access.log");
    await Deno.writeTextFile(log, LINES.join("\n") + "\n");
    // combined by default: the trailing fields land in `extra` unless --strict.
    const lenient = await runMain(["--file", log, "--once", "--print"]);
    assert.equal(lenient.code, 0, lenient.stderr);
    const events = lenient.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.equal(events.length, 2);
    assert.equal(events[0].extra, 'rt=0.012 "0.010, 0.002"');
    const strict = await runMain(["--file", log, "--once", "--print", "--strict"]);
    assert.equal(strict.stdout, "");
    assert.match(strict.stderr, /events 0, unparsed 3/);
    const literal = await runMain(["--file", log, "--once", "--print", "--format", FORMAT]);
    assert.equal(literal.stdout.trim().split("\n").length, 2);
    assert.match(literal.stderr, /events 2, unparsed 1/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main turns bad formats and configurations into one-line usage errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = join(dir, "access.log");
    await Deno.writeTextFile(log, LINES[0] + "\n");
    await Deno.writeTextFile(join(dir, "nginx.conf"), "http { log_format a '$status';\n");
    const cases: [string[], RegExp][] = [
      [["--format", '"$request" $'], /without a variable name/],
      [["--format", "$status", "--escape", "xml"], /--escape must be default, json or none/],
      [["--format", "$status", "--format-name", "main"], /--format excludes/],
      [["--format-name", "main"], /needs --nginx-conf/],
      [["--nginx-conf", join(dir, "missing.conf")], /cannot read nginx configuration/],
      [["--nginx-conf", join(dir, "nginx.conf")], /nginx\.conf: unexpected end of file/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runMain(["--file", log, "--once", "--print", ...args]);
      assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
      assert.match(stderr, message);
      assert.equal(stderr.trim().split("\n").filter((l) => l.startsWith("error:")).length, 1);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main --help lists the nginx flags", async () => {
  const { code, stdout } = await runMain(["--help"]);
  assert.equal(code, 0);
  for (
    const flag of ["--format", "--nginx-conf", "--format-name", "--escape", "--strict", "--file"]
  ) {
    assert.ok(stdout.includes(flag), flag);
  }
});
