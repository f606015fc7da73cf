// Issue 11 item 9: usage errors exit 2 with one line, before anything else is said.
import assert from "node:assert/strict";
import { EventStore } from "@eventstorm/sink-store";
import { cli, finish } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "bad addresses, directories, numbers, checkpoints and parser flags exit 2",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const db = `${dir}/e.db`;
      const store = EventStore.open(db);
      store.insertBatch([{ type: "a.b", time: new Date(), host: "h", status: 1 }]);
      store.close();
      const log = `${dir}/a.log`;
      Deno.writeTextFileSync(log, "x\n");
      const agentConfig = `${dir}/agent.toml`;
      Deno.writeTextFileSync(
        agentConfig,
        `state_dir = "/proc/nope"\n[inputs.web]\ntype = "nginx"\nfile = ["${log}"]\n`,
      );
      const cases: [string[], RegExp][] = [
        [
          ["sink", "dashboard", "--listen", "127.999.999.999:1", "--from", ">tcp://127.0.0.1:1"],
          /--listen 127\.999\.999\.999:1/,
        ],
        [["demo", "--dir", "/proc/nope"], /--dir \/proc\/nope/],
        [["query", "--db", db, "--where", "status>=1e309"], /beyond the range of numbers/],
        [
          ["source", "nginx", "--file", log, "--once", "--checkpoint", "/proc/nope/c"],
          /checkpoint \/proc\/nope\/c cannot be written/,
        ],
        [
          ["source", "syslog", "--listen", "udp://127.0.0.1:0", "--checkpoint", "/proc/nope/c"],
          /checkpoint \/proc\/nope\/c cannot be written/,
        ],
        [
          ["source", "journald", "--checkpoint", "/proc/nope/c"],
          /checkpoint \/proc\/nope\/c cannot be written/,
        ],
        [
          ["agent", "--config", agentConfig],
          /inputs\.web: checkpoint \/proc\/nope\/web\.json cannot be written.*state_dir/,
        ],
        [
          [
            "source",
            "nginx",
            "--file",
            `${dir}/none*.log`,
            "--format",
            "$remote_addr",
            "--escape",
            "x",
          ],
          /--escape must be/,
        ],
        [["source", "postfix", "--file", `${dir}/none*.log`, "--timeout", "soon"], /--timeout/],
      ];
      for (const [args, message] of cases) {
        const result = await finish(cli(args));
        const lines = result.stderr.trim().split("\n");
        assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
        assert.equal(lines.length, 1, `${args.join(" ")}: one line\n${result.stderr}`);
        assert.match(lines[0], /^error: /);
        assert.match(lines[0], message);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/**
 * Runs each `[args, message]` (two at a time: two cores) and checks one `error:`
 * line and exit 2; a command still running after 15 s (it took the value) is killed.
 */
async function refusedWithOneLine(cases: [string[], RegExp][]): Promise<void> {
  const pending = [...cases];
  const run = async () => {
    for (let next = pending.shift(); next; next = pending.shift()) {
      const [args, message] = next;
      const child = cli(args);
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const result = await finish(child).finally(() => clearTimeout(timer));
      const lines = result.stderr.trim().split("\n");
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr.slice(0, 500)}`);
      assert.equal(lines.length, 1, `${args.join(" ")}: one line\n${result.stderr}`);
      assert.match(lines[0], /^error: /);
      assert.match(lines[0], message, args.join(" "));
    }
  };
  await Promise.all([run(), run()]);
}

// Audit findings 3 and 4: a timer given more than 2^31 - 1 ms fires every
// millisecond, and an interval under 100ms is as busy; both ran at 100% CPU.
Deno.test("intervals a timer cannot wait, or that would busy-loop, exit 2", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const agentConfig = `${dir}/agent.toml`;
    Deno.writeTextFileSync(agentConfig, '[inputs.host]\ntype = "metrics"\ninterval = "30d"\n');
    await refusedWithOneLine([
      [
        [
          "router",
          "--stats-interval",
          "30d",
          "--sources",
          "@tcp://127.0.0.1:*",
          "--sinks",
          "@tcp://127.0.0.1:*",
        ],
        /--stats-interval must be at most 24d/,
      ],
      [["source", "metrics", "--interval", "30d", "--print"], /--interval must be at most 24d/],
      [
        ["source", "nginx", "--file", `${dir}/x.log`, "--print", "--poll-interval", "30d"],
        /--poll-interval must be at most 24d/,
      ],
      [["tap", "--stats", "--interval", "30d"], /--interval must be at most 24d/],
      [["tap", "--stats", "--interval", "0s"], /--interval must be 100ms or more, got '0s'/],
      [["tap", "--stats", "--interval", "5ms"], /--interval must be 100ms or more/],
      [["agent", "--config", agentConfig, "--check"], /inputs\.host: interval/],
      [["demo", "--rotate", "30d"], /--rotate must be at most 24d, got '30d'/],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Audit finding 11: a bad --listen exited 1 once the router and the store ran,
// and every refused start left its /tmp/eventstorm-demo-* directory behind.
Deno.test("demo checks its flags first and leaves no temporary directory", opts, async () => {
  const tmp = await Deno.makeTempDir();
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const env = { TMPDIR: tmp };
    const demo = ["demo", "--seconds", "3", "--sinks-port", "0", "--listen", "127.0.0.1:0"];
    const cases: [string[], RegExp][] = [
      [["demo", "--listen", "nohost", "--sources-port", "0"], /--listen must be HOST:PORT/],
      [["demo", "--listen", "10.0.0.1:0"], /--listen 10\.0\.0\.1:0: .* loopback/],
      [["demo", "--sources-port", "7000", "--sinks-port", "7000"], /must differ/],
      [[...demo, "--sources-port", String(busy.addr.port)], /cannot bind .*in use/],
    ];
    for (const [args, message] of cases) {
      const result = await finish(cli(args, { env }));
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.deepEqual([...Deno.readDirSync(tmp)], [], `${args.join(" ")} leaves nothing`);
    }
  } finally {
    busy.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

// Audit findings 9, 17 and the CLI nits: what names a directory, or an endpoint
// no other process can reach, is refused at start.
Deno.test("directories given as files, and inproc for a tap, exit 2", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = `${dir}/a.log`;
    Deno.writeTextFileSync(log, "x\n");
    const directory = /is a directory, not a file/;
    await refusedWithOneLine([
      [["source", "nginx", "--file", log, "--checkpoint", `${dir}/cp/`], directory],
      [["source", "nginx", "--file", log, "--checkpoint", dir], directory],
      [["source", "syslog", "--listen", "udp://127.0.0.1:0", "--checkpoint", dir], directory],
      [
        ["source", "nginx", "--file", dir, "--print"],
        /is a directory, not a file; .*'.*\/\*\.log'/,
      ],
      ...[
        ["tap", "--from", ">inproc://x"],
        ["emit", "--to", "inproc://x"],
        ["router", "--sources", "@inproc://x"],
        ["source", "demo", "--to", "inproc://x"],
        ["source", "metrics", "--to", "inproc://x"],
        ["source", "nginx", "--file", log, "--to", "inproc://x"],
        ["sink", "store", "--db", `${dir}/s.db`, "--from", "inproc://x"],
      ].map((argv): [string[], RegExp] => [argv, /inproc:\/\/ reaches only this process/]),
      [["query", "--db", dir], /is a directory, not a store file/],
    ]);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.log"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
