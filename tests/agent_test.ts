/**
 * `eventstorm agent` as a process: inputs publish through their own streams; SIGHUP
 * keeps an unchanged input running untouched, stops a removed one, starts a new one;
 * a bad new config keeps the old one running and says why; SIGTERM ends with 0.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Collector, type Event } from "@eventstorm/core";
import { CLI, cli, portOf, stderrChild, waitFor } from "./helpers.ts";

function sshLine(i: number): string {
  return `2026-12-03T06:00:${String(i % 60).padStart(2, "0")}.000000+00:00 bastion sshd[${
    100 + i
  }]: Accepted publickey for user${i} from 192.0.2.7 port ${40000 + i} ssh2\n`;
}

/** TCP connections `pid` has established to `port` (from `ss`). */
async function connectionsTo(pid: number, port: number): Promise<number> {
  const out = await new Deno.Command("ss", {
    args: ["-Htnp", "state", "established", "dport", "=", `:${port}`],
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n")
    .filter((line) => line.includes(`pid=${pid},`)).length;
}

async function sendUdp(port: number, lines: string[]): Promise<void> {
  const script = `import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n` +
    `for l in sys.argv[2:]: s.sendto(l.encode(), ('127.0.0.1', int(sys.argv[1])))`;
  const out = await new Deno.Command("python3", { args: ["-c", script, String(port), ...lines] })
    .output();
  assert.ok(out.success);
}

Deno.test({
  name: "agent runs its inputs, reloads on SIGHUP keeping unchanged inputs, refuses a bad config",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "agent_" });
    const collector = await Collector.open({
      endpoints: "@tcp://127.0.0.1:*",
      topics: ["ssh.", "syslog."],
    });
    const port = portOf(collector.boundEndpoint());
    const received: Event[] = [];
    const receiving = (async () => {
      for await (const event of collector.events()) received.push(event);
    })();
    const config = join(dir, "agent.toml");
    const base = `to = ">tcp://127.0.0.1:${port}"\nstate_dir = "${dir}/state"\n` +
      `stats_interval = "0s"\n` +
      `[inputs.auth]\ntype = "sshd"\nfile = ["${dir}/auth.log"]\nfrom_start = true\n`;
    await Deno.writeTextFile(join(dir, "auth.log"), sshLine(0) + sshLine(1) + sshLine(2));
    await Deno.writeTextFile(
      config,
      base + `[inputs.net]\ntype = "syslog"\nlisten = ["udp://127.0.0.1:0"]\ngeneric = true\n`,
    );
    const agent = stderrChild(CLI, ["agent", "--config", config]);
    const { child, stderr } = agent;
    const logins = () => received.filter((e) => e.type === "ssh.login").map((e) => e.user).sort();
    const messages = () => received.filter((e) => e.type === "syslog.message");
    const wait = (what: string, ok: () => boolean) =>
      waitFor(ok, what, 30_000).catch((error) => {
        throw new Error(`${error.message}\n${stderr()}`);
      });
    try {
      await wait("the first logins", () => logins().length === 3);
      await wait("syslog input started", () => stderr().includes("input net (syslog) started"));
      await wait("the port it bound", () => /net \(syslog\): listening on udp:/.test(stderr()));
      const udp = Number(
        /net \(syslog\): listening on udp:\/\/127\.0\.0\.1:(\d+)/.exec(stderr())![1],
      );
      await waitFor(
        async () => {
          await sendUdp(udp, ["<13>Dec  3 06:00:00 h1 cron[1]: tick"]);
          return messages().length > 0;
        },
        "a syslog message",
        30_000,
        500,
      );
      const sources = new Set(received.map((e) => e.type));
      assert.ok(sources.has("ssh.login") && sources.has("syslog.message"));
      // Two inputs, two streams, one connection.
      assert.equal(await connectionsTo(child.pid, port), 1);
      const streams = collector.stats().streams;
      assert.equal(new Set(streams.map((s) => s.source)).size, 2, JSON.stringify(streams));

      // Reload: net removed, auth2 added, auth unchanged.
      await Deno.writeTextFile(join(dir, "auth2.log"), sshLine(10));
      await Deno.writeTextFile(
        config,
        base + `[inputs.auth2]\ntype = "sshd"\nfile = ["${dir}/auth2.log"]\nfrom_start = true\n`,
      );
      child.kill("SIGHUP");
      await wait(
        "the reload",
        () => stderr().includes("started [auth2], stopped [net], unchanged [auth]"),
      );
      await wait("auth2's login", () => logins().includes("user10"));
      await Deno.writeTextFile(join(dir, "auth.log"), sshLine(3), { append: true });
      await wait("auth's new login", () => logins().includes("user3"));
      assert.ok(!stderr().includes("input auth stopped"), stderr());
      assert.equal(await connectionsTo(child.pid, port), 1, "the reload kept the connection");
      const sent = messages().length;
      await sendUdp(udp, ["<13>Dec  3 06:00:01 h1 cron[1]: after"]);

      // A bad config: nothing changes, the reason is printed.
      await Deno.writeTextFile(config, base + `[inputs.auth3]\ntype = "sshd"\nfilez = "x"\n`);
      child.kill("SIGHUP");
      await wait("the refused reload", () => stderr().includes("reload failed"));
      assert.match(
        stderr(),
        /agent: reload failed, the running config stays: .*agent\.toml: inputs\.auth3\.filez: unknown key/,
      );
      await Deno.writeTextFile(join(dir, "auth2.log"), sshLine(11), { append: true });
      await wait("auth2 still running", () => logins().includes("user11"));
      assert.equal(messages().length, sent, "the removed syslog input no longer listens");

      // Stats settings are read at start: a reload that changes them says so.
      await Deno.writeTextFile(
        config,
        base.replace(`stats_interval = "0s"`, `stats_interval = "5s"`) +
          `[inputs.auth2]\ntype = "sshd"\nfile = ["${dir}/auth2.log"]\nfrom_start = true\n`,
      );
      child.kill("SIGHUP");
      await wait(
        "the stats notice",
        () =>
          stderr().includes("unchanged [auth, auth2]; stats_interval and stats_to apply at the"),
      );

      const status = await agent.stop();
      assert.equal(status.code, 0, stderr());
      // Every login once: auth was never restarted, nothing repeated.
      assert.deepEqual(logins(), ["user0", "user1", "user10", "user11", "user2", "user3"]);
    } finally {
      await agent.stop("SIGKILL");
      await collector.close();
      await receiving;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "agent: a reload that stops a file input, and SIGTERM, save its final checkpoint",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "agent_cp_" });
    const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*", topics: ["ssh."] });
    const port = portOf(collector.boundEndpoint());
    const received: Event[] = [];
    const receiving = (async () => {
      for await (const event of collector.events()) received.push(event);
    })();
    const log = join(dir, "auth.log");
    const config = join(dir, "agent.toml");
    const toml = (extra: string) =>
      `to = ">tcp://127.0.0.1:${port}"\nstate_dir = "${dir}/state"\nstats_interval = "0s"\n` +
      `[inputs.auth]\ntype = "sshd"\nfile = ["${log}"]\nfrom_start = true\n${extra}`;
    await Deno.writeTextFile(log, Array.from({ length: 50 }, (_, i) => sshLine(i)).join(""));
    await Deno.writeTextFile(config, toml(""));
    const logins = () => received.filter((e) => e.type === "ssh.login").length;
    const offset = async () => {
      const saved = JSON.parse(await Deno.readTextFile(join(dir, "state", "auth.json")));
      return saved.files[0]?.offset ?? 0;
    };
    let agent = stderrChild(CLI, ["agent", "--config", config]);
    const wait = (what: string, ok: () => boolean) =>
      waitFor(ok, what, 30_000).catch((error) => {
        throw new Error(`${error.message}\n${agent.stderr()}`);
      });
    try {
      await wait("the first 50 logins", () => logins() === 50);
      // A reload that changes the input stops it: its last lines are in its checkpoint.
      await Deno.writeTextFile(config, toml("unparsed = true\n"));
      agent.child.kill("SIGHUP");
      await wait("the reload", () => agent.stderr().includes("started [auth], stopped [auth]"));
      await Deno.writeTextFile(log, sshLine(50), { append: true });
      await wait("the 51st login", () => logins() === 51);
      assert.equal((await agent.stop()).code, 0, agent.stderr());
      assert.equal(await offset(), (await Deno.stat(log)).size, agent.stderr());

      // Restarted, it reads only what is new.
      await Deno.writeTextFile(log, sshLine(51), { append: true });
      agent = stderrChild(CLI, ["agent", "--config", config]);
      await wait("the 52nd login", () => logins() === 52);
      assert.equal((await agent.stop()).code, 0, agent.stderr());
      assert.match(agent.stderr(), /source auth \(sshd\): .*lines 1\b/);
      assert.equal(collector.stats().duplicates, 0, "no line was sent twice");
      assert.equal(collector.stats().lost, 0);
    } finally {
      await agent.stop("SIGKILL");
      await collector.close();
      await receiving;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "agent --check: every mistake on a line of its own, what would fail at run time too, exit 2",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "agent_check_" });
    try {
      const config = join(dir, "agent.toml");
      await Deno.writeTextFile(
        config,
        `bogus = 1\nstate_dir = "${dir}"\n` +
          `[inputs.a]\ntype = "sshd"\nfilez = "/a"\n` +
          `[inputs.s]\ntype = "syslog"\nlisten = ["unix://${dir}/sockdir/log"]\n` +
          `[inputs.j]\ntype = "journald"\njournalctl = "/nonexistent"\n`,
      );
      const out = await cli(["agent", "--config", config, "--check"]).output();
      const lines = new TextDecoder().decode(out.stderr).trim().split("\n");
      assert.equal(out.code, 2, lines.join("\n"));
      assert.deepEqual(lines.map((line) => line.replace(/^(error: [^:]*: [^:]*):.*/, "$1")), [
        `error: ${config}: bogus`,
        `error: ${config}: inputs.a.filez`,
        `error: ${config}: inputs.s`,
        `error: ${config}: inputs.j`,
      ]);
      assert.match(
        lines[2],
        /listen: unix:\/\/.*\/sockdir\/log: directory .*sockdir does not exist/,
      );
      assert.match(lines[3], /journalctl: \/nonexistent is not an executable file/);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "agent: an input that fails is retried with backoff, a reload restarts it, stats show it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "agent_retry_" });
    const config = join(dir, "agent.toml");
    await Deno.writeTextFile(
      config,
      `to = ">tcp://127.0.0.1:1"\nstate_dir = "${dir}"\nstats_interval = "1s"\n` +
        `[inputs.a]\ntype = "syslog"\nlisten = ["unix://${dir}/a/log"]\n` +
        `[inputs.c]\ntype = "syslog"\nlisten = ["unix://${dir}/c/log"]\n`,
    );
    const agent = stderrChild(CLI, ["agent", "--config", config]);
    const wait = (what: string, ok: () => boolean | Promise<boolean>) =>
      waitFor(ok, what, 20_000).catch((error) => {
        throw new Error(`${error.message}\n${agent.stderr()}`);
      });
    const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
    const failuresOf = (name: string) =>
      Math.max(
        0,
        ...[
          ...agent.stderr().matchAll(
            new RegExp(`source ${name} \\(syslog\\): .*failures (\\d+)`, "g"),
          ),
        ]
          .map((match) => Number(match[1])),
      );
    try {
      await wait("both failures", () => /input a failed: .*retrying in 1s/.test(agent.stderr()));
      await wait("c's failure", () => /input c failed: .*retrying in 1s/.test(agent.stderr()));
      await wait(
        "a stats line saying so",
        () => /source a \(syslog\): .*failures \d+; FAILING, retrying: /.test(agent.stderr()),
      );
      // Retried, and the same error is not logged again.
      await wait("a retry", () => /source a \(syslog\): .*failures [2-9]/.test(agent.stderr()));
      assert.equal(agent.stderr().match(/input a failed/g)?.length, 1, agent.stderr());

      // c's directory appears: the backoff brings c up by itself.
      await Deno.mkdir(join(dir, "c"));
      await wait("c's socket", () => exists(join(dir, "c", "log")));
      // a retries on the same schedule as c: its directory must appear only after
      // that same retry failed, or a comes up by itself and the reload keeps it.
      const cFailures = failuresOf("c");
      await wait("a's retry beside c's to fail", () => failuresOf("a") > cFailures);
      // a's appears: a reload restarts a at once, and leaves c running.
      await Deno.mkdir(join(dir, "a"));
      agent.child.kill("SIGHUP");
      await wait(
        "the reload",
        () => agent.stderr().includes("started [a], stopped [a], unchanged [c]"),
      );
      await wait("a's socket", () => exists(join(dir, "a", "log")));
      assert.equal((await agent.stop()).code, 0, agent.stderr());
    } finally {
      await agent.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
