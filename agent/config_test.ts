import assert from "node:assert/strict";
import { ConfigError, interpolate, parseConfig, parseConfigProblems } from "./config.ts";
import { checkConfig } from "./agent.ts";
import { writeKeyPair } from "@eventstorm/core";

const env = (name: string) =>
  ({ LOGS: "/var/log", ROUTER: "router.example" } as Record<string, string>)[name];

Deno.test("a full config: every input type, option names as the flags, ${VAR} replaced", () => {
  const config = parseConfig(
    `to = ">tcp://\${ROUTER}:5555"
host = "web1"
[inputs.web]
type = "nginx"
file = ["\${LOGS}/nginx/access.log"]
format_name = "main"
[inputs.mail]
type = "postfix"
file = "\${LOGS}/mail.log"
timeout = "30m"
[inputs.auth]
type = "sshd"
file = ["\${LOGS}/auth.log"]
from_start = true
[inputs.net]
type = "syslog"
listen = ["udp://127.0.0.1:5514", "tcp://127.0.0.1:5514"]
nginx_tag = ["nginx", "web"]
[inputs.host]
type = "metrics"
interval = "10s"
[inputs.gen]
type = "demo"
rate = 10
[inputs.auth2]
type = "journald"
units = ["ssh.service"]
identifier = "postfix/smtpd"
`,
    "agent.toml",
    env,
  );
  assert.deepEqual(config.to, [">tcp://router.example:5555"]);
  assert.deepEqual(config.inputs.map((i) => `${i.name}:${i.type}`), [
    "web:nginx",
    "mail:postfix",
    "auth:sshd",
    "net:syslog",
    "host:metrics",
    "gen:demo",
    "auth2:journald",
  ]);
  assert.deepEqual(config.inputs[0].values.file, ["/var/log/nginx/access.log"]);
  assert.equal(config.inputs[0].values["format-name"], "main");
  assert.deepEqual(config.inputs[1].values.file, ["/var/log/mail.log"]);
  assert.equal(config.inputs[1].values["deferred-timeout"], "5d"); // the flag's default
  assert.equal(config.inputs[2].values["from-start"], true);
  assert.equal(config.inputs[5].values.rate, "10");
  assert.deepEqual(config.inputs[6].values.unit, ["ssh.service"]);
  assert.deepEqual(config.inputs[6].values.identifier, ["postfix/smtpd"]);
});

Deno.test("every mistake is one line naming the file and the key", () => {
  const cases: [string, RegExp][] = [
    ["bogus = 1", /^a\.toml: bogus: unknown key \(known: to, curve_server, curve_secret, host/],
    ["to = 5", /^a\.toml: to: expected an endpoint/],
    ['to = "tcp://"', /^a\.toml: to: /],
    [
      'to = ">inproc://bus"',
      /^a\.toml: to: >inproc:\/\/bus: inproc:\/\/ reaches only this process/,
    ],
    [
      '[inputs.x]\nfile = "/a"',
      /^a\.toml: inputs\.x\.type: missing \(one of: nginx, postfix, sshd, syslog/,
    ],
    ['[inputs.x]\ntype = "apache"', /^a\.toml: inputs\.x\.type: unknown type 'apache'/],
    ['[inputs.x]\ntype = "constructor"', /^a\.toml: inputs\.x\.type: unknown type 'constructor'/],
    [
      '[inputs.x]\ntype = "sshd"\ntoString = "x"',
      /^a\.toml: inputs\.x\.toString: unknown key for type sshd/,
    ],
    [
      '[inputs.x]\ntype = "sshd"\nfilez = ["/a"]',
      /^a\.toml: inputs\.x\.filez: unknown key for type sshd \(known: type, file,/,
    ],
    ['[inputs.x]\ntype = "sshd"\nto = "tcp://a:1"', /^a\.toml: inputs\.x\.to: unknown key/],
    [
      '[inputs.x]\ntype = "sshd"\nfrom_start = "yes"',
      /^a\.toml: inputs\.x\.from_start: expected true or false, got a string/,
    ],
    [
      '[inputs.x]\ntype = "sshd"\nfile = [1, {}]',
      /^a\.toml: inputs\.x\.file: expected a string or an array of strings, got a table/,
    ],
    [
      '[inputs.x]\ntype = "sshd"\nfile = "${NOPE}"',
      /^a\.toml: inputs\.x\.file: environment variable NOPE is not set/,
    ],
    ["x = [", /^a\.toml: not valid TOML: line 1/],
    // The one --stats-interval and --stats-to rules of every component.
    ['stats_interval = "5ms"', /^a\.toml: stats_interval: must be 0 .* or 100ms or more/],
    ['stats_interval = "soon"', /^a\.toml: stats_interval: must be a duration/],
    ['stats_to = "bogus"', /^a\.toml: stats_to: invalid endpoint 'bogus'/],
    ['[inputs.x]\ntype = "sshd"\nstats_to = "none"', /^a\.toml: inputs\.x\.stats_to: /],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseConfig(text, "a.toml", env), (error: Error) => {
      assert.ok(error instanceof ConfigError, text);
      assert.match(error.message, expected, text);
      assert.ok(!error.message.includes("\n"), `one line: ${error.message}`);
      return true;
    });
  }
});

Deno.test("values are checked by the source's own rules, named as config keys", async () => {
  const check = (text: string) => checkConfig(parseConfig(text, "a.toml", env));
  await assert.rejects(
    check('[inputs.x]\ntype = "sshd"'),
    /^ConfigError: a\.toml: inputs\.x: file: required/,
  );
  const dir = Deno.makeTempDirSync({ prefix: "agent_config_test_" });
  try {
    await assert.rejects(
      check(`[inputs.x]\ntype = "nginx"\nfile = "${dir}"`),
      /a\.toml: inputs\.x: .* is a directory, not a file/,
    );
  } finally {
    Deno.removeSync(dir);
  }
  await assert.rejects(
    check('[inputs.x]\ntype = "postfix"\nfile = "/a"\ntimeout = "soon"'),
    /a\.toml: inputs\.x: .*timeout/,
  );
  await assert.rejects(
    check('[inputs.x]\ntype = "nginx"\nfile = "/a"\nformat_name = "main"'),
    /a\.toml: inputs\.x: format_name main needs nginx_conf/,
  );
  await assert.rejects(
    check('[inputs.x]\ntype = "syslog"\nlisten = ["http://a:1"]'),
    /a\.toml: inputs\.x: listen http:\/\/a:1: expected udp/,
  );
  await check('[inputs.x]\ntype = "metrics"\ninterval = "5s"');
});

Deno.test("interpolation: $${ stays literal, bad names are errors", () => {
  assert.equal(interpolate("a $${X} ${LOGS}", env), "a ${X} /var/log");
  assert.throws(() => interpolate("${1X}", env), /not a variable name/);
});

Deno.test("curve_server and curve_secret at the top level secure the link; mistakes name the key, never a secret", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const router = writeKeyPair(`${dir}/router`);
    const mine = writeKeyPair(`${dir}/web1`);
    const config = parseConfig(
      `to = ">tcp://127.0.0.1:5555"\ncurve_server = "${dir}/router"\ncurve_secret = "${dir}/web1_secret"\n`,
      "a.toml",
      env,
    );
    assert.equal(config.curve?.serverKey, router.publicKey);
    assert.equal(config.curve?.publicKey, mine.publicKey);
    // Two routers with key pairs of their own: one server key each, in the order of `to`.
    const other = writeKeyPair(`${dir}/router2`);
    const two = parseConfig(
      `to = [">tcp://127.0.0.1:5555", ">tcp://127.0.0.1:5556"]\n` +
        `curve_server = ["${dir}/router", "${dir}/router2"]\ncurve_secret = "${dir}/web1_secret"\n`,
      "a.toml",
      env,
    );
    assert.deepEqual(two.curve?.serverKey, [router.publicKey, other.publicKey]);
    assert.throws(
      () =>
        parseConfig(
          `curve_server = ["${dir}/router", "${dir}/router2"]\ncurve_secret = "${dir}/web1_secret"\n`,
          "a.toml",
          env,
        ),
      /^ConfigError: a\.toml: curve_server: 2 server keys \(curve_server\) for 1 endpoint that connects/,
    );
    assert.throws(
      () => parseConfig(`curve_server = [1]\ncurve_secret = "${dir}/web1_secret"\n`, "a.toml", env),
      /curve_server: expected a string or an array of them, got/,
    );
    assert.throws(
      () => parseConfig(`curve_server = "${dir}/router"\n`, "a.toml", env),
      /^ConfigError: a\.toml: curve_server: curve_server needs curve_secret/,
    );
    await Deno.chmod(`${dir}/web1_secret`, 0o644);
    assert.throws(
      () => parseConfig(`curve_secret = "${dir}/web1_secret"\n`, "a.toml", env),
      (error: Error) => {
        assert.match(error.message, /^a\.toml: curve_secret: .*web1_secret/);
        assert.ok(!error.message.includes(mine.secretKey), "no key in the message");
        return true;
      },
    );
    assert.throws(
      () => parseConfig('[inputs.x]\ntype = "sshd"\ncurve_secret = "/k"', "a.toml", env),
      /inputs\.x\.curve_secret: unknown key/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stats_interval and stats_to: any zero is a final line only, none publishes nowhere", () => {
  const read = (text: string) => parseConfig(text, "a.toml", env);
  assert.equal(read("").statsIntervalMs, 60_000);
  assert.equal(read('stats_interval = "0"').statsIntervalMs, 0);
  assert.equal(read('stats_interval = "15s"').statsIntervalMs, 15_000);
  assert.equal(read("").statsTo, undefined);
  assert.equal(read('stats_to = "none"').statsTo, undefined);
  assert.equal(read('stats_to = ">tcp://127.0.0.1:5555"').statsTo, ">tcp://127.0.0.1:5555");
});

Deno.test("every mistake of a config is listed, each on its own line", async () => {
  const text = `bogus = 1
to = 5
stats_interval = "soon"
host = 3
[inputs.a]
type = "sshd"
filez = "/a"
from_start = "yes"
[inputs.b]
type = "apache"
[inputs.c]
type = "postfix"
file = "\${NOPE}"
[inputs.d]
type = "sshd"
[inputs.e]
type = "postfix"
file = "/a"
timeout = "soon"
`;
  const { config, problems } = parseConfigProblems(text, "a.toml", env);
  assert.deepEqual(problems.map((line) => line.split(":").slice(0, 2).join(":")), [
    "a.toml: inputs.c.file",
    "a.toml: bogus",
    "a.toml: to",
    "a.toml: host",
    "a.toml: stats_interval",
    "a.toml: inputs.a.filez",
    "a.toml: inputs.a.from_start",
    "a.toml: inputs.b.type",
  ]);
  assert.ok(problems.every((line) => !line.includes("\n")), problems.join("\n"));
  assert.throws(() => parseConfig(text, "a.toml", env), (error: ConfigError) => {
    assert.deepEqual(error.problems, problems);
    return true;
  });
  // The inputs without a mistake so far go on to have their values checked, all of them.
  assert.deepEqual(config.inputs.map((input) => input.name), ["d", "e"]);
  await assert.rejects(checkConfig(config), (error: ConfigError) => {
    assert.equal(error.problems.length, 2, error.message);
    assert.match(error.problems[0], /^a\.toml: inputs\.d: file: required/);
    assert.match(error.problems[1], /^a\.toml: inputs\.e: .*timeout/);
    return true;
  });
});

Deno.test("a probe finds what would fail at run time: a socket's missing directory, no journalctl", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig(
      `[inputs.s]\ntype = "syslog"\nlisten = ["unix://${dir}/none/log", "unix://${dir}/log"]\n` +
        `[inputs.j]\ntype = "journald"\njournalctl = "${dir}/journalctl"\n` +
        `[inputs.k]\ntype = "journald"\njournalctl = "no-such-journalctl-here"\n`,
      "a.toml",
      env,
    );
    const withState = { ...config, stateDir: dir };
    // Without probing (what a running agent does: it retries instead), all is well.
    await checkConfig(withState);
    await assert.rejects(checkConfig(withState, undefined, { probe: true }), (e: ConfigError) => {
      assert.deepEqual(e.problems, [
        `a.toml: inputs.s: listen: unix://${dir}/none/log: directory ${dir}/none does not exist`,
        `a.toml: inputs.j: journalctl: ${dir}/journalctl is not an executable file`,
        "a.toml: inputs.k: journalctl: no-such-journalctl-here is not found in PATH",
      ]);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
