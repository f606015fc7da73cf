/**
 * The journald source on real journal files written by Debian's
 * systemd-journal-remote (scripts/journald.sh) from export streams, read with
 * journalctl --file: the same Postfix and sshd lines give the same events as the
 * file sources; following survives a killed journalctl and a restarted source with
 * nothing lost or repeated.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Collector, type Event } from "@eventstorm/core";
import { SyslogParser } from "@eventstorm/core/source";
import { LogGenerator } from "../cli/demo/loggen.ts";
import { PostfixTracker } from "@eventstorm/source-postfix";
import { SshdParser } from "@eventstorm/source-sshd";
import { JournaldSource, JournalRouter } from "@eventstorm/source-journald";
import { CLI, stderrChild, waitFor } from "./helpers.ts";
import { fileSourceEvents, GatherOutput } from "./file_events.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = join(ROOT, "scripts", "journald.sh");
const CI = Deno.env.get("CI") === "true";

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { ok: out.success, out: text.trim() };
  } catch (error) {
    return { ok: false, out: String(error) };
  }
}

const install = await run("bash", [SCRIPT, "install"]);
const remote = install.ok ? (await run("bash", [SCRIPT, "remote-bin"])).out : "";
const unavailable = install.ok && remote ? undefined : `scripts/journald.sh: ${install.out}`;
if (unavailable && !CI) console.warn(`skipping journald tests: ${unavailable}`);

const MONO = { n: 1000 };

/** Journal export entries of syslog lines (as journald would have stored them). */
function exportOf(lines: string[]): Uint8Array {
  const syslog = new SyslogParser({ utc: true });
  const text = lines.map((line) => {
    const h = syslog.parse(line, new Date("2026-12-03T12:00:00Z"))!;
    assert.ok(h, line);
    const us = BigInt(h.time.getTime()) * 1000n;
    // The units Debian runs them in, as journald records them.
    const unit = h.program === "sshd" ? "ssh.service" : "postfix@-.service";
    return `__REALTIME_TIMESTAMP=${us}\n__MONOTONIC_TIMESTAMP=${MONO.n++}\n` +
      `_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=${h.host}\n` +
      `_SYSTEMD_UNIT=${unit}\nSYSLOG_IDENTIFIER=${h.program}\n_PID=${h.pid}\nPRIORITY=6\n` +
      `MESSAGE=${h.message}\n\n`;
  }).join("");
  return new TextEncoder().encode(text);
}

async function appendJournal(journal: string, lines: string[]): Promise<void> {
  const input = journal.replace(/\.journal$/, `-${MONO.n}.export`);
  await Deno.writeFile(input, exportOf(lines));
  const result = await run(remote, [`--output=${journal}`, input]);
  assert.ok(result.ok, result.out);
}

/** Mail and sshd lines from the demo generator, on host mx1 in UTC. */
function mailAndAuth(seed: number, transactions: number, logins: number) {
  let clock = Date.parse("2026-12-03T06:00:00Z");
  const gen = new LogGenerator({
    seed,
    hostname: "mx1",
    utcOffsetMinutes: 0,
    now: () => new Date(clock += 700),
  });
  const mail: string[] = [];
  for (let i = 0; i < transactions; i++) mail.push(...gen.postfixTransaction());
  const auth = Array.from({ length: logins }, () => gen.sshdLine());
  return { mail, auth };
}

/** The events of one pass of the journald source over `journal`, with `filter`. */
async function readJournal(
  journal: string,
  filter: { units?: string[]; identifiers?: string[] } = {},
): Promise<Event[]> {
  const out = new GatherOutput();
  await new JournaldSource({
    router: new JournalRouter({
      postfix: new PostfixTracker({ utc: true }),
      sshd: new SshdParser({ utc: true }),
    }),
    output: () => out,
    host: "here",
    files: [journal],
    once: true,
    ...filter,
  }).run();
  return out.events;
}

function canonical(events: Event[], type: string): string[] {
  return events.filter((e) => e.type === type).map((e) => JSON.stringify(e)).sort();
}

Deno.test({
  name: "journald source on a real journal file gives the file sources' Postfix and sshd events",
  ignore: unavailable !== undefined && !CI,
  async fn() {
    if (unavailable) throw new Error(`journald tooling is required under CI: ${unavailable}`);
    const dir = await Deno.makeTempDir({ prefix: "journald_" });
    try {
      const { mail, auth } = mailAndAuth(42, 150, 200);
      const journal = join(dir, "remote.journal");
      await appendJournal(journal, [...mail, ...auth]);

      const fromJournal = { events: await readJournal(journal) };

      const fromFiles = { events: await fileSourceEvents(dir, mail, auth) };
      for (const type of ["smtp.transaction", "smtp.reject", "ssh.login"]) {
        const a = canonical(fromJournal.events, type);
        const b = canonical(fromFiles.events, type);
        assert.deepEqual(a, b, type);
      }
      assert.ok(canonical(fromFiles.events, "smtp.transaction").length >= 100);
      assert.ok(canonical(fromFiles.events, "ssh.login").length >= 100);
      assert.ok(fromJournal.events.every((e) => e.host === "mx1"), "the journal's hostname");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "journald source filtered by unit or identifier reads only those entries",
  ignore: unavailable !== undefined && !CI,
  async fn() {
    if (unavailable) throw new Error(`journald tooling is required under CI: ${unavailable}`);
    const dir = await Deno.makeTempDir({ prefix: "journald_filter_" });
    try {
      const { mail, auth } = mailAndAuth(7, 60, 80);
      const journal = join(dir, "remote.journal");
      await appendJournal(journal, [...mail, ...auth]);
      const fromFiles = await fileSourceEvents(dir, mail, auth);
      for (const filter of [{ units: ["ssh.service"] }, { identifiers: ["sshd"] }]) {
        const events = await readJournal(journal, filter);
        assert.deepEqual(
          canonical(events, "ssh.login"),
          canonical(fromFiles, "ssh.login"),
          JSON.stringify(filter),
        );
        assert.ok(canonical(events, "ssh.login").length > 0);
        assert.equal(events.filter((e) => e.type.startsWith("smtp.")).length, 0);
      }
      const mailOnly = await readJournal(journal, { units: ["postfix@-.service"] });
      assert.deepEqual(
        canonical(mailOnly, "smtp.transaction"),
        canonical(fromFiles, "smtp.transaction"),
      );
      assert.equal(mailOnly.filter((e) => e.type.startsWith("ssh.")).length, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "journald source follows; a killed journalctl and a restarted source lose and repeat nothing",
  ignore: unavailable !== undefined && !CI,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (unavailable) throw new Error(`journald tooling is required under CI: ${unavailable}`);
    const dir = await Deno.makeTempDir({ prefix: "journald_follow_" });
    const collector = await Collector.open({
      endpoints: "@tcp://127.0.0.1:*",
      topics: ["ssh."],
    });
    const received: Event[] = [];
    const receiving = (async () => {
      for await (const event of collector.events()) received.push(event);
    })();
    const journal = join(dir, "remote.journal");
    let n = 0;
    const logins = (count: number) =>
      Array.from({ length: count }, () => {
        const i = n++;
        return `Dec  3 06:${String(Math.floor(i / 60) % 60).padStart(2, "0")}:${
          String(i % 60).padStart(2, "0")
        } bastion sshd[${1000 + i}]: Accepted publickey for user${i} from 192.0.2.7 port ${
          30000 + i
        } ssh2`;
      });
    let source: ReturnType<typeof stderrChild> | undefined;
    const start = () =>
      source = stderrChild(CLI, [
        "source",
        "journald",
        "--file",
        journal,
        "--from-start",
        "--checkpoint",
        join(dir, "cp.json"),
        "--to",
        collector.boundEndpoint(),
        "--stats-interval",
        "0s",
      ]);
    const users = () => received.map((e) => String(e.user));
    const waitCount = (count: number, what: string) =>
      waitFor(() => new Set(users()).size >= count, what, 30_000).catch((error) => {
        throw new Error(`${error.message}: ${new Set(users()).size}/${count}\n${source?.stderr()}`);
      });
    try {
      await appendJournal(journal, logins(50));
      const first = start();
      await waitCount(50, "the first 50");
      // Kill the journalctl the source runs: it starts another after the last cursor.
      const pids = await run("pgrep", ["-P", String(first.child.pid), "journalctl"]);
      assert.ok(pids.ok, `journalctl child of ${first.child.pid}: ${pids.out}`);
      for (const pid of pids.out.split("\n")) Deno.kill(Number(pid), "SIGKILL");
      await appendJournal(journal, logins(50));
      await waitCount(100, "after journalctl was killed");
      // Restart the source itself: it resumes from its checkpointed cursor.
      assert.equal((await first.stop()).code, 0, first.stderr());
      assert.match(first.stderr(), /journalctl restarts 1/);
      await appendJournal(journal, logins(50));
      const second = start();
      await waitCount(150, "after the source restarted");
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await second.stop();
      assert.equal(received.length, 150, "each login once");
      assert.equal(new Set(users()).size, 150);
    } finally {
      await source?.stop("SIGKILL");
      await collector.close();
      await receiving;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
