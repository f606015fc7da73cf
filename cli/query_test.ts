import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { EventStore, formatTable } from "@eventstorm/sink-store";
import { queryMain } from "./query.ts";

const QUERY_MAIN = fileURLToPath(new URL("./query.ts", import.meta.url));
const NOW = new Date(Date.UTC(2026, 6, 1, 12, 0, 0));

function makeStore(): { path: string; cleanup: () => void } {
  const dir = Deno.makeTempDirSync({ prefix: "query_test_" });
  const path = `${dir}/events.db`;
  const store = EventStore.open(path);
  store.insertBatch(Array.from({ length: 120 }, (_, i) => ({
    type: i % 4 === 0 ? "ssh.login" : "http.hit",
    // One event a minute, the last one a minute before NOW.
    time: new Date(NOW.getTime() - (120 - i) * 60_000),
    host: `web${i % 2}`,
    status: i % 6 === 1 ? 500 : 200,
    latency: i,
    at: new Date(Date.UTC(2020, 0, 1) + i),
  })));
  store.close();
  return { path, cleanup: () => Deno.removeSync(dir, { recursive: true }) };
}

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await queryMain(args, {
    now: NOW,
    write: (text) => Promise.resolve(void (out += text)),
  });
  return { code, out };
}

async function spawn(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", QUERY_MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("query prints matching events as Extended JSON lines", async () => {
  const { path, cleanup } = makeStore();
  try {
    const { code, out } = await run([
      "--db",
      path,
      "--type",
      "http.",
      "--since",
      "30m",
      "--where",
      "status=500",
    ]);
    assert.equal(code, 0);
    const lines = out.trimEnd().split("\n").map((line) => JSON.parse(line));
    const expected = Array.from({ length: 120 }, (_, i) => i).filter((i) =>
      i % 4 !== 0 && i % 6 === 1 &&
      NOW.getTime() - (120 - i) * 60_000 >= NOW.getTime() - 30 * 60_000
    );
    assert.deepEqual(lines.map((line) => line.latency), expected);
    assert.deepEqual(lines[0].time, {
      $date: new Date(NOW.getTime() - (120 - expected[0]) * 60_000).toISOString(),
    });
    assert.deepEqual(lines[0].at, {
      $date: new Date(Date.UTC(2020, 0, 1) + expected[0]).toISOString(),
    });

    const newest = await run(["--db", path, "--newest", "--limit", "2", "--until", "2m"]);
    assert.deepEqual(newest.out.trimEnd().split("\n").map((line) => JSON.parse(line).latency), [
      117,
      116,
    ]);
  } finally {
    cleanup();
  }
});

Deno.test("query --table lays events and aggregates out in columns", async () => {
  const { path, cleanup } = makeStore();
  try {
    const events = await run(["--db", path, "--type", "ssh", "--limit", "2", "--table"]);
    assert.equal(events.code, 0);
    assert.equal(
      events.out,
      formatTable(["time", "type", "host", "status", "latency", "at"], [
        [
          new Date(NOW.getTime() - 120 * 60_000),
          "ssh.login",
          "web0",
          200,
          0,
          new Date(Date.UTC(2020, 0, 1)),
        ],
        [
          new Date(NOW.getTime() - 116 * 60_000),
          "ssh.login",
          "web0",
          200,
          4,
          new Date(Date.UTC(2020, 0, 1) + 4),
        ],
      ]),
    );
    const lines = events.out.trimEnd().split("\n");
    assert.equal(lines.length, 3);
    assert.match(lines[0], /^time {22}type {7}host {2}status {2}latency {2}at$/);

    const buckets = await run([
      "--db",
      path,
      "--since",
      "1h",
      "--every",
      "30m",
      "--measure",
      "count",
      "--measure",
      "max:latency",
      "--by",
      "host",
      "--table",
    ]);
    assert.equal(buckets.code, 0);
    assert.deepEqual(buckets.out.trimEnd().split("\n").map((line) => line.split(/ +/)), [
      ["time", "host", "count", "max:latency"],
      ["2026-07-01T11:00:00.000Z", "web0", "15", "88"],
      ["2026-07-01T11:00:00.000Z", "web1", "15", "89"],
      ["2026-07-01T11:30:00.000Z", "web0", "15", "118"],
      ["2026-07-01T11:30:00.000Z", "web1", "15", "119"],
    ]);
  } finally {
    cleanup();
  }
});

Deno.test("query --every prints one JSON line per bucket", async () => {
  const { path, cleanup } = makeStore();
  try {
    const { code, out } = await run([
      "--db",
      path,
      "--type",
      "http.hit",
      "--since",
      "2026-07-01T10:00:00Z",
      "--until",
      "2026-07-01T11:00:00Z",
      "--every",
      "20m",
      "--measure",
      "count",
      "--measure",
      "p50:latency",
    ]);
    assert.equal(code, 0);
    const rows = out.trimEnd().split("\n").map((line) => JSON.parse(line));
    // Events i = 0..119 fall at NOW - (120 - i) min: 10:00 is i = 0, 10:20 is i = 20, ...
    const bucket = (from: number) =>
      Array.from({ length: 20 }, (_, k) => from + k).filter((i) => i % 4 !== 0);
    assert.deepEqual(
      rows,
      [0, 20, 40].map((from, n) => ({
        time: { $date: new Date(Date.UTC(2026, 6, 1, 10, 20 * n)).toISOString() },
        count: bucket(from).length,
        "p50:latency": bucket(from)[Math.ceil(bucket(from).length / 2) - 1],
      })),
    );
  } finally {
    cleanup();
  }
});

Deno.test("bad flags and bad store files exit 2 with one line", async () => {
  const { path, cleanup } = makeStore();
  try {
    const cases: [string[], RegExp][] = [
      [["--db", path, "--bogus"], /unknown flag '--bogus'/],
      [["--db", path, "--where", "status>high"], /compares numbers/],
      [["--db", path, "--where", "st'atus=1"], /field name/],
      [["--db", path, "--every", "5 minutes"], /--every must be a duration/],
      [["--db", path, "--every", "1m", "--measure", "p150:latency"], /percentile/],
      [["--db", path, "--by", "host"], /--by needs --every/],
      [["--db", path, "--since", "last week"], /--since/],
      [["--db", path, "--limit", "ten"], /--limit/],
      [["--db", `${path}.missing`], /no such store file/],
      // Audit finding 10: 'invalid time Invalid Date' and exit 1, or buckets in 1969.
      [["--db", path, "--since", "999999999d"], /--since must be at most 36500d/],
      [["--db", path, "--every", "10000000000d"], /--every must be at most 36500d/],
      [["--db", path.replace(/\/[^/]*$/, "")], /is a directory, not a store file/],
    ];
    const results = await Promise.all(cases.map(([args]) => spawn(args)));
    for (const [i, [args, message]] of cases.entries()) {
      const { code, stdout, stderr } = results[i];
      assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
      assert.equal(stdout, "", args.join(" "));
      const lines = stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0], /^error: /);
      assert.match(lines[0], message);
    }
    // The good path of the same entry point exits 0.
    const good = await spawn(["--db", path, "--type", "ssh.", "--limit", "1"]);
    assert.equal(good.code, 0, good.stderr);
    assert.equal(JSON.parse(good.stdout).type, "ssh.login");
  } finally {
    cleanup();
  }
});
