/**
 * CURVE end to end through the command line: keygen, a router with an allow
 * list, emit and tap as clients; refusals counted in the router's stats; secret
 * files guarded; and interop with pyzmq's own CURVE implementation and
 * certificates (scripts/clients.sh installs pyzmq; without it the interop tests
 * are skipped with the reason, or fail when CI=true).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Collector, Emitter, readCertificate } from "@eventstorm/core";
import { cli, finish, startRouter, waitFor, watch } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const CI = Deno.env.get("CI") === "true";
const decoder = new TextDecoder();
const encoder = new TextEncoder();

async function keygen(base: string): Promise<string> {
  const result = await finish(cli(["keygen", base]));
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

/** Starts `eventstorm router` with `args` and collects its stderr lines. */
function router(args: string[]) {
  const child = cli(["router", "--stats-interval", "200ms", ...args]);
  const lines: string[] = [];
  const reading = (async () => {
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let rest = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += value;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
  })();
  return {
    lines,
    /** The ports it bound, from the endpoint line it prints once listening. */
    ports: async () => {
      let bound: RegExpMatchArray | null | undefined;
      await waitFor(
        () =>
          !!(bound = lines.map((l) => l.match(/sources tcp:\S+:(\d+), sinks tcp:\S+:(\d+)/))
            .find((m) => m)),
        "the router's endpoints",
      );
      return [Number(bound![1]), Number(bound![2])];
    },
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
      await reading;
      await child.stdout.cancel();
    },
  };
}

async function pythonAvailable(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("python3", {
      args: ["-c", "import zmq.auth"],
      stderr: "piped",
    }).output();
    return out.success ? undefined : "python3 has no pyzmq (bash scripts/clients.sh)";
  } catch {
    return "no python3";
  }
}

const noPython = await pythonAvailable();
if (noPython && !CI) console.warn(`curve_test: skipping the pyzmq interop tests, ${noPython}`);

Deno.test({
  name: "curve cli: emit and tap with keys from keygen talk through a router with --allow-keys",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "curve_cli_" });
    try {
      await Deno.mkdir(`${dir}/clients`);
      await keygen(`${dir}/router`);
      await keygen(`${dir}/clients/source`);
      await keygen(`${dir}/clients/tap`);
      await keygen(`${dir}/stranger`);
      // Secret halves do not belong in the allow list; move them out.
      for (const name of ["source", "tap"]) {
        await Deno.rename(`${dir}/clients/${name}_secret`, `${dir}/${name}_secret`);
      }
      const running = router([
        "--sources",
        "@tcp://127.0.0.1:*",
        "--sinks",
        "@tcp://127.0.0.1:*",
        "--curve-secret",
        `${dir}/router_secret`,
        "--allow-keys",
        `${dir}/clients`,
      ]);
      const [sources, sinks] = await running.ports();
      const tap = cli([
        "tap",
        "--stats",
        "--topic",
        "app.",
        "--from",
        `>tcp://127.0.0.1:${sinks}`,
        "--curve-server",
        `${dir}/router`,
        "--curve-secret",
        `${dir}/tap_secret`,
      ]);
      const tapLines: string[] = [];
      const tapReading = (async () => {
        for await (const chunk of tap.stdout.pipeThrough(new TextDecoderStream())) {
          tapLines.push(...chunk.split("\n").filter((line) => line));
        }
      })();
      await waitFor(() => running.lines.some((line) => line.includes("admitting")), "router");
      const emit = (secret: string) =>
        cli([
          "emit",
          "--type",
          "app.secure",
          "--to",
          `>tcp://127.0.0.1:${sources}`,
          "--curve-server",
          `${dir}/router`,
          "--curve-secret",
          secret,
        ], { stdin: "piped" });
      const known = emit(`${dir}/source_secret`);
      const writer = known.stdin.getWriter();
      await writer.write(encoder.encode(
        Array.from({ length: 2000 }, (_, n) => JSON.stringify({ n }) + "\n").join(""),
      ));
      await writer.close();
      const knownResult = await finish(known);
      assert.equal(knownResult.code, 0, knownResult.stderr);
      await waitFor(
        () => tapLines.some((line) => /total 2000 events, lost 0/.test(line)),
        "the tap to count 2000 events",
      );
      // A key that is not in the directory: nothing arrives, the router counts it and says so.
      const stranger = emit(`${dir}/stranger_secret`);
      const strangerWriter = stranger.stdin.getWriter();
      await strangerWriter.write(encoder.encode('{"n":1}\n'));
      await waitFor(
        () => running.lines.some((line) => /refused unknown key from 127\.0\.0\.1 key /.test(line)),
        "the router's refusal line",
      );
      await waitFor(
        () =>
          running.lines.some((line) =>
            /refused 1 .*\(unknown_key 1\)|unknown_key [1-9]/.test(line)
          ),
        "the refusal in the stats line",
      );
      await strangerWriter.close();
      const strangerResult = await finish(stranger);
      assert.match(strangerResult.stderr, /refused this key/);
      // The refusal is the reason: no "is the router running?" beside it, and the
      // summary names it (audit #6).
      assert.doesNotMatch(strangerResult.stderr, /nobody subscribes/);
      assert.match(strangerResult.stderr, /1 dropped \(the server refused the handshake/);
      assert.doesNotMatch(strangerResult.stderr, /nobody subscribed/);
      assert.equal(strangerResult.code, 1);
      assert.ok(
        !running.lines.join("\n").includes(
          readCertificate(`${dir}/stranger_secret`, {
            secret: true,
          }).secretKey!,
        ),
      );
      tap.kill("SIGTERM");
      await tap.status;
      await tapReading;
      await tap.stderr.cancel();
      assert.ok(
        tapLines.some((line) => /total 2000 events, lost 0/.test(line)),
        tapLines.join("\n"),
      );
      await running.stop();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "curve cli: a chained router is a CURVE client upstream and a server to its sinks (audit #2)",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "curve_chain_" });
    try {
      // The regional router admits the source and the central router; the
      // central one admits the sink.
      for (const name of ["regional", "central", "source", "sink", "stranger"]) {
        await keygen(`${dir}/${name}`);
      }
      await Deno.mkdir(`${dir}/regional_clients`);
      await Deno.mkdir(`${dir}/central_clients`);
      await Deno.copyFile(`${dir}/source`, `${dir}/regional_clients/source`);
      await Deno.copyFile(`${dir}/central`, `${dir}/regional_clients/central`);
      await Deno.copyFile(`${dir}/sink`, `${dir}/central_clients/sink`);
      const regional = router([
        ...["--sources", "@tcp://127.0.0.1:*", "--sinks", "@tcp://127.0.0.1:*"],
        ...["--curve-secret", `${dir}/regional_secret`],
        ...["--allow-keys", `${dir}/regional_clients`],
      ]);
      const [regionalSources, regionalSinks] = await regional.ports();
      // scaling.md section 5's central router: chained with --curve-server, serving its sinks.
      const central = router([
        ...["--sources", `>tcp://127.0.0.1:${regionalSinks}`, "--sinks", "@tcp://127.0.0.1:*"],
        ...["--curve-secret", `${dir}/central_secret`, "--curve-server", `${dir}/regional`],
        ...["--allow-keys", `${dir}/central_clients`],
      ]);
      try {
        const [, centralSinks] = await central.ports();
        const mine = (name: string, server: string) => {
          const own = readCertificate(`${dir}/${name}_secret`, { secret: true });
          return {
            serverKey: readCertificate(`${dir}/${server}`).publicKey,
            secretKey: own.secretKey!,
            publicKey: own.publicKey,
          };
        };
        const sink = await Collector.open({
          endpoints: `>tcp://127.0.0.1:${centralSinks}`,
          curve: mine("sink", "central"),
        });
        const emitter = await Emitter.open({
          endpoints: `>tcp://127.0.0.1:${regionalSources}`,
          curve: mine("source", "regional"),
        });
        let received = 0;
        const reading = (async () => {
          for await (const batch of sink.batches()) {
            received += batch.events.filter((event) => event.type === "app.chain").length;
          }
        })();
        await waitFor(() => emitter.stats().subscriptions > 0, "the subscription across the chain");
        for (let n = 0; n < 500; n++) emitter.emit("app.chain", { n });
        await emitter.close();
        await waitFor(() => received === 500, "500 events through both CURVE links");
        assert.equal(sink.stats().lost, 0);
        // A client of the central router's bound side with a key it does not know is refused.
        const stranger = await Collector.open({
          endpoints: `>tcp://127.0.0.1:${centralSinks}`,
          curve: mine("stranger", "central"),
        });
        await waitFor(
          () => central.lines.some((line) => /refused unknown key from 127\.0\.0\.1/.test(line)),
          "the central router's refusal line",
        );
        await stranger.close();
        await sink.close();
        await reading;
        assert.ok(
          !central.lines.some((line) => /any client that knows the server key/.test(line)),
          central.lines.join("\n"),
        );
      } finally {
        await central.stop();
        await regional.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("curve cli: a secret file readable by others, a bad certificate and a missing one exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "curve_bad_" });
  try {
    await keygen(`${dir}/router`);
    await Deno.chmod(`${dir}/router_secret`, 0o644);
    const open = await finish(cli(["router", "--curve-secret", `${dir}/router_secret`]));
    assert.equal(open.code, 2);
    assert.match(open.stderr, /router_secret is readable by group or others .*chmod 600/);
    assert.equal(open.stderr.trim().split("\n").length, 1);
    await Deno.writeTextFile(`${dir}/broken_secret`, 'curve\n    secret-key = "abc"\n', {
      mode: 0o600,
    });
    const broken = await finish(cli(["tap", "--curve-secret", `${dir}/broken_secret`]));
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /broken_secret: not a CURVE certificate/);
    const missing = await finish(cli(["emit", "--curve-secret", `${dir}/nope`]));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read certificate .*nope: no such file/);
    const again = await finish(cli(["keygen", `${dir}/router`]));
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists already/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "curve cli: a central router reaches regional routers with key pairs of their own, one --curve-server each",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "curve_regions_" });
    try {
      for (const name of ["east", "west", "central", "source", "sink"]) {
        await keygen(`${dir}/${name}`);
      }
      await Deno.mkdir(`${dir}/regional_clients`);
      await Deno.mkdir(`${dir}/central_clients`);
      await Deno.copyFile(`${dir}/source`, `${dir}/regional_clients/source`);
      await Deno.copyFile(`${dir}/central`, `${dir}/regional_clients/central`);
      await Deno.copyFile(`${dir}/sink`, `${dir}/central_clients/sink`);
      const regionals = ["east", "west"].map((name) =>
        router([
          ...["--sources", "@tcp://127.0.0.1:*", "--sinks", "@tcp://127.0.0.1:*"],
          ...["--curve-secret", `${dir}/${name}_secret`],
          ...["--allow-keys", `${dir}/regional_clients`],
        ])
      );
      const [east, west] = await Promise.all(regionals.map((regional) => regional.ports()));
      const central = router([
        ...["--sources", `>tcp://127.0.0.1:${east[1]},>tcp://127.0.0.1:${west[1]}`],
        ...["--sinks", "@tcp://127.0.0.1:*", "--curve-secret", `${dir}/central_secret`],
        ...["--curve-server", `${dir}/east`, "--curve-server", `${dir}/west`],
        ...["--allow-keys", `${dir}/central_clients`],
      ]);
      try {
        const [, centralSinks] = await central.ports();
        const own = readCertificate(`${dir}/source_secret`, { secret: true });
        const keys = (server: string) => ({
          serverKey: readCertificate(`${dir}/${server}`).publicKey,
          secretKey: own.secretKey!,
          publicKey: own.publicKey,
        });
        const sinkKeys = readCertificate(`${dir}/sink_secret`, { secret: true });
        const sink = await Collector.open({
          endpoints: `>tcp://127.0.0.1:${centralSinks}`,
          curve: {
            serverKey: readCertificate(`${dir}/central`).publicKey,
            secretKey: sinkKeys.secretKey!,
            publicKey: sinkKeys.publicKey,
          },
        });
        const received = { east: 0, west: 0 };
        const reading = (async () => {
          for await (const batch of sink.batches()) {
            for (const event of batch.events) {
              if (event.type === "app.east" || event.type === "app.west") {
                received[event.type === "app.east" ? "east" : "west"]++;
              }
            }
          }
        })();
        for (const [name, ports] of [["east", east], ["west", west]] as const) {
          const emitter = await Emitter.open({
            endpoints: `>tcp://127.0.0.1:${ports[0]}`,
            curve: keys(name),
          });
          await waitFor(() => emitter.stats().subscriptions > 0, `the subscription from ${name}`);
          for (let n = 0; n < 300; n++) emitter.emit(`app.${name}`, { n });
          await emitter.close();
        }
        await waitFor(
          () => received.east === 300 && received.west === 300,
          "300 events through each region's CURVE link",
        );
        assert.equal(sink.stats().lost, 0);
        await sink.close();
        await reading;
        assert.ok(
          !central.lines.some((line) => /refused|failed/.test(line)),
          central.lines.join("\n"),
        );
      } finally {
        await central.stop();
        await Promise.all(regionals.map((regional) => regional.stop()));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("curve cli: a key given where a file is wanted is never echoed; misleading advice is gone (audit #7, #8, #16)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "curve_key_" });
  try {
    const routerKey = await keygen(`${dir}/router`);
    await keygen(`${dir}/web1`);
    const secret = readCertificate(`${dir}/web1_secret`, { secret: true }).secretKey!;
    const agentConfig = `${dir}/curve.toml`;
    await Deno.writeTextFile(
      agentConfig,
      `curve_server = "${dir}/router"\ncurve_secret = "${secret}"\n[inputs.host]\ntype = "metrics"\n`,
    );
    await Deno.mkdir(`${dir}/k`);
    const cases: [string[], RegExp, string][] = [
      [
        [
          "source",
          "demo",
          "--to",
          ">tcp://127.0.0.1:1",
          "--curve-server",
          `${dir}/router`,
          // With "=": a Z85 key may start with "-", which alone reads as a missing value.
          `--curve-secret=${secret}`,
        ],
        /--curve-secret takes a certificate FILE \(from eventstorm keygen\), not a key/,
        secret,
      ],
      [
        ["agent", "--config", agentConfig, "--check"],
        /curve_secret takes a certificate FILE/,
        secret,
      ],
      [
        ["emit", `--curve-server=${routerKey}X`, "--curve-secret", `${dir}/web1_secret`],
        /--curve-server is neither a valid CURVE key .* nor a certificate file/,
        routerKey,
      ],
      [
        ["router", "--curve-secret", `${dir}/router`],
        /router holds no secret key: it is a public certificate/,
        "",
      ],
      [["keygen", `${dir}/k/`], /k\/ is a directory: give a NAME/, ""],
      [
        [
          "router",
          ...["--sources", ">tcp://127.0.0.1:1", "--curve-secret", `${dir}/web1_secret`],
          ...["--curve-server", `${dir}/router`, `--curve-server=${routerKey}`],
        ],
        /2 server keys \(--curve-server\) for 1 endpoint that connects: give one key for all/,
        routerKey,
      ],
    ];
    const results = await Promise.all(
      cases.map(([args]) => finish(cli(args))),
    );
    results.forEach((result, i) => {
      const [args, expected, key] = cases[i];
      assert.equal(result.code, 2, `${args[0]}: ${result.stderr}`);
      assert.match(result.stderr, expected);
      if (key) assert.ok(!result.stderr.includes(key), `${args[0]} echoed the key`);
    });
    assert.doesNotMatch(results[3].stderr, /chmod/);
    assert.deepEqual([...Deno.readDirSync(`${dir}/k`)], [], "keygen DIR/ left a file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("curve cli: a plaintext TCP bind on a non-loopback address warns once per endpoint", async () => {
  const child = cli(["router", "--sources", "@tcp://0.0.0.0:*", "--sinks", "@tcp://127.0.0.1:*"]);
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/warning/.test(text)) text += (await reader.read()).value ?? "";
  child.kill("SIGTERM");
  await child.status;
  await reader.cancel();
  await child.stdout.cancel();
  assert.match(text, /warning: tcp:\/\/0\.0\.0\.0:\* is plaintext TCP/);
  assert.doesNotMatch(text, /127\.0\.0\.1.*plaintext/);
});

Deno.test("curve cli: tap binding plaintext TCP off loopback warns, with --curve-secret it does not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "curve_warn_" });
  try {
    await keygen(`${dir}/tap`);
    // With --stats the tap prints a line a second on stdout once it runs; by then
    // any warning has been printed.
    const stderrOf = async (args: string[]) => {
      const child = cli(["tap", "--stats", "--from", "@tcp://0.0.0.0:*", ...args]);
      const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("tap:")) {
        const next = await stdout.read();
        if (next.done) break;
        out += next.value;
      }
      child.kill("SIGTERM");
      const [err] = await Promise.all([new Response(child.stderr).text(), stdout.cancel()]);
      await child.status;
      return err;
    };
    assert.match(await stderrOf([]), /tap: warning: tcp:\/\/0\.0\.0\.0:\* is plaintext TCP/);
    assert.doesNotMatch(await stderrOf(["--curve-secret", `${dir}/tap_secret`]), /warning/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs a python script with pyzmq; returns stdout. */
async function python(script: string, args: string[]): Promise<string> {
  const out = await new Deno.Command("python3", {
    args: ["-c", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, `python3: ${decoder.decode(out.stderr)}`);
  return decoder.decode(out.stdout);
}

Deno.test({
  name: "curve interop: pyzmq with zmq.auth certificates sends to our router, keys from keygen",
  ignore: noPython !== undefined && !CI,
  ...opts,
  async fn() {
    if (noPython) throw new Error(`CI=true but ${noPython}`);
    const dir = await Deno.makeTempDir({ prefix: "curve_py_" });
    try {
      await Deno.mkdir(`${dir}/clients`);
      await keygen(`${dir}/router`);
      // pyzmq makes its own pair with zmq.auth and uses our router's public file.
      await python(
        "import sys, zmq.auth; zmq.auth.create_certificates(sys.argv[1], 'py')",
        [`${dir}/clients`],
      );
      await Deno.rename(`${dir}/clients/py.key_secret`, `${dir}/py.key_secret`);
      await keygen(`${dir}/clients/tap`);
      await Deno.rename(`${dir}/clients/tap_secret`, `${dir}/tap_secret`);
      const { router, running } = inProcessRouter(dir);
      const collector = await Collector.open({
        endpoints: router.sinks,
        curve: curveOf(dir, "tap"),
      });
      let received = 0;
      const reading = (async () => {
        for await (const batch of collector.batches()) received += batch.events.length;
      })();
      const sent = await python(PY_SENDER, [
        router.sources,
        `${dir}/router`,
        `${dir}/py.key_secret`,
      ]);
      assert.equal(sent.trim(), "sent 300");
      await waitFor(() => received === 300, "300 events from pyzmq");
      assert.equal(collector.stats().lost, 0);
      await collector.close();
      await reading;
      await running.stop();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "curve interop: our emitter takes zmq.auth certificates and a pyzmq CURVE server",
  ignore: noPython !== undefined && !CI,
  ...opts,
  async fn() {
    if (noPython) throw new Error(`CI=true but ${noPython}`);
    const dir = await Deno.makeTempDir({ prefix: "curve_py2_" });
    try {
      await python(
        "import sys, zmq.auth; zmq.auth.create_certificates(sys.argv[1], 'server'); " +
          "zmq.auth.create_certificates(sys.argv[1], 'client')",
        [dir],
      );
      for (const file of ["server.key_secret", "client.key_secret"]) {
        await Deno.chmod(`${dir}/${file}`, 0o600);
      }
      const receiver = watch(
        new Deno.Command("python3", {
          args: ["-c", PY_RECEIVER, `${dir}/server.key_secret`],
          stdout: "piped",
          stderr: "piped",
        }).spawn(),
      );
      await waitFor(() => /^\d+\n/.test(receiver.stdout()), "the receiver's port");
      const port = Number(receiver.stdout().split("\n")[0]);
      const client = readCertificate(`${dir}/client.key_secret`, { secret: true });
      const emitter = await Emitter.open({
        endpoints: `>tcp://127.0.0.1:${port}`,
        curve: {
          serverKey: readCertificate(`${dir}/server.key`).publicKey,
          secretKey: client.secretKey!,
          publicKey: client.publicKey,
        },
      });
      for (let n = 0; n < 100; n++) emitter.emit("app.py", { n });
      await emitter.close();
      const out = await receiver.finish();
      assert.equal(out.stdout.trim().split("\n").at(-1), "received 100", out.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

function inProcessRouter(dir: string) {
  const secret = readCertificate(`${dir}/router_secret`, { secret: true });
  const running = startRouter({
    curve: { secretKey: secret.secretKey!, publicKey: secret.publicKey },
    allowKeys: `${dir}/clients`,
  });
  return { router: running, running };
}

function curveOf(dir: string, name: string) {
  const mine = readCertificate(`${dir}/${name}_secret`, { secret: true });
  return {
    serverKey: readCertificate(`${dir}/router`).publicKey,
    secretKey: mine.secretKey!,
    publicKey: mine.publicKey,
  };
}

/** A protocol v1 sender in Python: 3 messages of 100 events on one stream, over CURVE. */
const PY_SENDER = `
import sys, time, struct, random, zmq, zmq.auth
endpoint, server_file, secret_file = sys.argv[1].lstrip(">"), sys.argv[2], sys.argv[3]
server_public, _ = zmq.auth.load_certificate(server_file)
public, secret = zmq.auth.load_certificate(secret_file)
ctx = zmq.Context()
pub = ctx.socket(zmq.XPUB)
pub.curve_serverkey, pub.curve_publickey, pub.curve_secretkey = server_public, public, secret
pub.connect(endpoint)
pub.recv()  # the first subscription: nothing is sent into the void
def bson_event(n):
    def cstr(s): return s.encode() + b"\\0"
    body = (b"\\x02" + cstr("type") + struct.pack("<i", 7) + cstr("app.py")
          + b"\\x09" + cstr("time") + struct.pack("<q", int(time.time() * 1000))
          + b"\\x02" + cstr("host") + struct.pack("<i", 3) + cstr("py")
          + b"\\x10" + cstr("n") + struct.pack("<i", n))
    return struct.pack("<i", len(body) + 5) + body + b"\\0"
source = random.randint(1, 2**63)
for batch in range(3):
    events = [bson_event(batch * 100 + i) for i in range(100)]
    header = struct.pack("<BBHIQQ", 0xE5, 1, 0, len(events), source, batch * 100)
    pub.send_multipart([b"app.py", header, b"".join(events)])
pub.close(linger=5000)
ctx.term()
print("sent 300")
`;

/** A CURVE server in Python (a bound SUB) that counts events until 100 arrived or 20 s. */
const PY_RECEIVER = `
import sys, struct, zmq, zmq.auth
secret_file = sys.argv[1]
public, secret = zmq.auth.load_certificate(secret_file)
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.curve_server, sub.curve_secretkey, sub.curve_publickey = True, secret, public
sub.setsockopt(zmq.SUBSCRIBE, b"")
# A port the system picks, told on the first line: no free-port guess to race for.
print(sub.bind_to_random_port("tcp://127.0.0.1"), flush=True)
sub.rcvtimeo = 20000
received = 0
try:
    while received < 100:
        topic, header, body = sub.recv_multipart()
        received += struct.unpack("<I", header[4:8])[0]
except zmq.Again:
    pass
print("received", received)
`;
