import assert from "node:assert/strict";
import { isSshdProgram, parseSshdMessage, SshdParser } from "./sshd_parser.ts";

const ctx = { path: "auth.log", host: "fallback", readAt: new Date("2026-11-23T00:00:00Z") };

// Real lines from elastic/examples' auth.log (Ubuntu, BSD syslog).
const AUTH_LOG = [
  "Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening on 0.0.0.0 port 22.",
  "Mar 27 13:08:09 ip-10-77-20-248 sshd[1361]: Accepted publickey for ubuntu from 85.245.107.41 port 54259 ssh2: RSA SHA256:Kl8kPGZrTiz7g4FO1hyqHdsSBBb5Fge6NWOobN03XJg",
  "Mar 27 13:08:09 ip-10-77-20-248 sshd[1361]: pam_unix(sshd:session): session opened for user ubuntu by (uid=0)",
  "Mar 27 13:08:09 ip-10-77-20-248 systemd: pam_unix(systemd-user:session): session opened for user ubuntu by (uid=0)",
  "Mar 27 13:09:37 ip-10-77-20-248 sudo:   ubuntu : TTY=pts/0 ; PWD=/home/ubuntu ; USER=root ; COMMAND=/usr/bin/apt-get update",
  "Mar 27 14:54:57 ip-10-77-20-248 sshd[2967]: Invalid user support from 95.152.57.58",
  "Mar 27 14:54:57 ip-10-77-20-248 sshd[2967]: input_userauth_request: invalid user support [preauth]",
  "Mar 27 14:55:02 ip-10-77-20-248 sshd[2967]: Failed password for invalid user support from 95.152.57.58 port 40322 ssh2",
  "Mar 29 23:18:33 ip-10-77-20-248 sshd[6402]: message repeated 5 times: [ Failed password for root from 218.60.136.106 port 56338 ssh2]",
  "Apr  6 20:48:25 ip-10-77-20-248 sshd[16841]: Invalid user  from 34.204.227.175",
];

Deno.test("auth.log: one ssh.login per login decision, [] for everything else", () => {
  const parser = new SshdParser({ utc: true });
  const results = AUTH_LOG.map((line) => parser.parse(line, ctx));
  assert.ok(results.every((r) => r !== undefined));
  assert.deepEqual(results.map((r) => r!.length), [0, 1, 0, 0, 0, 1, 0, 1, 1, 1]);
  const events = results.flatMap((r) => r!);
  assert.deepEqual(events[0], {
    type: "ssh.login",
    time: new Date("2026-03-27T13:08:09Z"),
    host: "ip-10-77-20-248",
    result: "accepted",
    user: "ubuntu",
    address: "85.245.107.41",
    port: 54259,
    method: "publickey",
    protocol: "ssh2",
    key_type: "RSA",
    key_fingerprint: "SHA256:Kl8kPGZrTiz7g4FO1hyqHdsSBBb5Fge6NWOobN03XJg",
    pid: 1361,
  });
  assert.deepEqual(
    events.slice(1).map((e) => [e.result, e.user, e.invalid_user, e.repeated]),
    [
      ["invalid_user", "support", true, undefined],
      ["failed", "support", true, undefined],
      ["failed", "root", undefined, 5],
      ["invalid_user", "", true, undefined],
    ],
  );
  assert.equal(events[4].time.toISOString(), "2026-04-06T20:48:25.000Z");
});

Deno.test("journal-style lines and OpenSSH 9.8+ sshd-session", () => {
  const parser = new SshdParser();
  const [event] = parser.parse(
    "2026-11-23T18:24:33.123456+01:00 bastion sshd-session[4242]: Accepted keyboard-interactive/pam for ann from 2001:db8::7 port 50122 ssh2",
    ctx,
  )!;
  assert.equal(event.time.toISOString(), "2026-11-23T17:24:33.123Z");
  assert.equal(event.host, "bastion");
  assert.equal(event.method, "keyboard-interactive");
  assert.equal(event.submethod, "pam");
  assert.equal(event.address, "2001:db8::7");
  assert.equal(event.pid, 4242);
});

Deno.test("failed publickey with a certificate, none method, not allowed users", () => {
  assert.deepEqual(
    parseSshdMessage(
      "Failed publickey for git from 198.51.100.2 port 3322 ssh2: ED25519-CERT SHA256:abc ID git@laptop (serial 7) CA ED25519 SHA256:def",
    ),
    {
      result: "failed",
      user: "git",
      address: "198.51.100.2",
      port: 3322,
      method: "publickey",
      protocol: "ssh2",
      key_type: "ED25519-CERT",
      key_fingerprint: "SHA256:abc",
    },
  );
  assert.deepEqual(
    parseSshdMessage("Failed none for invalid user ubnt from 203.0.113.9 port 40022 ssh2"),
    {
      result: "failed",
      user: "ubnt",
      address: "203.0.113.9",
      port: 40022,
      method: "none",
      protocol: "ssh2",
      invalid_user: true,
    },
  );
  assert.deepEqual(
    parseSshdMessage(
      "User root from 203.0.113.9 not allowed because not listed in AllowUsers",
    ),
    {
      result: "not_allowed",
      user: "root",
      address: "203.0.113.9",
      reason: "not listed in AllowUsers",
    },
  );
  assert.equal(
    parseSshdMessage("Invalid user oracle from 203.0.113.9 port 51000")?.port,
    51000,
  );
});

Deno.test("a user name containing ' from ' still finds the address", () => {
  const login = parseSshdMessage(
    "Failed password for invalid user x from y from 203.0.113.9 port 22 ssh2",
  );
  assert.equal(login?.user, "x from y");
  assert.equal(login?.address, "203.0.113.9");
});

Deno.test("non-decisions are undefined messages; lines without header are undefined", () => {
  for (
    const message of [
      "Connection closed by 85.245.107.41 port 54259 [preauth]",
      "Received disconnect from 1.2.3.4 port 5: 11: Bye Bye [preauth]",
      "error: maximum authentication attempts exceeded for root from 1.2.3.4 port 5 ssh2 [preauth]",
      "Accepted",
      "message repeated 2 times: [ Connection closed by 1.2.3.4 ]",
    ]
  ) {
    assert.equal(parseSshdMessage(message), undefined, message);
  }
  const parser = new SshdParser();
  assert.equal(parser.parse("not a syslog line", ctx), undefined);
  assert.ok(isSshdProgram("sshd"));
  assert.ok(isSshdProgram("/usr/sbin/sshd"));
  assert.ok(!isSshdProgram("sshguard"));
});
