import assert from "node:assert/strict";
import { PostfixTracker } from "@eventstorm/source-postfix";
import { SshdParser } from "@eventstorm/source-sshd";
import { nginxParser } from "@eventstorm/source-nginx";
import { SyslogParser } from "@eventstorm/core/source";
import { SyslogRouter } from "./router.ts";
import { fuzzParser } from "../../tests/fuzz.ts";

const readAt = new Date("2026-12-03T07:00:00Z");
const ctx = { path: "udp://127.0.0.1:5514", host: "me", readAt };

function router(generic = false) {
  return new SyslogRouter({
    nginx: nginxParser({}),
    postfix: new PostfixTracker({ timeout: 3_600_000, deferredTimeout: 5 * 86_400_000, utc: true }),
    sshd: new SshdParser({ utc: true }),
    generic,
    utc: true,
  });
}

Deno.test("nginx's syslog line (RFC 3164 with PRI) gives an http.hit with the message's host", () => {
  const r = router();
  const events = r.parse(
    '<190>Dec  3 06:59:59 web1 nginx: 192.0.2.9 - - [03/Dec/2026:06:59:59 +0000] "GET /a?b=1 HTTP/1.1" 200 12 "-" "curl/8"',
    ctx,
  );
  assert.equal(events?.length, 1);
  assert.equal(events![0].type, "http.hit");
  assert.equal(events![0].host, "web1");
  assert.equal(events![0].status, 200);
  assert.equal(r.stats.routed.nginx, 1);
});

Deno.test("sshd in RFC 5424 and Postfix with a leading year reach their parsers", () => {
  const r = router();
  const [login] = r.parse(
    "<38>1 2026-12-03T06:59:58.123456+00:00 bastion sshd 812 - - Accepted publickey for ann from 192.0.2.7 port 50122 ssh2",
    ctx,
  )!;
  assert.equal(login.type, "ssh.login");
  assert.equal(login.host, "bastion");
  assert.equal(login.user, "ann");
  assert.equal((login.time as Date).toISOString(), "2026-12-03T06:59:58.123Z");
  const lines = [
    "<22>2026 Dec 03 06:00:00.100 mx postfix/smtpd[5530]: connect from c[192.0.2.1]",
    "<22>2026 Dec 03 06:00:00.200 mx postfix/smtpd[5530]: 4ABC1: client=c[192.0.2.1]",
    "<22>2026 Dec 03 06:00:00.300 mx postfix/cleanup[5531]: 4ABC1: message-id=<m@x>",
    "<22>2026 Dec 03 06:00:00.400 mx postfix/qmgr[100]: 4ABC1: from=<a@x>, size=300, nrcpt=1 (queue active)",
    "<22>2026 Dec 03 06:00:00.500 mx postfix/local[5532]: 4ABC1: to=<b@y>, relay=local, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered)",
    "<22>2026 Dec 03 06:00:00.600 mx postfix/qmgr[100]: 4ABC1: removed",
  ];
  const events = lines.flatMap((line) => r.parse(line, ctx) ?? []);
  const tx = events.filter((e) => e.type === "smtp.transaction");
  assert.equal(tx.length, 1);
  assert.equal(tx[0].host, "mx");
  assert.equal(r.stats.routed.postfix, 6);
});

Deno.test("other programs: ignored and counted, or syslog.message with facility and severity", () => {
  const line = "<86>Dec  3 06:59:59 web1 CRON[99]: (root) CMD (true)";
  const quiet = router();
  assert.deepEqual(quiet.parse(line, ctx), []);
  assert.equal(quiet.stats.ignored, 1);
  const [event] = router(true).parse(line, ctx)!;
  assert.equal(event.type, "syslog.message");
  assert.equal(event.program, "CRON");
  assert.equal(event.pid, 99);
  assert.equal(event.facility, 10);
  assert.equal(event.severity, 6);
  assert.equal(router(true).parse("<13>no header at all", ctx), undefined);
});

Deno.test("fuzz: random and mutated messages never throw from the router", () => {
  const r = router(true);
  const header = new SyslogParser({ utc: true });
  const samples = [
    '<190>Dec  3 06:59:59 web1 nginx: 192.0.2.9 - - [03/Dec/2026:06:59:59 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
    '<38>1 2026-12-03T06:59:58Z bastion sshd 812 - [a b="]"] Failed password for x from 1.2.3.4 port 1 ssh2',
    "<22>2026 Dec 03 06:00:00.100 mx postfix/smtpd[5530]: 4A: client=c[192.0.2.1]",
    "<13>Dec  3 06:00:00 h1 cron[1]: tick",
  ];
  fuzzParser(samples, (line) => {
    const parsed = header.parse(line, readAt);
    if (parsed) assert.ok(!Number.isNaN(parsed.time.getTime()), `a header time from ${line}`);
    return r.parse(line, ctx);
  });
});
