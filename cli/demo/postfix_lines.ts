/**
 * Postfix mail log lines: inbound and outbound deliveries, bounces, rejected
 * spam clients, and deferred mail retried minutes later under the same queue id.
 *
 * @module
 */
import type { Dice } from "./dice.ts";
import { compactDate, elapsed, type LogTime } from "./log_time.ts";
import type { Pids } from "./pids.ts";
import { LOCAL_USERS, MAIL_DOMAIN, REMOTE_DOMAINS, SPAM_DOMAINS, SSH_USERS } from "./words.ts";

/** Mail peers: drawn once per generator. */
export interface MailPools {
  /** Servers that send real mail. */
  mailPeers: { name: string; ip: string }[];
  /** Clients that send spam. */
  spamPeers: { name: string; ip: string }[];
  /** Office addresses that submit mail (and log in over ssh). */
  offices: string[];
}

interface Deferred {
  queueId: string;
  from: string;
  size: number;
  to: string;
  relay: string;
  arrived: number;
  due: number;
  attempts: number;
}

/** Lines of a Postfix mail log. */
export class PostfixLines {
  readonly #dice: Dice;
  readonly #time: LogTime;
  readonly #hostname: string;
  readonly #pids: Pids;
  readonly #qmgrPid: number;
  readonly #mailPeers: { name: string; ip: string }[];
  readonly #spamPeers: { name: string; ip: string }[];
  readonly #offices: string[];
  #deferred: Deferred[] = [];

  /** `qmgrPid`: the queue manager's pid, one for the life of the log. */
  constructor(
    dice: Dice,
    time: LogTime,
    hostname: string,
    pools: MailPools,
    pids: Pids,
    qmgrPid: number,
  ) {
    this.#dice = dice;
    this.#time = time;
    this.#hostname = hostname;
    this.#pids = pids;
    this.#qmgrPid = qmgrPid;
    this.#mailPeers = pools.mailPeers;
    this.#spamPeers = pools.spamPeers;
    this.#offices = pools.offices;
  }

  /**
   * The lines of one piece of mail activity, in order: a delivery (local or
   * remote), a rejected client (`NOQUEUE`), or the retry of mail deferred earlier
   * once its time has come. Lines end at the current time.
   */
  transaction(): string[] {
    const nowMs = this.#time.now().getTime();
    const due = this.#deferred.findIndex((d) => d.due <= nowMs);
    if (due >= 0) return this.#retry(this.#deferred.splice(due, 1)[0], nowMs);
    const kind = this.#dice.weighted([["inbound", 45], ["outbound", 30], ["reject", 25]]);
    if (kind === "reject") return this.#reject(nowMs);
    return kind === "inbound" ? this.#inbound(nowMs) : this.#outbound(nowMs);
  }

  #inbound(nowMs: number): string[] {
    const peer = this.#dice.pick(this.#mailPeers);
    const smtpd = this.#pids.next();
    const queueId = this.#queueId();
    const client = `${peer.name}[${peer.ip}]`;
    const from = `<${this.#mailbox(peer.name.replace(/^mail-[0-9a-f]+\./, ""))}>`;
    const recipients = this.#dice.random() < 0.85 ? 1 : this.#dice.int(2, 3);
    const size = this.#dice.int(1_500, 250_000);
    const lines: [number, string, string][] = [];
    const at = elapsed();
    lines.push([at(0), `postfix/smtpd[${smtpd}]`, `connect from ${client}`]);
    lines.push([at(0.3), `postfix/smtpd[${smtpd}]`, `${queueId}: client=${client}`]);
    lines.push([
      at(0.1),
      `postfix/cleanup[${this.#pids.of("cleanup")}]`,
      `${queueId}: message-id=<${this.#dice.hex(16).toLowerCase()}@${peer.name}>`,
    ]);
    lines.push([
      at(0.05),
      `postfix/qmgr[${this.#qmgrPid}]`,
      `${queueId}: from=${from}, size=${size}, nrcpt=${recipients} (queue active)`,
    ]);
    lines.push([
      at(0.05),
      `postfix/smtpd[${smtpd}]`,
      `disconnect from ${client} ehlo=1 mail=1 rcpt=${recipients} data=1 quit=1 commands=${
        4 + recipients
      }`,
    ]);
    const local = this.#pids.of("local");
    const used = new Set<string>();
    for (let i = 0; i < recipients; i++) {
      let user = this.#dice.pick(LOCAL_USERS);
      while (used.has(user)) user = this.#dice.pick(LOCAL_USERS);
      used.add(user);
      const delay = this.#dice.random() * 0.3;
      const alias = user === "postmaster" ? `, orig_to=<postmaster@${MAIL_DOMAIN}>` : "";
      const to = user === "postmaster" ? "alice" : user;
      lines.push([
        at(delay),
        `postfix/local[${local}]`,
        `${queueId}: to=<${to}@${MAIL_DOMAIN}>${alias}, relay=local, ${
          this.#delays(0.5 + delay)
        }, dsn=2.0.0, status=sent (delivered to mailbox)`,
      ]);
    }
    lines.push([at(0.01), `postfix/qmgr[${this.#qmgrPid}]`, `${queueId}: removed`]);
    return this.#time.syslog(this.#hostname, lines, nowMs);
  }

  #outbound(nowMs: number): string[] {
    const queueId = this.#queueId();
    const sender = this.#dice.pick(SSH_USERS.slice(0, 3));
    const lines: [number, string, string][] = [];
    const at = elapsed();
    let submission: { smtpd: number; client: string } | undefined;
    if (this.#dice.random() < 0.5) {
      lines.push([
        at(0),
        `postfix/pickup[${this.#pids.of("pickup")}]`,
        `${queueId}: uid=${1000 + SSH_USERS.indexOf(sender)} from=<${sender}>`,
      ]);
    } else {
      const smtpd = this.#pids.next();
      const client = `unknown[${this.#dice.pick(this.#offices.slice(0, 2))}]`;
      submission = { smtpd, client };
      lines.push([at(0), `postfix/smtpd[${smtpd}]`, `connect from ${client}`]);
      lines.push([
        at(0.4),
        `postfix/smtpd[${smtpd}]`,
        `${queueId}: client=${client}, sasl_method=PLAIN, sasl_username=${sender}`,
      ]);
    }
    const domain = this.#dice.pick(REMOTE_DOMAINS);
    const from = `${sender}@${MAIL_DOMAIN}`;
    const to = this.#mailbox(domain);
    const size = this.#dice.int(800, 90_000);
    lines.push([
      at(0.1),
      `postfix/cleanup[${this.#pids.of("cleanup")}]`,
      `${queueId}: message-id=<${compactDate(nowMs)}.${this.#dice.hex(6)}@${MAIL_DOMAIN}>`,
    ]);
    lines.push([
      at(0.05),
      `postfix/qmgr[${this.#qmgrPid}]`,
      `${queueId}: from=<${from}>, size=${size}, nrcpt=1 (queue active)`,
    ]);
    if (submission) {
      lines.push([
        at(0.05),
        `postfix/smtpd[${submission.smtpd}]`,
        `disconnect from ${submission.client} ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6`,
      ]);
    }
    const mx = `mx${this.#dice.int(1, 3)}.${domain}`;
    const relay = `${mx}[${this.#dice.ipv4()}]:25`;
    const outcome = this.#dice.weighted([["sent", 85], ["deferred", 10], ["bounced", 5]]);
    const took = outcome === "deferred" ? this.#dice.random() * 30 : 0.3 + this.#dice.random() * 2;
    const smtp = `postfix/smtp[${this.#pids.of("smtp")}]`;
    const head = `${queueId}: to=<${to}>, relay=${relay}, ${this.#delays(took + 0.2)}`;
    if (outcome === "sent") {
      lines.push([
        at(took),
        smtp,
        `${head}, dsn=2.0.0, status=sent (250 2.0.0 OK  ${Math.floor(nowMs / 1000)} ${
          this.#dice.hex(10).toLowerCase()
        }.${this.#dice.int(100, 999)} - gsmtp)`,
      ]);
      lines.push([at(0.01), `postfix/qmgr[${this.#qmgrPid}]`, `${queueId}: removed`]);
    } else if (outcome === "deferred") {
      lines.push([at(took), smtp, `${head.replace(relay, "none")}, ${this.#deferral(mx)}`]);
      this.#defer({ queueId, from, size, to, relay, arrived: nowMs, due: 0, attempts: 1 }, nowMs);
    } else {
      lines.push([
        at(took),
        smtp,
        `${head}, dsn=5.1.1, status=bounced (host ${relay.replace(/:25$/, "")} said: ` +
        `550 5.1.1 <${to}>: Recipient address rejected: User unknown (in reply to RCPT TO command))`,
      ]);
      lines.push(...this.#bounceNotice(queueId, from, at, nowMs));
      lines.push([at(0.01), `postfix/qmgr[${this.#qmgrPid}]`, `${queueId}: removed`]);
    }
    return this.#time.syslog(this.#hostname, lines, nowMs);
  }

  #retry(mail: Deferred, nowMs: number): string[] {
    const at = elapsed();
    const waited = (nowMs - mail.arrived) / 1000;
    const lines: [number, string, string][] = [[
      at(0),
      `postfix/qmgr[${this.#qmgrPid}]`,
      `${mail.queueId}: from=<${mail.from}>, size=${mail.size}, nrcpt=1 (queue active)`,
    ]];
    const smtp = `postfix/smtp[${this.#pids.of("smtp")}]`;
    const outcome = mail.attempts >= 3
      ? "bounced"
      : this.#dice.random() < 0.7
      ? "sent"
      : "deferred";
    const took = 0.5 + this.#dice.random();
    const delays = `delay=${fmt(waited + took)}, delays=${fmt(waited)}/0.01/${fmt(took / 2)}/${
      fmt(took / 2)
    }`;
    if (outcome === "deferred") {
      const mx = mail.relay.replace(/\[.*$/, "");
      lines.push([
        at(took),
        smtp,
        `${mail.queueId}: to=<${mail.to}>, relay=none, ${delays}, ${this.#deferral(mx)}`,
      ]);
      mail.attempts++;
      this.#defer(mail, nowMs);
      return this.#time.syslog(this.#hostname, lines, nowMs);
    }
    if (outcome === "sent") {
      lines.push([
        at(took),
        smtp,
        `${mail.queueId}: to=<${mail.to}>, relay=${mail.relay}, ${delays}, dsn=2.0.0, ` +
        `status=sent (250 2.0.0 Ok: queued as ${this.#dice.hex(10)})`,
      ]);
    } else {
      lines.push([
        at(took),
        smtp,
        `${mail.queueId}: to=<${mail.to}>, relay=none, ${delays}, dsn=4.4.1, ` +
        `status=bounced (delivery temporarily suspended: connect to ${
          mail.relay.replace(/:25$/, "")
        }:25: Connection timed out)`,
      ]);
      lines.push(...this.#bounceNotice(mail.queueId, mail.from, at, nowMs));
    }
    lines.push([at(0.01), `postfix/qmgr[${this.#qmgrPid}]`, `${mail.queueId}: removed`]);
    return this.#time.syslog(this.#hostname, lines, nowMs);
  }

  #defer(mail: Deferred, nowMs: number): void {
    mail.due = nowMs + this.#dice.int(60, 300) * 1000;
    // Bounded: a generator driven by a frozen clock must not hoard mail forever.
    if (this.#deferred.length < 100) this.#deferred.push(mail);
  }

  #deferral(mx: string): string {
    return this.#dice.weighted([
      [
        `dsn=4.4.1, status=deferred (connect to ${mx}[${this.#dice.ipv4()}]:25: Connection refused)`,
        40,
      ],
      [
        `dsn=4.4.1, status=deferred (connect to ${mx}[${this.#dice.ipv4()}]:25: Connection timed out)`,
        30,
      ],
      [
        `dsn=4.7.1, status=deferred (host ${mx}[${this.#dice.ipv4()}] said: 451 4.7.1 Greylisted, ` +
        `please try again later (in reply to RCPT TO command))`,
        30,
      ],
    ]);
  }

  #bounceNotice(
    queueId: string,
    sender: string,
    at: (seconds: number) => number,
    nowMs: number,
  ): [number, string, string][] {
    const notice = this.#queueId();
    const bounce = this.#pids.of("bounce");
    return [
      [
        at(0.02),
        `postfix/cleanup[${this.#pids.of("cleanup")}]`,
        `${notice}: message-id=<${compactDate(nowMs)}.${notice}@${this.#hostname}.${MAIL_DOMAIN}>`,
      ],
      [
        at(0.01),
        `postfix/bounce[${bounce}]`,
        `${queueId}: sender non-delivery notification: ${notice}`,
      ],
      [
        at(0.01),
        `postfix/qmgr[${this.#qmgrPid}]`,
        `${notice}: from=<>, size=${this.#dice.int(2_500, 9_000)}, nrcpt=1 (queue active)`,
      ],
      [
        at(0.1),
        `postfix/local[${this.#pids.of("local")}]`,
        `${notice}: to=<${sender}>, relay=local, ${
          this.#delays(0.15)
        }, dsn=2.0.0, status=sent (delivered to mailbox)`,
      ],
      [at(0.01), `postfix/qmgr[${this.#qmgrPid}]`, `${notice}: removed`],
    ];
  }

  #reject(nowMs: number): string[] {
    const peer = this.#dice.pick(this.#spamPeers);
    const smtpd = this.#pids.next();
    const client = `${peer.name}[${peer.ip}]`;
    const spamDomain = peer.name === "unknown" ? this.#dice.pick(SPAM_DOMAINS) : peer.name;
    const from = `${
      this.#dice.pick(["promo", "noreply", "info", "winner", "admin"])
    }@${spamDomain}`;
    const to = `${this.#dice.pick(LOCAL_USERS)}@${MAIL_DOMAIN}`;
    const helo = peer.name === "unknown"
      ? `${this.#dice.hex(6).toLowerCase()}.localdomain`
      : peer.name;
    const tail = `from=<${from}> to=<${to}> proto=ESMTP helo=<${helo}>`;
    const reason = this.#dice.weighted([
      [
        `554 5.7.1 Service unavailable; Client host [${peer.ip}] blocked using zen.spamhaus.org; ` +
        `https://www.spamhaus.org/query/ip/${peer.ip}; ${tail}`,
        50,
      ],
      [`450 4.7.1 <${helo}>: Helo command rejected: Host not found; ${tail}`, 25],
      [
        `550 5.1.1 <nobody${
          this.#dice.int(1, 99)
        }@${MAIL_DOMAIN}>: Recipient address rejected: User ` +
        `unknown in local recipient table; ${tail.replace(to, `nobody@${MAIL_DOMAIN}`)}`,
        25,
      ],
    ]);
    const at = elapsed();
    return this.#time.syslog(this.#hostname, [
      [at(0), `postfix/smtpd[${smtpd}]`, `connect from ${client}`],
      [at(0.5), `postfix/smtpd[${smtpd}]`, `NOQUEUE: reject: RCPT from ${client}: ${reason}`],
      [at(0.2), `postfix/smtpd[${smtpd}]`, `lost connection after RCPT from ${client}`],
      [
        at(0.01),
        `postfix/smtpd[${smtpd}]`,
        `disconnect from ${client} ehlo=1 mail=1 rcpt=0/1 commands=2/3`,
      ],
    ], nowMs);
  }

  #delays(total: number): string {
    const a = total * 0.6, b = 0.01, c = total * 0.1;
    return `delay=${fmt(total)}, delays=${fmt(a)}/${fmt(b)}/${fmt(c)}/${
      fmt(Math.max(0, total - a - b - c))
    }`;
  }

  #mailbox(domain: string): string {
    const first = this.#dice.pick([
      "john",
      "maria",
      "li",
      "ahmed",
      "olga",
      "k.tanaka",
      "news",
      "billing",
    ]);
    return this.#dice.random() < 0.5
      ? `${first}@${domain}`
      : `${first}.${this.#dice.int(1, 99)}@${domain}`;
  }

  // Postfix's short queue ids: hex of the time and inode, 10 or 11 characters.
  #queueId(): string {
    return this.#dice.hex(this.#dice.random() < 0.85 ? 10 : 11);
  }
}

// Postfix prints delays with two significant decimals and drops trailing zeros.
function fmt(seconds: number): string {
  if (seconds >= 10) return String(Math.round(seconds));
  return String(Number(seconds.toFixed(seconds < 1 ? 2 : 1)));
}
