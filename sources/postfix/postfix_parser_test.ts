import assert from "node:assert/strict";
import { isQueueId, parsePostfixMessage, postfixDaemon } from "./postfix_parser.ts";

Deno.test("postfixDaemon takes the last component of Postfix tags only", () => {
  assert.equal(postfixDaemon("postfix/smtpd"), "smtpd");
  assert.equal(postfixDaemon("postfix/submission/smtpd"), "smtpd");
  assert.equal(postfixDaemon("postfix-foo/qmgr"), "qmgr");
  assert.equal(postfixDaemon("postfix"), undefined);
  assert.equal(postfixDaemon("postfixadmin/cron"), undefined);
  assert.equal(postfixDaemon("sshd"), undefined);
});

Deno.test("isQueueId accepts short hex and long ids, not words", () => {
  for (const id of ["59F49243F8", "C0111", "4VWJ2v0jF7z9sWQ", "3XJ5Ht4yLxzJvZ"]) {
    assert.ok(isQueueId(id), id);
  }
  for (const id of ["NOQUEUE", "warning", "statistics", "ABC", "59e49243a8", "connect"]) {
    assert.ok(!isQueueId(id), id);
  }
});

Deno.test("smtpd NOQUEUE reject (real line) splits client, codes, reply and envelope", () => {
  const record = parsePostfixMessage(
    "smtpd",
    "NOQUEUE: reject: RCPT from unknown[121.122.71.116]: 554 5.7.1 <david@seaglass.com>: Recipient address rejected: Access denied; from=<webmaster@geometryit.com> to=<david@seaglass.com> proto=ESMTP helo=<geometryit.com>",
  );
  assert.deepEqual(record, {
    kind: "reject",
    action: "reject",
    stage: "RCPT",
    client: "unknown[121.122.71.116]",
    client_name: "unknown",
    client_ip: "121.122.71.116",
    code: 554,
    dsn: "5.7.1",
    reply: "<david@seaglass.com>: Recipient address rejected: Access denied",
    from: "webmaster@geometryit.com",
    to: "david@seaglass.com",
    proto: "ESMTP",
    helo: "geometryit.com",
  });
});

Deno.test("RBL reject keeps the '; ' inside the reply text", () => {
  const record = parsePostfixMessage(
    "smtpd",
    "NOQUEUE: reject: RCPT from jurann.biz[77.95.228.43]: 554 5.7.1 Service unavailable; Client host [77.95.228.43] blocked using zen.spamhaus.org; http://www.spamhaus.org/sbl/query/SBLCSS; from=<botanised@jurann.biz> to=<kdent@seaglass.com> proto=ESMTP helo=<jurann.biz>",
  );
  assert.equal(record?.kind, "reject");
  if (record?.kind !== "reject") return;
  assert.equal(
    record.reply,
    "Service unavailable; Client host [77.95.228.43] blocked using zen.spamhaus.org; http://www.spamhaus.org/sbl/query/SBLCSS",
  );
  assert.equal(record.client_name, "jurann.biz");
  assert.equal(record.from, "botanised@jurann.biz");
});

Deno.test("postscreen reject with [ip]:port and comma-separated envelope", () => {
  const record = parsePostfixMessage(
    "postscreen",
    "NOQUEUE: reject: RCPT from [192.0.2.9]:51234: 550 5.7.1 Service unavailable; client [192.0.2.9] blocked using zen.spamhaus.org; from=<a@example.net>, to=<b@example.org>, proto=ESMTP, helo=<bot>",
  );
  assert.equal(record?.kind, "reject");
  if (record?.kind !== "reject") return;
  assert.equal(record.client, "[192.0.2.9]:51234");
  assert.equal(record.client_name, undefined);
  assert.equal(record.client_ip, "192.0.2.9");
  assert.equal(record.client_port, 51234);
  assert.equal(record.to, "b@example.org");
  assert.equal(record.proto, "ESMTP");
  assert.equal(record.helo, "bot");
});

Deno.test("cleanup header reject: reply text follows the envelope", () => {
  const record = parsePostfixMessage(
    "cleanup",
    "4A1B2C3D4E: reject: header Subject: win money from mail.example.com[192.0.2.5]; from=<a@example.com> to=<b@example.org> proto=ESMTP helo=<mail.example.com>: 5.7.1 message content rejected",
  );
  assert.equal(record?.kind, "reject");
  if (record?.kind !== "reject") return;
  assert.equal(record.queue_id, "4A1B2C3D4E");
  assert.equal(record.stage, "header");
  assert.equal(record.client_ip, "192.0.2.5");
  assert.equal(record.code, undefined);
  assert.equal(record.dsn, "5.7.1");
  assert.equal(record.reply, "message content rejected");
  assert.equal(record.helo, "mail.example.com");
});

Deno.test("delivery line with orig_to, conn_use and a reply with parentheses", () => {
  const record = parsePostfixMessage(
    "smtp",
    "BBEA32439C: to=<jdent@seaglass.com>, orig_to=<j@seaglass.com>, relay=mail.seaglass.com[74.220.219.61]:25, conn_use=2, delay=122209, delays=122201/0.01/2.2/5.8, dsn=4.0.0, status=deferred (host mail.seaglass.com[74.220.219.61] said: 451 Temporary local problem - please try later (in reply to RCPT TO command))",
  );
  assert.deepEqual(record, {
    kind: "delivery",
    queue_id: "BBEA32439C",
    to: "jdent@seaglass.com",
    orig_to: "j@seaglass.com",
    relay: "mail.seaglass.com[74.220.219.61]:25",
    delay: 122209,
    delays: "122201/0.01/2.2/5.8",
    dsn: "4.0.0",
    status: "deferred",
    reply:
      "host mail.seaglass.com[74.220.219.61] said: 451 Temporary local problem - please try later (in reply to RCPT TO command)",
  });
});

Deno.test("delivery through a content filter names the re-injected queue id", () => {
  const record = parsePostfixMessage(
    "smtp",
    "3F2A1B0C9D: to=<u@example.org>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.61, delays=0.05/0/0/0.56, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 7C8D9E0F1A)",
  );
  assert.equal(record?.kind === "delivery" && record.queued_as, "7C8D9E0F1A");
});

Deno.test("client, pickup, cleanup, qmgr, bounce and removed lines", () => {
  assert.deepEqual(
    parsePostfixMessage(
      "smtpd",
      "A4C392432F: client=mail.example.com[192.0.2.7]:41000, sasl_method=PLAIN, sasl_username=ann",
    ),
    {
      kind: "client",
      queue_id: "A4C392432F",
      client: "mail.example.com[192.0.2.7]:41000",
      client_name: "mail.example.com",
      client_ip: "192.0.2.7",
      client_port: 41000,
      sasl_method: "PLAIN",
      sasl_username: "ann",
    },
  );
  assert.deepEqual(parsePostfixMessage("pickup", "63638C0111: uid=0 from=<root>"), {
    kind: "pickup",
    queue_id: "63638C0111",
    uid: 0,
    from: "root",
  });
  assert.deepEqual(
    parsePostfixMessage("cleanup", "68AF424356: message-id=<20151022114109.68AF424356@conch>"),
    { kind: "message-id", queue_id: "68AF424356", message_id: "20151022114109.68AF424356@conch" },
  );
  assert.deepEqual(
    parsePostfixMessage("qmgr", "21C3C243D1: from=<>, size=2581, nrcpt=1 (queue active)"),
    { kind: "queued", queue_id: "21C3C243D1", from: "", size: 2581, nrcpt: 1 },
  );
  assert.deepEqual(
    parsePostfixMessage(
      "qmgr",
      "4D142C0116: from=<root@localhost>, status=expired, returned to sender",
    ),
    { kind: "expired", queue_id: "4D142C0116", from: "root@localhost" },
  );
  assert.deepEqual(
    parsePostfixMessage("bounce", "A4C392432F: sender non-delivery notification: 68AF424356"),
    {
      kind: "notification",
      queue_id: "A4C392432F",
      child_queue_id: "68AF424356",
      notice: "sender non-delivery",
    },
  );
  assert.deepEqual(parsePostfixMessage("qmgr", "A4C392432F: removed"), {
    kind: "removed",
    queue_id: "A4C392432F",
  });
});

Deno.test("connection chatter, statistics and warnings are not records", () => {
  assert.deepEqual(parsePostfixMessage("smtpd", "connect from jurann.biz[77.95.228.43]"), {
    kind: "connect",
    client: "jurann.biz[77.95.228.43]",
    client_name: "jurann.biz",
    client_ip: "77.95.228.43",
  });
  for (
    const message of [
      "statistics: max connection rate 3/60s for (smtp:94.156.37.30) at Oct 22 02:04:14",
      "warning: 185.106.121.100: address not listed for hostname dedi8230.hostsailor.com",
      "lost connection after DATA (approximately 0 bytes) from unknown[185.106.121.100]",
      "connect to drozta.us[213.163.84.205]:25: Connection refused",
      "A4C392432F: to=<broken",
    ]
  ) {
    assert.equal(parsePostfixMessage("smtpd", message), undefined, message);
  }
});
