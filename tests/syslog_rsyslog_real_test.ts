/**
 * Debian's rsyslog (scripts/rsyslog.sh) reads Postfix and sshd messages from a
 * /dev/log-like socket, as glibc's syslog(3) writes them, and forwards them over
 * TCP to `eventstorm source syslog`, with RFC 6587 octet counting and with LF
 * framing: the transactions and logins equal the file sources' on the same lines.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Collector, type Event } from "@eventstorm/core";
import { LogGenerator } from "../cli/demo/loggen.ts";
import { syslogSource, waitFor } from "./helpers.ts";
import { fileSourceEvents } from "./file_events.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = join(ROOT, "scripts", "rsyslog.sh");
const CI = Deno.env.get("CI") === "true";

async function script(args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("bash", { args: [SCRIPT, ...args], stderr: "piped" })
      .output();
    return out.success ? undefined : new TextDecoder().decode(out.stderr).trim();
  } catch (error) {
    return String(error);
  }
}

const unavailable = await script(["install"]);
if (unavailable && !CI) console.warn(`skipping rsyslog test: ${unavailable}`);

function canonical(events: Event[], type: string): string[] {
  return events.filter((e) => e.type === type).map((e) => {
    const { time, ...rest } = e;
    return JSON.stringify({ ...rest, time: new Date(time as Date).toISOString() });
  }).sort();
}

for (const framing of ["octet-counted", "traditional"]) {
  Deno.test({
    name:
      `rsyslog forwards Postfix and sshd over TCP (${framing} framing): same events as the files`,
    ignore: unavailable !== undefined && !CI,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      if (unavailable) throw new Error(`rsyslog is required under CI: ${unavailable}`);
      const dir = await Deno.makeTempDir({ prefix: "rsyslog_" });
      const collector = await Collector.open({
        endpoints: "@tcp://127.0.0.1:*",
        topics: ["smtp.", "ssh."],
      });
      const received: Event[] = [];
      const receiving = (async () => {
        for await (const event of collector.events()) received.push(event);
      })();
      let source: Awaited<ReturnType<typeof syslogSource>> | undefined;
      try {
        let clock = Date.parse("2026-12-03T05:00:00Z");
        const gen = new LogGenerator({
          seed: 7,
          hostname: "mx1",
          utcOffsetMinutes: 0,
          now: () => new Date(clock += 900),
        });
        const mail: string[] = [];
        for (let i = 0; i < 100; i++) mail.push(...gen.postfixTransaction());
        const auth = Array.from({ length: 100 }, () => gen.sshdLine());

        source = await syslogSource("tcp://127.0.0.1:0", collector.boundEndpoint(), ["--utc"]);
        const stderr = source.stderr;
        const started = await script(["start", dir, String(source.port), framing]);
        assert.equal(started, undefined, started);

        // What glibc's syslog(3) sends to /dev/log: `<PRI>Mmm dd hh:mm:ss tag[pid]: message`.
        const datagrams = [...mail.map((l) => `<22>${l}`), ...auth.map((l) => `<38>${l}`)]
          .map((line) => line.replace(" mx1 ", " "));
        await Deno.writeTextFile(join(dir, "lines"), datagrams.join("\n") + "\n");
        const sent = await new Deno.Command("python3", {
          args: [
            "-c",
            `import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.connect(sys.argv[1])
for line in open(sys.argv[2]): s.send(line.rstrip('\\n').encode())`,
            join(dir, "log.sock"),
            join(dir, "lines"),
          ],
        }).output();
        assert.ok(sent.success, new TextDecoder().decode(sent.stderr));

        const files = { events: await fileSourceEvents(dir, mail, auth) };
        // The logins were sent after the mail: once they are in, so is every mail line.
        // Transactions still waiting (deferred mail) are sent when the source stops, as
        // the file source sends them at the end of its input.
        const want = canonical(files.events, "ssh.login").length;
        await waitFor(
          () => received.filter((e) => e.type === "ssh.login").length >= want,
          "every login",
          30_000,
        ).catch((error) => {
          throw new Error(
            `${error.message}: ${received.length} received, want ${want}\n${stderr()}`,
          );
        });
        await new Promise((resolve) => setTimeout(resolve, 500));
        await source.stop();
        await waitFor(
          () =>
            canonical(received, "smtp.transaction").length >=
              canonical(files.events, "smtp.transaction").length,
          "the transactions sent at shutdown",
          10_000,
        ).catch(() => {});
        for (const type of ["smtp.transaction", "ssh.login"]) {
          assert.deepEqual(canonical(received, type), canonical(files.events, type), type);
        }
        assert.ok(canonical(received, "smtp.transaction").length >= 60);
        assert.match(stderr(), /unparsed 0, ignored 0, too long 0, bad frames 0/);
      } finally {
        await source?.stop("SIGKILL");
        await script(["stop", dir]);
        await collector.close();
        await receiving;
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}
