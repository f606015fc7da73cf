import assert from "node:assert/strict";
import type { Event } from "@eventstorm/core";
import { PostfixTracker } from "./tracker.ts";

const readAt = new Date("2026-11-24T00:00:00Z");
const ctx = { path: "mail.log", host: "fallback", readAt };

function feed(tracker: PostfixTracker, lines: string[]): Event[] {
  const out: Event[] = [];
  for (const line of lines) {
    const events = tracker.parse(line, ctx);
    assert.ok(events !== undefined, `not understood: ${line}`);
    out.push(...events);
  }
  return out;
}

function only(events: Event[], type: string): Event[] {
  return events.filter((e) => e.type === type);
}

// Real lines from kdent/postfix_log_analysis mail.log: an SMTP message that
// bounces, its non-delivery notification, and the notification's first deferral.
const BOUNCED = [
  "Oct 22 04:41:06 conch postfix/smtpd[27411]: connect from unknown[198.52.150.41]",
  "Oct 22 04:41:06 conch postfix/smtpd[27411]: A4C392432F: client=unknown[198.52.150.41]",
  "Oct 22 04:41:06 conch postfix/cleanup[27415]: A4C392432F: message-id=<0.0.5dcfd80285d21a72abf3c46e396c0002.11801046.22298066.0kdent@seaglass.com>",
  "Oct 22 04:41:06 conch postfix/qmgr[25409]: A4C392432F: from=<24@com-oct1022.ga>, size=6392, nrcpt=1 (queue active)",
  "Oct 22 04:41:07 conch postfix/smtpd[27411]: disconnect from unknown[198.52.150.41]",
  "Oct 22 04:41:09 conch postfix/smtp[27408]: A4C392432F: to=<kdent@seaglass.com>, relay=mail.seaglass.com[74.220.219.61]:25, delay=3, delays=0.51/0/2.2/0.3, dsn=5.0.0, status=bounced (host mail.seaglass.com[74.220.219.61] said: 550 Administrative prohibition (in reply to end of DATA command))",
  "Oct 22 04:41:09 conch postfix/cleanup[27415]: 68AF424356: message-id=<20151022114109.68AF424356@conch.seaglass.com>",
  "Oct 22 04:41:09 conch postfix/qmgr[25409]: 68AF424356: from=<>, size=2703, nrcpt=1 (queue active)",
  "Oct 22 04:41:09 conch postfix/bounce[27410]: A4C392432F: sender non-delivery notification: 68AF424356",
  "Oct 22 04:41:09 conch postfix/qmgr[25409]: A4C392432F: removed",
  "Oct 22 04:41:09 conch postfix/smtp[27407]: 68AF424356: to=<24@com-oct1022.ga>, relay=none, delay=0.32, delays=0.04/0/0.27/0, dsn=4.4.1, status=deferred (connect to com-oct1022.ga[198.52.150.41]:25: No route to host)",
];

// Real lines from a local Postfix 3.7: sendmail to three aliases and one unknown
// user, the bounce back to root, delivered.
const PICKUP = [
  "Nov 23 19:25:08 localhost postfix/pickup[14515]: 63638C0111: uid=0 from=<root>",
  "Nov 23 19:25:08 localhost postfix/cleanup[14646]: 63638C0111: message-id=<20261123192508.63638C0111@localhost>",
  "Nov 23 19:25:08 localhost postfix/qmgr[14516]: 63638C0111: from=<root@localhost>, size=250, nrcpt=4 (queue active)",
  "Nov 23 19:25:08 localhost postfix/local[14648]: 63638C0111: to=<root@localhost>, orig_to=<alice>, relay=local, delay=0.01, delays=0.01/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
  "Nov 23 19:25:08 localhost postfix/local[14648]: 63638C0111: to=<root@localhost>, orig_to=<bob>, relay=local, delay=0.01, delays=0.01/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
  "Nov 23 19:25:08 localhost postfix/local[14648]: 63638C0111: to=<root@localhost>, orig_to=<carol>, relay=local, delay=0.01, delays=0.01/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
  'Nov 23 19:25:08 localhost postfix/local[14648]: 63638C0111: to=<nosuchuser@localhost>, orig_to=<nosuchuser>, relay=local, delay=0.01, delays=0.01/0/0/0.01, dsn=5.1.1, status=bounced (unknown user: "nosuchuser")',
  "Nov 23 19:25:08 localhost postfix/cleanup[14646]: 65DAEC0113: message-id=<20261123192508.65DAEC0113@localhost>",
  "Nov 23 19:25:08 localhost postfix/bounce[14956]: 63638C0111: sender non-delivery notification: 65DAEC0113",
  "Nov 23 19:25:08 localhost postfix/qmgr[14516]: 65DAEC0113: from=<>, size=2073, nrcpt=1 (queue active)",
  "Nov 23 19:25:08 localhost postfix/qmgr[14516]: 63638C0111: removed",
  "Nov 23 19:25:09 localhost postfix/local[14955]: 65DAEC0113: to=<root@localhost>, relay=local, delay=0.01, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
  "Nov 23 19:25:09 localhost postfix/qmgr[14516]: 65DAEC0113: removed",
];

Deno.test("an SMTP message that bounces: one transaction, linked to its notification", () => {
  const tracker = new PostfixTracker({ utc: true });
  const events = feed(tracker, BOUNCED);
  const [tx] = only(events, "smtp.transaction");
  assert.equal(only(events, "smtp.transaction").length, 1);
  assert.equal(tx.queue_id, "A4C392432F");
  assert.equal(tx.host, "conch");
  assert.equal(tx.time.toISOString(), "2026-10-22T04:41:06.000Z");
  assert.equal((tx.end_time as Date).toISOString(), "2026-10-22T04:41:09.000Z");
  assert.equal(tx.client, "unknown[198.52.150.41]");
  assert.equal(tx.client_ip, "198.52.150.41");
  assert.equal(tx.from, "24@com-oct1022.ga");
  assert.equal(tx.size, 6392);
  assert.equal(tx.nrcpt, 1);
  assert.equal(
    tx.message_id,
    "0.0.5dcfd80285d21a72abf3c46e396c0002.11801046.22298066.0kdent@seaglass.com",
  );
  assert.equal(tx.bounce_queue_id, "68AF424356");
  assert.equal(tx.partial, undefined);
  assert.equal(tx.incomplete, undefined);
  assert.deepEqual(tx.recipients, [{
    to: "kdent@seaglass.com",
    relay: "mail.seaglass.com[74.220.219.61]:25",
    delay: 3,
    delays: "0.51/0/2.2/0.3",
    dsn: "5.0.0",
    status: "bounced",
    reply:
      "host mail.seaglass.com[74.220.219.61] said: 550 Administrative prohibition (in reply to end of DATA command)",
    attempts: 1,
    time: new Date("2026-10-22T04:41:09Z"),
  }]);

  const [deferred] = only(events, "smtp.deferred");
  assert.equal(deferred.queue_id, "68AF424356");
  assert.equal(deferred.from, "");
  assert.equal(deferred.to, "24@com-oct1022.ga");
  assert.equal(deferred.dsn, "4.4.1");
  assert.equal(deferred.reply, "connect to com-oct1022.ga[198.52.150.41]:25: No route to host");

  // The notification is still queued when the log ends.
  assert.equal(tracker.openCount, 1);
  const [child] = tracker.end();
  assert.equal(child.queue_id, "68AF424356");
  assert.equal(child.parent_queue_id, "A4C392432F");
  assert.equal(child.notification, "sender non-delivery");
  assert.equal(child.incomplete, true);
  assert.equal(child.partial, undefined);
  assert.equal((child.recipients as { status: string }[])[0].status, "deferred");
  assert.equal(tracker.openCount, 0);
});

Deno.test("sendmail to several recipients: per-recipient statuses and the linked bounce", () => {
  const events = feed(new PostfixTracker({ utc: true }), PICKUP);
  const txs = only(events, "smtp.transaction");
  assert.deepEqual(txs.map((e) => e.queue_id), ["63638C0111", "65DAEC0113"]);
  const [parent, child] = txs;
  assert.equal(parent.uid, 0);
  assert.equal(parent.from, "root@localhost");
  assert.equal(parent.nrcpt, 4);
  assert.deepEqual(
    (parent.recipients as { orig_to: string; status: string }[]).map((r) =>
      `${r.orig_to}:${r.status}`
    ),
    ["alice:sent", "bob:sent", "carol:sent", "nosuchuser:bounced"],
  );
  assert.equal(parent.bounce_queue_id, "65DAEC0113");
  assert.equal(child.parent_queue_id, "63638C0111");
  assert.equal(child.from, "");
  assert.equal(child.time.toISOString(), "2026-11-23T19:25:08.000Z");
  assert.equal((child.end_time as Date).toISOString(), "2026-11-23T19:25:09.000Z");
  assert.equal(child.incomplete, undefined);
});

Deno.test("NOQUEUE reject becomes smtp.reject at the rejection line's time", () => {
  const events = feed(new PostfixTracker({ utc: true }), [
    "Oct 22 02:13:41 conch postfix/smtpd[26895]: connect from jurann.biz[77.95.228.43]",
    "Oct 22 02:13:42 conch postfix/smtpd[26895]: NOQUEUE: reject: RCPT from jurann.biz[77.95.228.43]: 554 5.7.1 Service unavailable; Client host [77.95.228.43] blocked using zen.spamhaus.org; http://www.spamhaus.org/sbl/query/SBLCSS; from=<botanised@jurann.biz> to=<kdent@seaglass.com> proto=ESMTP helo=<jurann.biz>",
    "Oct 22 02:13:42 conch postfix/smtpd[26895]: lost connection after RCPT from jurann.biz[77.95.228.43]",
    "Oct 22 02:13:42 conch postfix/smtpd[26895]: disconnect from jurann.biz[77.95.228.43]",
  ]);
  assert.equal(events.length, 1);
  const [reject] = events;
  assert.equal(reject.type, "smtp.reject");
  assert.equal(reject.time.toISOString(), "2026-10-22T02:13:42.000Z");
  assert.equal(reject.queue_id, undefined);
  assert.equal(reject.stage, "RCPT");
  assert.equal(reject.code, 554);
  assert.equal(reject.client_name, "jurann.biz");
  assert.equal(reject.to, "kdent@seaglass.com");
  assert.equal(reject.helo, "jurann.biz");
});

Deno.test("a message whose start is not in the log is partial; retries count attempts", () => {
  const tracker = new PostfixTracker({ utc: true });
  const events = feed(tracker, [
    "Oct 22 02:20:45 conch postfix/qmgr[25409]: 59F49243F8: from=<>, size=2569, nrcpt=1 (queue active)",
    "Oct 22 02:20:45 conch postfix/smtp[26919]: 59F49243F8: to=<noreply@drozta.us>, relay=none, delay=67596, delays=67596/0.01/0.09/0, dsn=4.4.1, status=deferred (connect to drozta.us[213.163.84.205]:25: Connection refused)",
    "Oct 22 03:30:45 conch postfix/qmgr[25409]: 59F49243F8: from=<>, size=2569, nrcpt=1 (queue active)",
    "Oct 22 03:30:45 conch postfix/smtp[27190]: 59F49243F8: to=<noreply@drozta.us>, relay=none, delay=71796, delays=71796/0.01/0.29/0, dsn=4.4.1, status=deferred (connect to drozta.us[213.163.84.205]:25: Connection refused)",
    "Oct 22 04:40:45 conch postfix/smtp[27408]: 59F49243F8: to=<noreply@drozta.us>, relay=none, delay=75996, delays=75996/0.01/0/0, dsn=5.4.4, status=bounced (Host or domain name not found. Name service error for name=drozta.us type=A: Host not found)",
    "Oct 22 04:40:45 conch postfix/qmgr[25409]: 59F49243F8: removed",
  ]);
  assert.equal(only(events, "smtp.deferred").length, 2);
  assert.deepEqual(only(events, "smtp.deferred").map((e) => e.attempts), [1, 2]);
  const [tx] = only(events, "smtp.transaction");
  assert.equal(tx.partial, true);
  assert.equal(tx.incomplete, undefined);
  assert.equal(tx.time.toISOString(), "2026-10-22T02:20:45.000Z");
  const [recipient] = tx.recipients as { status: string; attempts: number; dsn: string }[];
  assert.equal(recipient.status, "bounced");
  assert.equal(recipient.attempts, 3);
  assert.equal(recipient.dsn, "5.4.4");
});

Deno.test("expiry marks deferred recipients expired before the message is removed", () => {
  // Real lines from a local Postfix 3.7 with maximal_queue_lifetime=5s.
  const events = feed(new PostfixTracker({ utc: true }), [
    "Nov 23 19:25:36 localhost postfix/smtpd[16337]: 4D142C0116: client=localhost[127.0.0.1]",
    "Nov 23 19:25:36 localhost postfix/cleanup[16340]: 4D142C0116: message-id=<3fd5.0003.0000@vm>",
    "Nov 23 19:25:36 localhost postfix/qmgr[16332]: 4D142C0116: from=<root@localhost>, size=352, nrcpt=1 (queue active)",
    "Nov 23 19:25:36 localhost postfix/smtp[16343]: 4D142C0116: to=<z@defer.test>, relay=none, delay=0.03, delays=0/0.02/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:1: Connection refused)",
    "Nov 23 19:25:41 localhost postfix/smtp[16343]: 4D142C0116: to=<z@defer.test>, relay=none, delay=5.2, delays=5.2/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:1: Connection refused)",
    "Nov 23 19:25:41 localhost postfix/qmgr[16332]: 4D142C0116: from=<root@localhost>, status=expired, returned to sender",
    "Nov 23 19:25:41 localhost postfix/cleanup[16340]: 7312BC011E: message-id=<20261123192541.7312BC011E@localhost>",
    "Nov 23 19:25:41 localhost postfix/qmgr[16332]: 7312BC011E: from=<>, size=2181, nrcpt=1 (queue active)",
    "Nov 23 19:25:41 localhost postfix/bounce[16345]: 4D142C0116: sender non-delivery notification: 7312BC011E",
    "Nov 23 19:25:41 localhost postfix/qmgr[16332]: 4D142C0116: removed",
  ]);
  const [tx] = only(events, "smtp.transaction");
  assert.equal(tx.expired, true);
  assert.equal(tx.bounce_queue_id, "7312BC011E");
  const [recipient] = tx.recipients as { status: string; attempts: number }[];
  assert.equal(recipient.status, "expired");
  assert.equal(recipient.attempts, 2);
});

Deno.test("re-injection after a content filter links the two queue ids", () => {
  const events = feed(new PostfixTracker({ utc: true }), [
    "Nov 23 10:00:00 mx postfix/smtpd[100]: 3F2A1B0C9D: client=a.example[192.0.2.1]",
    "Nov 23 10:00:00 mx postfix/cleanup[101]: 3F2A1B0C9D: message-id=<m1@a.example>",
    "Nov 23 10:00:00 mx postfix/qmgr[102]: 3F2A1B0C9D: from=<x@a.example>, size=900, nrcpt=1 (queue active)",
    "Nov 23 10:00:01 mx postfix/smtpd[103]: 7C8D9E0F1A: client=localhost[127.0.0.1]",
    "Nov 23 10:00:01 mx postfix/cleanup[101]: 7C8D9E0F1A: message-id=<m1@a.example>",
    "Nov 23 10:00:01 mx postfix/smtp[104]: 3F2A1B0C9D: to=<u@mx.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.61, delays=0.05/0/0/0.56, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 7C8D9E0F1A)",
    "Nov 23 10:00:01 mx postfix/qmgr[102]: 3F2A1B0C9D: removed",
    "Nov 23 10:00:01 mx postfix/qmgr[102]: 7C8D9E0F1A: from=<x@a.example>, size=1200, nrcpt=1 (queue active)",
    "Nov 23 10:00:01 mx postfix/local[105]: 7C8D9E0F1A: to=<u@mx.example>, relay=local, delay=0.1, delays=0.05/0/0/0.05, dsn=2.0.0, status=sent (delivered to mailbox)",
    "Nov 23 10:00:01 mx postfix/qmgr[102]: 7C8D9E0F1A: removed",
  ]);
  const [first, second] = only(events, "smtp.transaction");
  assert.equal((first.recipients as { queued_as: string }[])[0].queued_as, "7C8D9E0F1A");
  assert.equal(second.queue_id, "7C8D9E0F1A");
  assert.equal(second.previous_queue_id, "3F2A1B0C9D");
  assert.equal(second.client, "localhost[127.0.0.1]");
});

// Real lines from a local Postfix 3.7 (maillog_file): a message to an unreachable
// domain expires; its notice is queued, delivered and removed before the bounce
// daemon's line naming it reaches the log.
const LATE_NOTICE = [
  "Dec 02 00:17:16 localhost postfix/qmgr[9749]: E3C65BC153: from=<root@localhost>, size=364, nrcpt=1 (queue active)",
  "Dec 02 00:17:17 localhost postfix/smtp[9769]: E3C65BC153: to=<someone@defer.test>, relay=none, delay=4.9, delays=4.9/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:1: Connection refused)",
  "Dec 02 00:17:17 localhost postfix/qmgr[9749]: E3C65BC153: from=<root@localhost>, status=expired, returned to sender",
  "Dec 02 00:17:17 localhost postfix/cleanup[9760]: C8997BC182: message-id=<20261202001717.C8997BC182@localhost>",
  "Dec 02 00:17:17 localhost postfix/qmgr[9749]: C8997BC182: from=<>, size=2211, nrcpt=1 (queue active)",
  "Dec 02 00:17:17 localhost postfix/local[9775]: C8997BC182: to=<root@localhost>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
  "Dec 02 00:17:17 localhost postfix/qmgr[9749]: C8997BC182: removed",
  "Dec 02 00:17:17 localhost postfix/bounce[9773]: E3C65BC153: sender non-delivery notification: C8997BC182",
  "Dec 02 00:17:17 localhost postfix/qmgr[9749]: E3C65BC153: removed",
];

Deno.test("a notice removed before the line naming it is one transaction, linked", () => {
  const events = feed(new PostfixTracker({ utc: true }), LATE_NOTICE);
  const txs = only(events, "smtp.transaction");
  assert.deepEqual(txs.map((t) => t.queue_id), ["C8997BC182", "E3C65BC153"]);
  const [notice, expired] = txs;
  assert.equal(notice.parent_queue_id, "E3C65BC153");
  assert.equal(notice.notification, "sender non-delivery");
  assert.equal(notice.from, "");
  assert.equal(notice.incomplete, undefined);
  assert.match((notice.end_time as Date).toISOString(), /-12-02T00:17:17\.000Z$/);
  assert.deepEqual((notice.recipients as { status: string }[]).map((r) => r.status), ["sent"]);
  assert.equal(expired.bounce_queue_id, "C8997BC182");
  assert.equal(expired.expired, true);
});

Deno.test("a removed notice whose parent's line never comes is emitted after 10 s of log time", () => {
  const lines = LATE_NOTICE.slice(3, 7);
  // By the log's clock: the next line 11 s later releases it, complete.
  const tracker = new PostfixTracker({ utc: true });
  assert.deepEqual(only(feed(tracker, lines), "smtp.transaction"), []);
  assert.deepEqual(
    feed(tracker, ["Dec 02 00:17:26 localhost postfix/anvil[1]: statistics: max cache size 1"]),
    [],
  );
  const released = feed(tracker, [
    "Dec 02 00:17:28 localhost postfix/anvil[1]: statistics: max cache size 1",
  ]);
  assert.deepEqual(released.map((e) => [e.queue_id, e.incomplete, e.parent_queue_id]), [
    ["C8997BC182", undefined, undefined],
  ]);
  assert.equal(tracker.openCount, 0);
  // A quiet log: wall time since the last line does it.
  const quiet = new PostfixTracker({ utc: true });
  feed(quiet, lines);
  assert.deepEqual(quiet.tick(new Date(readAt.getTime() + 5_000)), []);
  assert.deepEqual(quiet.tick(new Date(readAt.getTime() + 11_000)).map((e) => e.queue_id), [
    "C8997BC182",
  ]);
  // At the end of the input: emitted complete.
  const ended = new PostfixTracker({ utc: true });
  feed(ended, lines);
  assert.deepEqual(ended.end().map((e) => [e.queue_id, e.incomplete]), [
    ["C8997BC182", undefined],
  ]);
  // Across a restart, it still waits for its parent's line.
  const first = new PostfixTracker({ utc: true });
  feed(first, LATE_NOTICE.slice(0, 7));
  const second = new PostfixTracker({ utc: true });
  second.restore(JSON.parse(JSON.stringify(first.snapshot())));
  const after = only(feed(second, LATE_NOTICE.slice(7)), "smtp.transaction");
  assert.deepEqual(after.map((e) => [e.queue_id, e.parent_queue_id]), [
    ["C8997BC182", "E3C65BC153"],
    ["E3C65BC153", undefined],
  ]);
});

Deno.test("a reused queue id starts a new transaction", () => {
  const tracker = new PostfixTracker({ utc: true });
  const events = feed(tracker, [
    "Nov 23 10:00:00 mx postfix/smtpd[1]: ABCDE12345: client=a.example[192.0.2.1]",
    "Nov 23 10:00:00 mx postfix/qmgr[2]: ABCDE12345: from=<a@a.example>, size=1, nrcpt=1 (queue active)",
    "Nov 23 10:00:01 mx postfix/local[3]: ABCDE12345: to=<u@mx>, relay=local, delay=1, delays=1/0/0/0, dsn=2.0.0, status=sent (ok)",
    "Nov 23 10:00:01 mx postfix/qmgr[2]: ABCDE12345: removed",
    "Nov 23 10:05:00 mx postfix/smtpd[1]: ABCDE12345: client=b.example[192.0.2.2]",
    "Nov 23 10:05:00 mx postfix/qmgr[2]: ABCDE12345: from=<b@b.example>, size=2, nrcpt=1 (queue active)",
    // The `removed` of the second use is missing from the log; a third use follows.
    "Nov 23 10:09:00 mx postfix/smtpd[1]: ABCDE12345: client=c.example[192.0.2.3]",
  ]);
  const txs = only(events, "smtp.transaction");
  assert.deepEqual(txs.map((e) => e.client_name), ["a.example", "b.example"]);
  assert.equal(txs[0].incomplete, undefined);
  assert.equal(txs[1].incomplete, true);
  assert.equal(txs[1].from, "b@b.example");
  const [third] = tracker.end();
  assert.equal(third.client_name, "c.example");
  assert.equal(third.time.toISOString(), "2026-11-23T10:09:00.000Z");
});

Deno.test("idle messages time out by log time; queued deferred ones wait longer", () => {
  const tracker = new PostfixTracker({ utc: true, timeout: 3_600_000 });
  feed(tracker, [
    "Nov 23 10:00:00 mx postfix/smtpd[1]: 1111111111: client=a.example[192.0.2.1]",
    "Nov 23 10:00:00 mx postfix/qmgr[2]: 2222222222: from=<a@a.example>, size=1, nrcpt=1 (queue active)",
    "Nov 23 10:00:01 mx postfix/smtp[3]: 2222222222: to=<u@b.example>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (connect refused)",
  ]);
  // Read time moved on with the log's: no wall time has passed since the last line.
  assert.deepEqual(tracker.tick(readAt), []);
  // A line two hours later in log time sweeps the idle SMTP message.
  const later = feed(tracker, [
    "Nov 23 12:00:05 mx postfix/anvil[9]: statistics: max cache size 1 at Nov 23 12:00:00",
  ]);
  assert.deepEqual(later.map((e) => [e.queue_id, e.incomplete]), [["1111111111", true]]);
  assert.equal(tracker.openCount, 1);
  // A quiet log: wall time since the last line advances the log clock.
  assert.deepEqual(tracker.tick(new Date(readAt.getTime() + 3_600_000)), []);
  const expired = tracker.tick(new Date(readAt.getTime() + 6 * 86_400_000));
  assert.deepEqual(expired.map((e) => e.queue_id), ["2222222222"]);
  assert.equal(expired[0].incomplete, true);
});

Deno.test("a deferred timeout shorter than the timeout expires deferred messages first", () => {
  const tracker = new PostfixTracker({ utc: true, timeout: 3_600_000, deferredTimeout: 600_000 });
  feed(tracker, [
    "Nov 23 10:00:00 mx postfix/smtpd[1]: 1111111111: client=a.example[192.0.2.1]",
    "Nov 23 10:00:00 mx postfix/qmgr[2]: 2222222222: from=<a@a.example>, size=1, nrcpt=1 (queue active)",
    "Nov 23 10:00:01 mx postfix/smtp[3]: 2222222222: to=<u@b.example>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (connect refused)",
  ]);
  const later = feed(tracker, [
    "Nov 23 10:20:05 mx postfix/anvil[9]: statistics: max cache size 1 at Nov 23 10:20:00",
  ]);
  assert.deepEqual(later.map((e) => [e.queue_id, e.incomplete]), [["2222222222", true]]);
  assert.equal(tracker.openCount, 1);
});

Deno.test("snapshot and restore continue a transaction across a restart", () => {
  const whole = feed(new PostfixTracker({ utc: true }), PICKUP);
  const first = new PostfixTracker({ utc: true });
  const before = feed(first, PICKUP.slice(0, 6));
  const saved = JSON.parse(JSON.stringify(first.snapshot()));
  const second = new PostfixTracker({ utc: true });
  second.restore(saved);
  assert.equal(second.openCount, 1);
  const after = feed(second, PICKUP.slice(6));
  assert.deepEqual([...before, ...after], whole);
});

Deno.test("restore skips malformed state instead of failing", () => {
  const tracker = new PostfixTracker();
  tracker.restore(null as never);
  tracker.restore({ version: 2 } as never);
  tracker.restore({
    version: 1,
    clock: [0, 0],
    messages: [{ queue_id: 5 }, null] as never,
    sessions: "x" as never,
  });
  assert.equal(tracker.openCount, 0);
});

Deno.test("a content-check reject ends the message without a transaction", () => {
  const tracker = new PostfixTracker({ utc: true });
  const events = feed(tracker, [
    "Nov 23 10:00:00 mx postfix/submission/smtpd[1]: 4A1B2C3D4E: client=mail.example.com[192.0.2.5], sasl_method=PLAIN, sasl_username=ann",
    "Nov 23 10:00:00 mx postfix/cleanup[2]: 4A1B2C3D4E: message-id=<x@example.com>",
    "Nov 23 10:00:01 mx postfix/cleanup[2]: 4A1B2C3D4E: reject: header Subject: win money from mail.example.com[192.0.2.5]; from=<a@example.com> to=<b@example.org> proto=ESMTP helo=<mail.example.com>: 5.7.1 message content rejected",
  ]);
  assert.equal(events.length, 1);
  assert.equal(events[0].type, "smtp.reject");
  assert.equal(events[0].queue_id, "4A1B2C3D4E");
  assert.equal(events[0].stage, "header");
  assert.equal(tracker.openCount, 0);
});

Deno.test("SASL login, long queue ids, multi-instance names and RFC 3339 lines", () => {
  const tracker = new PostfixTracker();
  const events = feed(tracker, [
    "2026-11-23T10:00:00.250000+01:00 mx postfix/submission/smtpd[1]: 4VWJ2v0jF7z9sWQ: client=laptop.example[198.51.100.4], sasl_method=PLAIN, sasl_username=ann",
    "2026-11-23T10:00:00.300000+01:00 mx postfix-out/cleanup[2]: 4VWJ2v0jF7z9sWQ: message-id=<y@laptop>",
    "2026-11-23T10:00:00.400000+01:00 mx postfix-out/qmgr[3]: 4VWJ2v0jF7z9sWQ: from=<ann@example.org>, size=512, nrcpt=1 (queue active)",
    "2026-11-23T10:00:01.000000+01:00 mx postfix-out/smtp[4]: 4VWJ2v0jF7z9sWQ: to=<bob@example.net>, relay=mx.example.net[203.0.113.5]:25, delay=0.7, delays=0.1/0/0.3/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4BcDfGhJkL)",
    "2026-11-23T10:00:01.100000+01:00 mx postfix-out/qmgr[3]: 4VWJ2v0jF7z9sWQ: removed",
  ]);
  assert.equal(events.length, 1);
  const [tx] = events;
  assert.equal(tx.queue_id, "4VWJ2v0jF7z9sWQ");
  assert.equal(tx.sasl_username, "ann");
  assert.equal(tx.sasl_method, "PLAIN");
  assert.equal(tx.time.toISOString(), "2026-11-23T09:00:00.250Z");
  // "queued as" names the remote server's queue: kept on the recipient, nothing opened.
  assert.equal((tx.recipients as { queued_as: string }[])[0].queued_as, "4BcDfGhJkL");
  assert.equal(tracker.openCount, 0);
});

Deno.test("other programs are understood but ignored; lines without a header are not", () => {
  const tracker = new PostfixTracker({ utc: true });
  assert.deepEqual(
    tracker.parse("Nov 23 10:00:00 mx dovecot[7]: imap-login: Login: user=<ann>", ctx),
    [],
  );
  assert.deepEqual(
    tracker.parse(
      "Oct 22 02:12:45 conch postfix/anvil[26709]: statistics: max cache size 2 at Oct 22 02:04:26",
      ctx,
    ),
    [],
  );
  assert.equal(tracker.parse("garbage", ctx), undefined);
  assert.equal(tracker.parse("", ctx), undefined);
});

Deno.test("lmtp, virtual and pipe deliveries are recipients like smtp and local ones", () => {
  const tracker = new PostfixTracker({ utc: true });
  const events = feed(tracker, [
    "Nov 23 10:00:00 mx postfix/smtpd[100]: connect from client.example[192.0.2.10]",
    "Nov 23 10:00:00 mx postfix/smtpd[100]: 3F1A2B4C5D: client=client.example[192.0.2.10]",
    "Nov 23 10:00:00 mx postfix/cleanup[101]: 3F1A2B4C5D: message-id=<m1@client.example>",
    "Nov 23 10:00:00 mx postfix/qmgr[102]: 3F1A2B4C5D: from=<sender@client.example>, size=1200, nrcpt=4 (queue active)",
    "Nov 23 10:00:01 mx postfix/lmtp[103]: 3F1A2B4C5D: to=<bob@example.org>, relay=mx.example.org[private/dovecot-lmtp], delay=0.21, delays=0.1/0.01/0.02/0.08, dsn=2.0.0, status=sent (250 2.0.0 <bob@example.org> kL3bA2xv7WWlAQAA Saved)",
    "Nov 23 10:00:01 mx postfix/virtual[104]: 3F1A2B4C5D: to=<alice@virtual.example>, relay=virtual, delay=0.05, delays=0.03/0.01/0/0.01, dsn=2.0.0, status=sent (delivered to maildir)",
    "Nov 23 10:00:01 mx postfix/pipe[105]: 3F1A2B4C5D: to=<carol@example.org>, relay=dovecot, delay=0.3, delays=0.1/0/0/0.2, dsn=2.0.0, status=sent (delivered via dovecot service)",
    'Nov 23 10:00:01 mx postfix/pipe[106]: 3F1A2B4C5D: to=<dave@example.org>, orig_to=<d@example.org>, relay=uucp, delay=0.4, delays=0.1/0/0/0.3, dsn=5.3.0, status=bounced (Command died with status 1: "uux". Command output: uux: unknown host )',
    "Nov 23 10:00:02 mx postfix/qmgr[102]: 3F1A2B4C5D: removed",
  ]);
  assert.deepEqual(events.map((e) => e.type), ["smtp.transaction"]);
  const recipients = events[0].recipients as Record<string, unknown>[];
  assert.deepEqual(
    recipients.map((r) => [r.to, r.orig_to, r.relay, r.dsn, r.status, r.reply]),
    [
      [
        "bob@example.org",
        undefined,
        "mx.example.org[private/dovecot-lmtp]",
        "2.0.0",
        "sent",
        "250 2.0.0 <bob@example.org> kL3bA2xv7WWlAQAA Saved",
      ],
      ["alice@virtual.example", undefined, "virtual", "2.0.0", "sent", "delivered to maildir"],
      ["carol@example.org", undefined, "dovecot", "2.0.0", "sent", "delivered via dovecot service"],
      [
        "dave@example.org",
        "d@example.org",
        "uucp",
        "5.3.0",
        "bounced",
        'Command died with status 1: "uux". Command output: uux: unknown host ',
      ],
    ],
  );
  assert.equal(recipients[0].delay, 0.21);
  assert.equal(recipients[0].delays, "0.1/0.01/0.02/0.08");
  assert.equal(events[0].nrcpt, 4);
});

Deno.test("smtpd sessions whose disconnect never comes are bounded; the oldest go first", () => {
  const tracker = new PostfixTracker({ utc: true, maxSessions: 3 });
  const connect = (pid: number) =>
    `Nov 23 10:00:0${pid} mx postfix/smtpd[${pid}]: connect from c${pid}.example[192.0.2.${pid}]`;
  feed(tracker, [1, 2, 3, 4, 5].map(connect));
  const pids = () => tracker.snapshot().sessions.map((session) => session.key);
  assert.deepEqual(pids(), ["mx 3", "mx 4", "mx 5"]);
  // A reused pid is a new session, the newest: pid 4 is then the oldest.
  feed(tracker, [connect(3), connect(6)]);
  assert.deepEqual(pids(), ["mx 5", "mx 3", "mx 6"]);
});

Deno.test("an open message holds its own lines in memory, not the chunks they were cut from", async () => {
  // The reader cuts lines out of chunks of up to 256 KiB, and V8 keeps a chunk alive
  // behind any substring of it; 100 messages left open, each cut from its own 1 MiB
  // chunk, held 105 MB. The heap is measured after a full GC, in a process of its own.
  const probe = `
    import { PostfixTracker } from ${JSON.stringify(import.meta.resolve("./tracker.ts"))};
    const tracker = new PostfixTracker({ utc: true });
    const context = { path: "mail.log", host: "h", readAt: new Date("2026-11-24T00:00:00Z") };
    const padding = "x".repeat(1 << 20);
    gc();
    const before = Deno.memoryUsage().heapUsed;
    for (let i = 0; i < 100; i++) {
      const id = (0xA00000 + i).toString(16).toUpperCase();
      const line = "Nov 23 19:25:08 mx postfix/smtpd[" + (100 + i) + "]: " + id +
        ": client=unknown[198.51.100." + i + "]";
      const chunk = (padding + "\\n" + line + "\\n").slice(0);
      tracker.parse(chunk.slice(padding.length + 1, chunk.length - 1), context);
    }
    gc();
    console.log(JSON.stringify({ open: tracker.openCount, grown: Deno.memoryUsage().heapUsed - before }));
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", probe],
    cwd: new URL(".", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const { open, grown } = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.equal(open, 100);
  assert.ok(grown < 10_000_000, `100 open messages hold ${(grown / 1e6).toFixed(1)} MB`);
});
