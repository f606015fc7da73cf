import assert from "node:assert/strict";
import { parseSyslogLine, SyslogParser } from "./syslog.ts";

const readAt = new Date("2026-11-24T00:00:00Z");

Deno.test("BSD header with pid (real Postfix line)", () => {
  const line = parseSyslogLine(
    "Oct 22 02:13:41 conch postfix/smtpd[26895]: connect from jurann.biz[77.95.228.43]",
    { utc: true, readAt },
  );
  assert.deepEqual(line, {
    time: new Date("2026-10-22T02:13:41Z"),
    host: "conch",
    program: "postfix/smtpd",
    pid: 26895,
    message: "connect from jurann.biz[77.95.228.43]",
  });
});

Deno.test("BSD header: space-padded day, tag without pid, message keeps inner spaces", () => {
  const syslog = new SyslogParser({ utc: true });
  const line = syslog.parse(
    "Apr  6 20:48:25 ip-10-77-20-248 sudo:   ubuntu : TTY=pts/0 ; PWD=/home/ubuntu",
    readAt,
  );
  assert.equal(line?.time.toISOString(), "2026-04-06T20:48:25.000Z");
  assert.equal(line?.host, "ip-10-77-20-248");
  assert.equal(line?.program, "sudo");
  assert.equal(line?.pid, undefined);
  assert.equal(line?.message, "  ubuntu : TTY=pts/0 ; PWD=/home/ubuntu");
});

Deno.test("BSD header: unpadded single-digit day and CRLF ending", () => {
  const line = parseSyslogLine("Apr 6 20:48:25 h sshd[1]: hi\r", { utc: true, readAt });
  assert.equal(line?.time.toISOString(), "2026-04-06T20:48:25.000Z");
  assert.equal(line?.message, "hi");
});

Deno.test("BSD year: a date more than a day ahead of the read time is last year", () => {
  const syslog = new SyslogParser({ utc: true });
  const jan = new Date("2027-01-02T10:00:00Z");
  assert.equal(
    syslog.parse("Dec 31 23:59:59 h cron[1]: x", jan)?.time.toISOString(),
    "2026-12-31T23:59:59.000Z",
  );
  // Less than a day ahead (clock skew) stays in the read year.
  assert.equal(
    syslog.parse("Jan  3 09:00:00 h cron[1]: x", jan)?.time.toISOString(),
    "2027-01-03T09:00:00.000Z",
  );
  // A January line read late on New Year's Eve belongs to the coming year.
  const eve = new Date("2026-12-31T23:00:00Z");
  assert.equal(
    syslog.parse("Jan  1 00:30:00 h cron[1]: x", eve)?.time.toISOString(),
    "2027-01-01T00:30:00.000Z",
  );
  assert.equal(
    syslog.parse("Dec 31 22:00:00 h cron[1]: x", eve)?.time.toISOString(),
    "2026-12-31T22:00:00.000Z",
  );
});

Deno.test("BSD timestamps are local time unless utc is set", () => {
  const local = new SyslogParser().parse("Mar  5 07:08:09 h p: m", readAt);
  assert.equal(local?.time.getTime(), new Date(2026, 2, 5, 7, 8, 9).getTime());
});

Deno.test("short-precise fraction and the hour cache across minutes", () => {
  const syslog = new SyslogParser({ utc: true });
  const a = syslog.parse("Nov 23 18:24:33.123456 h p[2]: one", readAt);
  const b = syslog.parse("Nov 23 18:59:01 h p[2]: two", readAt);
  assert.equal(a?.time.toISOString(), "2026-11-23T18:24:33.123Z");
  assert.equal(b?.time.toISOString(), "2026-11-23T18:59:01.000Z");
});

Deno.test("RFC 3339 with microseconds and offset", () => {
  const line = parseSyslogLine(
    "2026-11-23T18:24:33.123456+01:00 mx postfix/submission/smtpd[77]: connect from a[192.0.2.1]",
  );
  assert.equal(line?.time.toISOString(), "2026-11-23T17:24:33.123Z");
  assert.equal(line?.host, "mx");
  assert.equal(line?.program, "postfix/submission/smtpd");
  assert.equal(line?.pid, 77);
  assert.equal(line?.message, "connect from a[192.0.2.1]");
});

Deno.test("journalctl short-iso (+0100), Z, and negative offsets", () => {
  assert.equal(
    parseSyslogLine("2026-11-23T18:24:33+0100 h sshd[5]: x")?.time.toISOString(),
    "2026-11-23T17:24:33.000Z",
  );
  assert.equal(
    parseSyslogLine("2026-11-23T18:24:33Z h sshd[5]: x")?.time.toISOString(),
    "2026-11-23T18:24:33.000Z",
  );
  assert.equal(
    parseSyslogLine("2026-11-23T18:24:33.5-05:30 h sshd[5]: x")?.time.toISOString(),
    "2026-11-23T23:54:33.500Z",
  );
});

Deno.test("journalctl short-full and short-unix", () => {
  const full = parseSyslogLine("Mon 2026-11-23 18:24:33 UTC bastion sshd[812]: Accepted x");
  assert.equal(full?.time.toISOString(), "2026-11-23T18:24:33.000Z");
  assert.equal(full?.host, "bastion");
  assert.equal(full?.message, "Accepted x");
  const unix = parseSyslogLine("1795458273.250000 bastion sshd[812]: Accepted y");
  assert.equal(unix?.time.getTime(), 1795458273250);
  assert.equal(unix?.program, "sshd");
});

Deno.test("PRI prefix and RFC 5424 with structured data", () => {
  const bsd = parseSyslogLine("<22>Nov 23 18:24:33 mx postfix/qmgr[9]: ABC: removed", {
    utc: true,
    readAt,
  });
  assert.equal(bsd?.program, "postfix/qmgr");
  assert.equal(bsd?.message, "ABC: removed");
  const rfc5424 = parseSyslogLine(
    '<165>1 2026-11-23T22:14:15.003Z mymachine.example.com evntslog 411 ID47 [exampleSDID@32473 iut="3" eventSource="App]lication"] An application event',
  );
  assert.equal(rfc5424?.time.toISOString(), "2026-11-23T22:14:15.003Z");
  assert.equal(rfc5424?.host, "mymachine.example.com");
  assert.equal(rfc5424?.program, "evntslog");
  assert.equal(rfc5424?.pid, 411);
  assert.equal(rfc5424?.message, "An application event");
  const nil = parseSyslogLine("<13>1 2026-11-23T22:14:15Z - - - - - bare");
  assert.equal(nil?.host, "");
  assert.equal(nil?.program, "");
  assert.equal(nil?.pid, undefined);
  assert.equal(nil?.message, "bare");
});

Deno.test("a header without a tag keeps the whole rest as the message", () => {
  const line = parseSyslogLine("Nov 23 18:24:33 h last message repeated 3 times", {
    utc: true,
    readAt,
  });
  assert.equal(line?.program, "");
  assert.equal(line?.message, "last message repeated 3 times");
});

Deno.test("lines without a readable header are undefined", () => {
  for (
    const bad of [
      "",
      "hello world, this is not syslog",
      "Foo 23 18:24:33 h p: m",
      "Nov 32 18:24:33 h p: m",
      "Nov 23 25:24:33 h p: m",
      "Nov 23 18:24:33",
      "2026-13-23T18:24:33Z h p: m",
      "2026-11-23T18:24:33+01 h p: m",
      "<999999>Nov 23 18:24:33 h p: m",
      "12345 h p: m",
    ]
  ) {
    assert.equal(parseSyslogLine(bad, { readAt }), undefined, bad);
  }
});

Deno.test("BSD header after a leading year, with fractional seconds and a PRI", () => {
  const syslog = new SyslogParser({ utc: true });
  for (const prefix of ["", "<22>"]) {
    const line = syslog.parse(
      `${prefix}2013 Jun 10 06:27:30.123 mx postfix/smtpd[5530]: connect from x[192.0.2.1]`,
      readAt,
    );
    assert.equal(line?.time.toISOString(), "2013-06-10T06:27:30.123Z");
    assert.equal(line?.host, "mx");
    assert.equal(line?.program, "postfix/smtpd");
    assert.equal(line?.pid, 5530);
  }
  assert.equal(syslog.parse("0013 Jun 10 06:27:30 mx postfix/smtpd[1]: x", readAt), undefined);
});
