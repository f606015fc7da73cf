import assert from "node:assert/strict";
import { Collector, Emitter } from "@eventstorm/core";
import { cli, finish, routerProcess, sleep, tempDir, waitFor, watch } from "./helpers.ts";
import { nginxLog } from "../cli/demo/nginx_lines.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/**
 * Waits until `count` topic prefixes are subscribed through the router at
 * `sources`: an emitter there sees what the router's subscribers asked for, so
 * this is the moment they can receive.
 */
async function subscribed(sources: string, count: number): Promise<void> {
  const probe = await Emitter.open({ endpoints: sources, closeTimeoutMs: 0 });
  try {
    await waitFor(() => probe.stats().subscriptions >= count, `${count} subscriptions`);
  } finally {
    await probe.close();
  }
}

/**
 * An endpoint where nobody subscribes: an ipc path in a directory that `await using`
 * removes (no TCP port that another process could take meanwhile).
 */
async function nobody(): Promise<{ endpoint: string } & AsyncDisposable> {
  const temp = await tempDir();
  return {
    endpoint: `>ipc://${temp.path}/nobody.sock`,
    [Symbol.asyncDispose]: () => temp[Symbol.asyncDispose](),
  };
}

Deno.test("emit → router → tap with allow/deny, as separate processes", opts, async () => {
  const router = await routerProcess([
    "--allow",
    "app.",
    "--deny",
    "app.debug",
    "--stats-interval",
    "1s",
  ]);
  const tap = cli(["tap", "--from", router.sinks, "--topic", "app.", "--limit", "50"]);
  await subscribed(router.sources, 1);
  const emit = cli(["emit", "--to", router.sources, "--type", "app.log"], {
    stdin: "piped",
  });
  const writer = emit.stdin.getWriter();
  const lines: string[] = [];
  for (let i = 0; i < 50; i++) {
    lines.push(JSON.stringify({ n: i, msg: `hello ${i}` }));
    lines.push(JSON.stringify({ type: "app.debug", n: i }));
    lines.push(JSON.stringify({ type: "web.hit", n: i, time: "2026-11-23T10:00:00Z" }));
  }
  lines.push("this is not json", JSON.stringify({ type: "Bad Type" }));
  await writer.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  await writer.close();
  const emitted = await finish(emit);
  assert.equal(emitted.code, 0, emitted.stderr);
  assert.match(emitted.stderr, /2 invalid lines/);
  assert.match(emitted.stderr, /line 151 skipped/);
  const tapped = await finish(tap);
  assert.equal(tapped.code, 0, tapped.stderr);
  const events = tapped.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.equal(events.length, 50);
  assert.deepEqual(events.map((event) => event.n), [...Array(50).keys()]);
  for (const event of events) {
    assert.equal(event.type, "app.log");
    assert.ok(typeof event.time.$date === "string", "Extended JSON date");
    assert.equal(typeof event.host, "string");
  }
  router.child.kill("SIGTERM");
  const routed = await router.finish();
  assert.equal(routed.code, 0, routed.stderr);
  assert.match(routed.stderr, /denied 50/);
});

Deno.test("tap --stats and --top print rates and loss", opts, async () => {
  const router = await routerProcess(["--stats-interval", "0s"]);
  const from = router.sinks;
  const tap = watch(cli(["tap", "--from", from, "--stats", "--interval", "500ms"]));
  const top = watch(
    cli(["tap", "--from", from, "--top", "--topic", "http.", "--interval", "500ms"]),
  );
  // Both prefixes ("" for tap, "http." for top) have reached the router.
  await subscribed(router.sources, 2);
  const demo = cli([
    "source",
    "demo",
    "--to",
    router.sources,
    "--rate",
    "2000",
    "--limit",
    "3000",
  ]);
  const demoResult = await finish(demo);
  assert.equal(demoResult.code, 0, demoResult.stderr);
  assert.match(
    demoResult.stderr,
    /source demo: .* ev\/s; events 3000, sent 3000, dropped 0\n$/,
  );
  // Everything has arrived once tap's periodic line counts all of it.
  await waitFor(() => /total 3000 events/.test(tap.stdout()), "tap to count 3000 events");
  // top reads on its own socket and prints on its own clock: wait for its table to catch up too.
  const httpHits = () =>
    Math.max(
      0,
      ...[...top.stdout().matchAll(/^http\.hit\s+\S+\s+(\d+)\s/gm)].map((m) => Number(m[1])),
    );
  await waitFor(() => httpHits() > 2000, "top to count most demo events as http.hit");
  tap.child.kill("SIGINT");
  top.child.kill("SIGINT");
  const tapped = await tap.finish();
  assert.equal(tapped.code, 0, tapped.stderr);
  assert.match(tapped.stdout, /ev\/s/);
  assert.match(tapped.stderr, /total 3000 events, lost 0/);
  const topped = await top.finish();
  assert.equal(topped.code, 0, topped.stderr);
  const lastTable = topped.stdout.trim().split("\n\n").slice(-2).join("\n");
  assert.match(lastTable, /^TOPIC\s+EV\/S\s+RECEIVED\s+LOST\s+LOSS %\s+DUPLICATES\s+SOURCES$/m);
  const row = lastTable.match(/^http\.hit\s+\S+\s+(\d+)\s+0\s+0\.00\s+0\s+1$/m);
  assert.ok(row, lastTable);
  assert.ok(Number(row[1]) > 2000, "most demo events are http.hit");
  assert.doesNotMatch(lastTable, /ssh\.login/, "--topic http. is respected");
  router.child.kill("SIGTERM");
  await router.finish();
});

Deno.test("bad flags and endpoints exit 2 with one line, leaving no files", opts, async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_usage_" });
  const cases: [string[], RegExp][] = [
    [["sink", "store", "--db", `${dir}/a.db`, "--from", "bogus"], /invalid endpoint 'bogus'/],
    [["sink", "store", "--db", `${dir}/b.db`, "--stats-to", "bogus"], /invalid endpoint 'bogus'/],
    [["sink", "file", "--dir", `${dir}/archive`, "--from", "bogus"], /invalid endpoint 'bogus'/],
    [["sink", "mongodb", "--url", "mongodb://127.0.0.1:1", "--from", "bogus"], /invalid endpoint/],
    [
      ["sink", "cassandra", "--contact-points", "127.0.0.1:1", "--from", "bogus"],
      /invalid endpoint/,
    ],
    [
      ["sink", "dashboard", "--db", "/etc/hostname"],
      /--db \/etc\/hostname: file is not a database/,
    ],
    [
      ["sink", "store", "--db", `${dir}/c.db`, "--topic", "HTTP."],
      /'HTTP\.' is not a topic prefix/,
    ],
    [["tap", "--topic", "a b"], /'a b' is not a topic prefix/],
    [["sink", "store", "--db", `${dir}/d.db`, "--retain", "0s"], /--retain must be longer than 0/],
    [["source", "demo", "--rate", "-5"], /write --rate=VALUE/],
    [["source", "nginx", "--file", "/etc/hostname", "--format", ""], /no \$variable/],
    [["router", "--bogus"], /unknown flag '--bogus'/],
    [["router", "--sinks", "tcp://nohost"], /invalid endpoint 'tcp:\/\/nohost'/],
    [["router", "--allow", "Not A Topic"], /not a topic prefix/],
    [["tap", "--from", "udp://x:1"], /unsupported transport/],
    [["emit", "--type", "BAD"], /not a dotted lower-case event type/],
    [["source", "nope"], /unknown source 'nope'/],
    [["frobnicate"], /unknown command 'frobnicate'/],
    // Names a user types are looked up as own keys, never Object's.
    [["constructor"], /unknown command 'constructor'/],
    [["sink", "toString"], /unknown sink 'toString'/],
    [["router", "--constructor"], /unknown flag '--constructor'/],
    [["tap", "--interval", "soon"], /--interval must be a duration/],
    // One --stats-interval rule everywhere (docs/specs/stats.md).
    [["router", "--stats-interval", "5ms"], /--stats-interval must be 0 .* or 100ms or more/],
    [
      ["sink", "store", "--db", `${dir}/e.db`, "--stats-interval", "5ms"],
      /--stats-interval must be 0 .* or 100ms or more/,
    ],
    [
      ["sink", "dashboard", "--listen", "127.0.0.1:0", "--stats-interval", "5ms"],
      /--stats-interval must be 0 .* or 100ms or more/,
    ],
    [
      ["source", "nginx", "--file", `${dir}/x.log`, "--stats-interval", "5ms"],
      /--stats-interval must be 0 .* or 100ms or more/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const result = await finish(cli(args));
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line for ${args.join(" ")}: ${result.stderr}`);
    assert.match(lines[0], pattern);
  }
  const left = [...Deno.readDirSync(dir)].map((entry) => entry.name);
  await Deno.remove(dir, { recursive: true });
  assert.deepEqual(left, [], "a refused command creates nothing");
});

Deno.test("--help works for every command", opts, async () => {
  const top = await finish(cli(["--help"]));
  assert.equal(top.code, 0);
  // Every command the top-level help lists, sources and sinks included.
  const section = (name: string) =>
    top.stdout.split(`${name} NAME`)[1].split("  sink NAME")[0].split("\n").slice(1)
      .filter((line) => /^ {4}[a-z]/.test(line)).map((line) => line.trim().split(" ")[0]);
  const commands = top.stdout.split("Commands:\n")[1].split("\n")
    .filter((line) => /^ {2}[a-z]/.test(line)).map((line) => line.trim().split(" ")[0])
    .filter((name) => name !== "source" && name !== "sink");
  const sources = section("source");
  const sinks = section("sink");
  assert.ok(sources.includes("nginx") && sources.includes("postfix"), top.stdout);
  assert.ok(sinks.includes("store") && sinks.includes("dashboard"), top.stdout);
  const all = [
    ...commands.map((name) => [name]),
    ...sources.map((name) => ["source", name]),
    ...sinks.map((name) => ["sink", name]),
  ];
  assert.ok(all.length >= 15, `every command: ${all.join(" ")}`);
  const results = await Promise.all(all.map((args) => finish(cli([...args, "--help"]))));
  // Every long-running component explains --stats-interval in the same words.
  const statsLines = results.flatMap((result, i) =>
    result.stdout.split("\n").filter((line) => line.includes("--stats-interval")).map((line) =>
      [all[i].join(" "), line.trim().replace(/\s+/g, " ")] as const
    )
  );
  const withStats = statsLines.map(([name]) => name);
  for (const name of ["router", "source nginx", "source syslog", "sink store", "sink dashboard"]) {
    assert.ok(withStats.includes(name), `${name} has --stats-interval`);
  }
  assert.equal(new Set(statsLines.map(([, line]) => line)).size, 1, JSON.stringify(statsLines));
  results.forEach((result, i) => {
    assert.equal(result.code, 0, `${all[i].join(" ")}: ${result.stderr}`);
    assert.doesNotMatch(result.stdout, /\(repeatable\).*\(repeatable\)/, all[i].join(" "));
    // Bare arguments are named: no command's usage shows a vague [ARGS].
    assert.doesNotMatch(result.stdout, /\[ARGS\]/, all[i].join(" "));
    // Over syslog there are no files for an access_log to name (help said "for --file").
    if (all[i].join(" ") === "source syslog") {
      assert.match(result.stdout, /--format-name NAME .*\[default: combined\]/);
    }
    assert.match(result.stdout, new RegExp(`Usage: eventstorm ${all[i].join(" ")} `));
    // The list and the command's own help show the one summary the command exports.
    const summary = result.stdout.split("\n")[0].split(`eventstorm ${all[i].join(" ")}: `)[1];
    assert.ok(summary, `${all[i].join(" ")}: ${result.stdout.split("\n")[0]}`);
    const listed = top.stdout.split("\n").find((line) =>
      line.trim().startsWith(`${all[i].at(-1)} `) && line.endsWith(summary)
    );
    assert.ok(listed, `eventstorm --help lists '${summary}' for ${all[i].join(" ")}`);
  });
});

Deno.test("a missing command is a usage error: the list on stderr, exit 2", opts, async () => {
  const runs = await Promise.all([[], ["source"], ["sink"]].map((args) => finish(cli(args))));
  for (const result of runs) {
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /Usage: eventstorm (source |sink )?(COMMAND|NAME) \[FLAGS\]/);
  }
});

Deno.test("a bind to a taken port fails with one clear line", opts, async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    const result = await finish(
      cli(["router", "--sources", `@tcp://127.0.0.1:${port}`, "--sinks", "@tcp://127.0.0.1:*"]),
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr.trim(),
      /^error: cannot bind @tcp:\/\/127\.0\.0\.1:\d+: Address already in use$/,
    );
    const dashboard = await finish(
      cli(["sink", "dashboard", "--listen", `127.0.0.1:${port}`, "--from", ">tcp://127.0.0.1:1"]),
    );
    assert.equal(dashboard.code, 2, dashboard.stderr);
    assert.equal(
      dashboard.stderr.trim(),
      `error: --listen 127.0.0.1:${port}: the address is already in use`,
    );
  } finally {
    listener.close();
  }
});

Deno.test("the router's memory stays flat over a long run", opts, async () => {
  const router = await routerProcess(["--stats-interval", "0s"]);
  const tap = cli(["tap", "--from", router.sinks, "--stats", "--interval", "10s"]);
  await subscribed(router.sources, 1);
  const rss = async () => {
    const status = await Deno.readTextFile(`/proc/${router.child.pid}/status`);
    return Number(status.match(/VmRSS:\s+(\d+)/)![1]) * 1024;
  };
  // Many short-lived sources (new stream ids) and steady traffic: the state that
  // could grow is per-stream and per-topic, and both are bounded.
  const samples: number[] = [];
  const rounds = 12;
  for (let round = 0; round < rounds; round++) {
    const demo = cli([
      "source",
      "demo",
      "--to",
      router.sources,
      "--rate",
      "40000",
      "--limit",
      "40000",
    ]);
    await finish(demo);
    samples.push(await rss());
  }
  const warm = Math.max(...samples.slice(2, 6));
  const late = Math.max(...samples.slice(rounds - 4));
  console.log(`router RSS MiB: ${samples.map((n) => (n / 2 ** 20).toFixed(1)).join(" ")}`);
  assert.ok(late - warm < 24 * 2 ** 20, `router RSS grew from ${warm} to ${late} bytes`);
  tap.kill("SIGINT");
  await finish(tap);
  router.child.kill("SIGTERM");
  const routed = await router.finish();
  assert.equal(routed.code, 0);
});

Deno.test("a reader that stops early (| head) ends the command quietly", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const line =
      "Nov 23 10:00:01 web1 sshd[123]: Failed password for root from 10.0.0.1 port 22 ssh2\n";
    await Deno.writeTextFile(`${dir}/auth.log`, line.repeat(200_000));
    const child = cli(["source", "sshd", "--file", `${dir}/auth.log`, "--once", "--print"]);
    const reader = child.stdout.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /"type":"ssh.login"/);
    await reader.cancel();
    const status = await child.status;
    const stderr = new TextDecoder().decode(
      (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
    );
    assert.equal(status.code, 0, stderr);
    assert.doesNotMatch(stderr, /error/i);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Waits for a child's first line on stderr (reading just the first chunk). */
async function firstStderrLine(child: Deno.ChildProcess): Promise<void> {
  const reader = child.stderr.getReader();
  await reader.read();
  reader.releaseLock();
}

/**
 * Like `finish` (or `finisher`, for a watched child), but SIGKILLs a child still
 * running after `ms`, so a hang fails fast.
 */
async function finishWithin(
  child: Deno.ChildProcess,
  ms: number,
  finisher: () => Promise<{ code: number; stdout: string; stderr: string }> = () => finish(child),
) {
  const watchdog = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    return await finisher();
  } finally {
    clearTimeout(watchdog);
  }
}

Deno.test("Ctrl-C under deno task (two SIGINTs at once) still stops cleanly", opts, async () => {
  // Nobody listens at --to: on shutdown the source keeps trying to deliver what it
  // holds for a few seconds, so it is still there when the second signal comes.
  await using to = await nobody();
  const source = cli(["source", "demo", "--to", to.endpoint, "--rate", "100"]);
  await firstStderrLine(source); // it is up and listening for signals
  source.kill("SIGINT");
  // The task runner's forwarded copy comes a moment after the terminal's.
  await sleep(30);
  source.kill("SIGINT");
  const result = await finishWithin(source, 20_000);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /dropped/, "it ran its shutdown and reported");
});

Deno.test("source metrics with nobody listening stops on one SIGINT", opts, async () => {
  // Its flush waits for a subscriber that never comes; the signal must still win.
  await using to = await nobody();
  const source = watch(cli(["source", "metrics", "--to", to.endpoint, "--interval", "1s"]));
  // The notice comes once a sample waits for a subscriber: a flush is pending.
  await source.said(/nobody subscribes/, "the waiting notice");
  const stoppedAt = performance.now();
  source.child.kill("SIGINT");
  // close() gives a subscriber up to 5 s; a hang fails here instead of stalling CI.
  const result = await finishWithin(source.child, 20_000, source.finish);
  assert.equal(
    result.code,
    0,
    `stopped after ${performance.now() - stoppedAt} ms\n${result.stderr}`,
  );
});

Deno.test(
  "emit waiting for a subscriber that never comes still stops on SIGINT",
  opts,
  async () => {
    await using to = await nobody();
    const emit = watch(cli(["emit", "--type", "app.log", "--to", to.endpoint], { stdin: "piped" }));
    const writer = emit.child.stdin.getWriter();
    const line = new TextEncoder().encode(
      `${JSON.stringify({ msg: "x".repeat(200) })}\n`.repeat(1000),
    );
    // Far more than it may hold: it stops reading stdin (backpressure) and waits.
    const feeding = (async () => {
      for (let i = 0; i < 2000; i++) await writer.write(line);
    })().catch(() => {});
    // It says so once what it holds has waited a while for a subscriber.
    await emit.said(/nobody subscribes/, "the waiting notice");
    emit.child.kill("SIGINT");
    const result = await finishWithin(emit.child, 20_000, emit.finish);
    await feeding;
    // Stopped on purpose: exit 0, with the held events counted as dropped.
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /[1-9]\d* dropped \(nobody subscribed/);
  },
);

Deno.test(
  "emit whose stdin ends with nobody subscribed exits 1 and counts the drops",
  opts,
  async () => {
    await using to = await nobody();
    const emit = cli(["emit", "--type", "app.log", "--to", to.endpoint], { stdin: "piped" });
    const writer = emit.stdin.getWriter();
    await writer.write(new TextEncoder().encode('{"n":1}\n{"n":2}\nnot json\n'));
    await writer.close();
    const result = await finishWithin(emit, 30_000);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /0 events sent .* 1 invalid lines, 2 dropped \(nobody subscribed/);
  },
);

Deno.test("a host that does not resolve is warned about; the command goes on", opts, async () => {
  // `.invalid` never resolves (RFC 2606); libzmq alone would retry in silence.
  // localhost resolves from /etc/hosts, no DNS needed: no warning for it.
  // A port held by a plain TCP listener: localhost resolves and nobody subscribes.
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (held.addr as Deno.NetAddr).port;
  const runs = [
    [
      ["source", "demo", "--to", ">tcp://no-such-host.invalid:5555", "--rate", "10"],
      /cannot resolve/,
    ],
    [["tap", "--from", ">tcp://no-such-host.invalid:5556"], /cannot resolve/],
    // Resolving comes before sending: once it waits for a subscriber, it is past that.
    [["source", "demo", "--to", `>tcp://localhost:${port}`, "--rate", "10"], /nobody subscribes/],
  ].map(async ([args, until]) => {
    const child = watch(cli(args as string[]));
    await child.said(until as RegExp);
    child.child.kill("SIGINT");
    return {
      args: args as string[],
      result: await finishWithin(child.child, 20_000, child.finish),
    };
  });
  const [demo, tap, resolvable] = await Promise.all(runs);
  for (const { args, result } of [demo, tap]) {
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /: warning: cannot resolve host 'no-such-host\.invalid' \(ENOTFOUND\)/,
      args.join(" "),
    );
  }
  assert.doesNotMatch(resolvable.result.stderr, /cannot resolve/);
  held.close();
});

Deno.test("Ctrl-C stops a source in the middle of a long backlog", opts, async () => {
  // Reading from the page cache is synchronous: this checks that signals and
  // stats timers still get their turn while a big file is read.
  const dir = await Deno.makeTempDir();
  const lines = 300_000;
  const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*" });
  try {
    const path = `${dir}/access.log`;
    await nginxLog({ seed: 7 }).writeFile(path, lines);
    const draining = (async () => {
      for await (const _ of collector.messages()) { /* only keeps the source going */ }
    })();
    const source = cli([
      "source",
      "nginx",
      "--file",
      path,
      "--once",
      "--no-checkpoint",
      "--to",
      `>${collector.boundEndpoint()}`,
      "--stats-interval",
      "200ms",
    ]);
    const watchdog = setTimeout(() => source.kill("SIGKILL"), 30_000);
    let stderr = "";
    let signalled = false;
    for await (const text of source.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += text;
      if (!signalled && / lines\/s; /.test(stderr)) {
        source.kill("SIGINT");
        signalled = true;
      }
    }
    const status = await source.status;
    clearTimeout(watchdog);
    await source.stdout.cancel();
    assert.equal(status.code, 0, stderr);
    const read = Number(stderr.trim().split("\n").at(-1)!.match(/; lines (\d+) /)?.[1]);
    assert.ok(read > 0 && read < lines, `stopped after ${read} of ${lines} lines\n${stderr}`);
    await collector.close();
    await draining;
  } finally {
    await collector.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "a sink bound to port * names the port it took, and stores what is sent there",
  opts,
  async () => {
    await using temp = await tempDir();
    const sink = watch(cli([
      "sink",
      "store",
      ...["--db", `${temp.path}/events.db`, "--from", "@tcp://127.0.0.1:*"],
      ...["--stats-interval", "200ms", "--stats-to", "none"],
    ]));
    try {
      await sink.said(/receiving from @tcp:\/\/127\.0\.0\.1:\d+\n/, "the sink's bound port");
      const port = /receiving from @tcp:\/\/127\.0\.0\.1:(\d+)/.exec(sink.stderr())![1];
      const emitter = await Emitter.open({ endpoints: `>tcp://127.0.0.1:${port}`, host: "h" });
      await waitFor(() => emitter.stats().subscriptions > 0, "the sink's subscription");
      for (let i = 0; i < 5; i++) emitter.emit("app.tick", { i });
      await emitter.close();
      await sink.said(/stored 5,/, "5 stored");
    } finally {
      sink.child.kill("SIGTERM");
    }
    assert.equal((await sink.finish()).code, 0, sink.stderr());
  },
);
