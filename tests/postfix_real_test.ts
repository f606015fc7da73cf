/**
 * The Postfix source against a real Postfix: scripts/postfix.sh starts a
 * loopback-only Postfix that logs to a fresh file, the test sends mail with
 * `smtp-source` and `sendmail` (deliveries, several recipients, rejects, bounces,
 * a deferral that expires), runs `sources/postfix/main.ts --once --print` over the
 * log, checks the transactions, and compares totals with `pflogsumm` on the same
 * file. Then the same Postfix logs through syslog(3), as it does by default:
 * Debian's rsyslog (scripts/rsyslog.sh) reads /dev/log, writes its own mail log
 * and forwards to `eventstorm source syslog` over TCP, whose transactions must
 * equal the file source's on rsyslog's file. Without Postfix (not root, no apt)
 * the tests are skipped, or fail under CI=true.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Collector, type Event } from "@eventstorm/core";
import { LineSource } from "@eventstorm/core/source";
import { PostfixTracker } from "@eventstorm/source-postfix";
import { GatherOutput } from "./file_events.ts";
import { syslogSource, waitFor } from "./helpers.ts";

const SCRIPT = fileURLToPath(new URL("../scripts/postfix.sh", import.meta.url));
const RSYSLOG = fileURLToPath(new URL("../scripts/rsyslog.sh", import.meta.url));
const MAIN = fileURLToPath(new URL("../sources/postfix/main.ts", import.meta.url));
const CI = Deno.env.get("CI") === "true";
const decoder = new TextDecoder();

async function run(
  command: string,
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(command, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function startPostfix(log: string): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "Postfix tests run on Linux only";
  try {
    const out = await run("bash", [SCRIPT, "start", log]);
    return out.code === 0 ? undefined : `scripts/postfix.sh start failed: ${out.stderr.trim()}`;
  } catch (error) {
    return `cannot run scripts/postfix.sh: ${error instanceof Error ? error.message : error}`;
  }
}

const dir = await Deno.makeTempDir({ prefix: "postfix_real_" });
const LOG = join(dir, "mail.log");
const unavailable = await startPostfix(LOG);
if (unavailable && !CI) console.warn(`skipping real Postfix test: ${unavailable}`);

/** smtp-source: `-m` messages with `-r` recipients each, from root@localhost to `to`. */
function smtpSource(to: string, options: { messages?: number; recipients?: number } = {}) {
  return run("smtp-source", [
    "-m",
    String(options.messages ?? 1),
    "-r",
    String(options.recipients ?? 1),
    "-f",
    "root@localhost",
    "-t",
    to,
    "127.0.0.1:25",
  ]);
}

interface Recipient {
  to: string;
  orig_to?: string;
  status: string;
  attempts: number;
}

type Doc = Record<string, unknown>;

/** Totals as pflogsumm prints them under "Grand Totals". */
function pflogsummTotals(report: string): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const name of ["received", "delivered", "deferred", "bounced", "rejected"]) {
    const match = report.match(new RegExp(`^\\s*(\\d+)\\s+${name}\\b`, "m"));
    if (match) totals[name] = Number(match[1]);
  }
  const deferrals = report.match(/\((\d+)\s+deferrals\)/);
  totals.deferrals = deferrals ? Number(deferrals[1]) : 0;
  return totals;
}

Deno.test({
  name: "real Postfix: transactions, rejects, bounces and pflogsumm totals",
  ignore: unavailable !== undefined && !CI,
  async fn() {
    if (unavailable) throw new Error(unavailable);
    try {
      // Three single-recipient messages, then one with three recipients
      // (rcpt, 2rcpt, 3rcpt: all aliases of root).
      assert.equal((await smtpSource("alice@localhost", { messages: 3 })).code, 0);
      assert.equal((await smtpSource("rcpt@localhost", { recipients: 3 })).code, 0);
      // Refused at RCPT time: smtp-source gives up, the session logs a NOQUEUE reject.
      assert.notEqual((await smtpSource("x@reject.test")).code, 0);
      assert.notEqual((await smtpSource("nosuch@localhost")).code, 0);
      // Accepted, then bounced by local delivery; a notification goes back to root.
      assert.equal((await smtpSource("user@bounce.test")).code, 0);
      // Deferred (the relay refuses connections) until it expires after 5s.
      assert.equal((await smtpSource("someone@defer.test")).code, 0);
      // sendmail: three aliases and one unknown user.
      const sendmail = await run(
        "sendmail",
        ["-f", "root", "alice", "bob", "nosuchuser", "carol"],
        "Subject: eventstorm test\n\nhello\n",
      );
      assert.equal(sendmail.code, 0, sendmail.stderr);

      // showq can miss a message that qmgr is moving between its queues (deferred
      // to active for the next attempt): the queue counts as empty once the
      // deferred message has expired and two listings in a row are empty.
      let queue = "";
      let emptyBefore = false;
      let flushedAt = Date.now();
      await waitFor(
        async () => {
          queue = (await run("postqueue", ["-p"])).stdout;
          // qmgr can leave a message it logged as "skipped, still being delivered" in
          // the deferred queue past its retry time (once in a full run: no attempt for
          // 90 s); a flush asks for the attempt the schedule should have made.
          if (!queue.includes("Mail queue is empty") && Date.now() - flushedAt > 5000) {
            await run("postqueue", ["-f"]);
            flushedAt = Date.now();
          }
          const empty = queue.includes("Mail queue is empty") &&
            (await Deno.readTextFile(LOG)).includes("status=expired, returned to sender");
          const done = empty && emptyBefore;
          emptyBefore = empty;
          return done;
        },
        "the Postfix queue to empty",
        90_000,
        250,
      ).catch(async (error) => {
        throw new Error(
          `${error.message}:\n${queue}\n--- ${LOG}:\n${await Deno.readTextFile(LOG)}`,
        );
      });
      // The last `removed` can reach the file just after the queue looks empty.
      let previous = -1;
      await waitFor(
        async () => {
          const size = (await Deno.stat(LOG)).size;
          const settled = size === previous;
          previous = size;
          return settled;
        },
        "the mail log to settle",
        90_000,
        250,
      );

      const result = await run(Deno.execPath(), [
        "run",
        "-A",
        MAIN,
        "--file",
        LOG,
        "--once",
        "--print",
      ]);
      assert.equal(result.code, 0, result.stderr);
      const events: Doc[] = result.stdout.split("\n").filter((l) => l.trim()).map((l) =>
        JSON.parse(l)
      );
      const txs = events.filter((e) => e.type === "smtp.transaction");
      const rejects = events.filter((e) => e.type === "smtp.reject");
      const deferred = events.filter((e) => e.type === "smtp.deferred");
      const byId = new Map(txs.map((t) => [t.queue_id as string, t]));
      const recipients = (t: Doc) => t.recipients as Recipient[];

      // 3 + 1 + 1 + 1 + 1 messages sent, plus 3 notifications (bounce.test,
      // defer.test, sendmail's unknown user); nothing left open or cut off.
      if (txs.length !== 10) {
        // Keep what a failure needs for diagnosis: the transactions and the log.
        const log = await Deno.readTextFile(LOG);
        assert.fail(
          `${txs.length} transactions, expected 10:\n${
            txs.map((t) => JSON.stringify(t)).join("\n")
          }\n--- ${LOG}:\n${log}`,
        );
      }
      assert.ok(txs.every((t) => t.incomplete === undefined && t.partial === undefined));

      const singles = txs.filter((t) =>
        recipients(t).length === 1 && recipients(t)[0].orig_to === "alice@localhost"
      );
      assert.equal(singles.length, 3);
      for (const t of singles) {
        assert.equal(t.client, "localhost[127.0.0.1]");
        assert.equal(t.from, "root@localhost");
        assert.equal(typeof t.message_id, "string");
        assert.equal(recipients(t)[0].to, "root@localhost");
        assert.equal(recipients(t)[0].status, "sent");
      }

      const multi = txs.find((t) => t.nrcpt === 3);
      assert.ok(multi, "the three-recipient message");
      assert.deepEqual(
        recipients(multi).map((r) => `${r.orig_to}:${r.status}`).sort(),
        ["2rcpt@localhost:sent", "3rcpt@localhost:sent", "rcpt@localhost:sent"],
      );

      assert.deepEqual(
        rejects.map((r) => [r.to, r.code, r.stage]).sort(),
        [["nosuch@localhost", 550, "RCPT"], ["x@reject.test", 554, "RCPT"]],
      );

      const bounced = txs.find((t) => recipients(t)[0]?.orig_to === "user@bounce.test");
      assert.ok(bounced, "the bounce.test message");
      assert.equal(recipients(bounced)[0].status, "bounced");
      const bounceNotice = byId.get(bounced.bounce_queue_id as string);
      assert.ok(bounceNotice, "its non-delivery notification");
      assert.equal(bounceNotice.parent_queue_id, bounced.queue_id);
      assert.equal(bounceNotice.from, "");
      assert.equal(recipients(bounceNotice)[0].status, "sent");

      const expired = txs.find((t) => recipients(t)[0]?.to === "someone@defer.test");
      assert.ok(expired, "the defer.test message");
      assert.equal(expired.expired, true);
      assert.equal(recipients(expired)[0].status, "expired");
      const itsDeferrals = deferred.filter((d) => d.queue_id === expired.queue_id);
      assert.ok(itsDeferrals.length >= 1);
      assert.equal(recipients(expired)[0].attempts, itsDeferrals.length);
      assert.equal(byId.get(expired.bounce_queue_id as string)?.parent_queue_id, expired.queue_id);

      const local = txs.find((t) => t.uid === 0);
      assert.ok(local, "the sendmail message");
      assert.deepEqual(
        recipients(local).map((r) => `${r.orig_to}:${r.status}`).sort(),
        ["alice:sent", "bob:sent", "carol:sent", "nosuchuser:bounced"],
      );
      assert.equal(byId.get(local.bounce_queue_id as string)?.parent_queue_id, local.queue_id);

      // The same log through pflogsumm.
      const report = await run("pflogsumm", [LOG]);
      assert.equal(report.code, 0, report.stderr);
      const theirs = pflogsummTotals(report.stdout);
      const all = txs.flatMap(recipients);
      const ours = {
        received: txs.filter((t) => t.client !== undefined || t.uid !== undefined).length,
        delivered: all.filter((r) => r.status === "sent").length,
        deferred: new Set(deferred.map((d) => d.queue_id)).size,
        deferrals: deferred.length,
        bounced: all.filter((r) => r.status === "bounced").length,
        rejected: rejects.length,
      };
      assert.deepEqual(ours, theirs, report.stdout.slice(0, 800));
      assert.equal(ours.received, 7);
    } finally {
      await run("bash", [SCRIPT, "stop"]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

/** Resolves once `postqueue -p` is empty twice in a row and `log` stops growing. */
async function queueDrained(log: string): Promise<void> {
  let emptyBefore = false;
  await waitFor(
    async () => {
      const empty = (await run("postqueue", ["-p"])).stdout.includes("Mail queue is empty");
      const done = empty && emptyBefore;
      emptyBefore = empty;
      return done;
    },
    "the Postfix queue to empty",
    90_000,
    250,
  );
  let previous = -1;
  await waitFor(
    async () => {
      const size = (await Deno.stat(log).catch(() => ({ size: -2 }))).size;
      const settled = size === previous && size > 0;
      previous = size;
      return settled;
    },
    `${log} to settle`,
    90_000,
    500,
  );
}

/** The events as the tests compare them: JSON with ISO times, sorted. */
function canonical(events: Event[], type: string): string[] {
  return events.filter((e) => e.type === type).map((e) => {
    const { time, ...rest } = e;
    return JSON.stringify({ ...rest, time: new Date(time as Date).toISOString() });
  }).sort();
}

Deno.test({
  name:
    "real Postfix through syslog: rsyslog on /dev/log forwards to `source syslog`, same transactions as its file",
  ignore: unavailable !== undefined && !CI,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (unavailable) throw new Error(unavailable);
    const work = await Deno.makeTempDir({ prefix: "postfix_syslog_" });
    const collector = await Collector.open({
      endpoints: "@tcp://127.0.0.1:*",
      topics: ["smtp."],
    });
    const received: Event[] = [];
    const receiving = (async () => {
      for await (const event of collector.events()) received.push(event);
    })();
    const source = await syslogSource("tcp://127.0.0.1:0", collector.boundEndpoint(), ["--utc"]);
    const stderr = source.stderr;
    try {
      const rsyslog = await run("bash", [
        RSYSLOG,
        "start",
        work,
        String(source.port),
        "octet-counted",
        "/dev/log",
      ]);
      assert.equal(rsyslog.code, 0, rsyslog.stderr);
      const started = await run("bash", [SCRIPT, "start", "syslog"]);
      assert.equal(started.code, 0, started.stderr);

      assert.equal((await smtpSource("alice@localhost", { messages: 3 })).code, 0);
      assert.equal((await smtpSource("rcpt@localhost", { recipients: 3 })).code, 0);
      assert.notEqual((await smtpSource("x@reject.test")).code, 0);
      assert.equal((await smtpSource("user@bounce.test")).code, 0);
      const sendmail = await run(
        "sendmail",
        ["-f", "root", "alice", "bob", "nosuchuser", "carol"],
        "Subject: eventstorm syslog test\n\nhello\n",
      );
      assert.equal(sendmail.code, 0, sendmail.stderr);
      const file = join(work, "messages.log");
      await queueDrained(file);

      // rsyslog's own file through the Postfix file source.
      const out = new GatherOutput();
      await new LineSource({
        paths: [file],
        once: true,
        fromStart: true,
        parser: new PostfixTracker({ utc: true }),
        host: "here",
        output: () => out,
      }).run();
      const want = canonical(out.events, "smtp.transaction");
      // 3 + 1 + 1 messages over SMTP, the one sendmail sent, and two non-delivery notices.
      assert.equal(want.length, 8, (await Deno.readTextFile(file)).slice(-3000));

      // Transactions still open (none here) go out when the source stops, as the file
      // source sends them at the end of its input.
      await waitFor(
        () => canonical(received, "smtp.transaction").length >= want.length,
        "the transactions over syslog",
        30_000,
      ).catch((error) => {
        throw new Error(`${error.message}: ${received.length} events\n${stderr()}`);
      });
      await source.stop();
      for (const type of ["smtp.transaction", "smtp.reject"]) {
        assert.deepEqual(canonical(received, type), canonical(out.events, type), type);
      }
      // Every line rsyslog wrote came over TCP too; only rsyslogd's own are not Postfix's.
      const lines = (await Deno.readTextFile(file)).split("\n").filter((l) => l !== "");
      const others = lines.filter((l) => !/ postfix\/[a-z-]+\[\d+\]: /.test(l));
      assert.match(
        stderr(),
        new RegExp(
          `messages ${lines.length}, events \\d+, unparsed 0, ignored ${others.length}, too long 0, ` +
            `bad frames 0, kernel drops 0\n`,
        ),
      );
    } finally {
      await source.stop("SIGKILL");
      await run("bash", [SCRIPT, "stop"]);
      await run("bash", [RSYSLOG, "stop", work]);
      await collector.close();
      await receiving;
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});
