/**
 * Realistic log lines for the demo: nginx access logs, Postfix mail logs and sshd
 * auth logs, with the distributions and oddities real servers see (scanners,
 * brute-force bursts, empty and hostile user agents, TLS handshakes on port 80,
 * IPv6 clients, deferred mail that is retried later). Deterministic for a seed.
 * Each log's lines come from its own file; this one ties them to one host.
 *
 * @module
 */
import { Dice } from "./dice.ts";
import { LogTime } from "./log_time.ts";
import { NginxLines } from "./nginx_lines.ts";
import { Pids } from "./pids.ts";
import { PostfixLines } from "./postfix_lines.ts";
import { SshdLines } from "./sshd_lines.ts";
import { REMOTE_DOMAINS, SPAM_DOMAINS } from "./words.ts";

export { NGINX_TIMED_FORMAT } from "./nginx_lines.ts";

/** Options of {@linkcode LogGenerator}. */
export interface LogGeneratorOptions {
  /** Seed of the random sequence; equal seeds and clocks give equal lines. */
  seed?: number;
  /** Clock for the timestamps in lines. */
  now?: () => Date;
  /** Host name in syslog lines (mail and auth logs). */
  hostname?: string;
  /** nginx line format: `combined` (default) or `timed` (`NGINX_TIMED_FORMAT`). */
  nginxFormat?: "combined" | "timed";
  /** Local time zone offset in minutes east of UTC for timestamps; the machine's by default. */
  utcOffsetMinutes?: number;
}

/**
 * Makes the log lines of one host, one at a time. Its web clients, scanners and
 * attackers, mail peers and offices are drawn once, so the same addresses recur
 * across the three logs as they would on a real host. Lines for one connection
 * keep one pid and client address; sshd connections interleave.
 *
 * @example
 * ```ts
 * import { LogGenerator } from "./loggen.ts";
 * const gen = new LogGenerator({ seed: 1, now: () => new Date("2025-03-01T12:00:00Z") });
 * console.log(gen.nginxLine());
 * console.log(gen.postfixTransaction().join("\n"));
 * console.log(gen.sshdLine());
 * ```
 */
export class LogGenerator {
  readonly #nginx: NginxLines;
  readonly #postfix: PostfixLines;
  readonly #sshd: SshdLines;

  /** Creates a generator; its address pools are drawn from the seed. */
  constructor(options: LogGeneratorOptions = {}) {
    const dice = new Dice(options.seed ?? Date.now());
    const time = new LogTime(options.now ?? (() => new Date()), options.utcOffsetMinutes);
    const hostname = options.hostname ?? "demo";
    // The order of these draws is the seed's meaning: keep it.
    const webClients = Array.from(
      { length: 300 },
      (_, i) => i % 12 === 0 ? dice.ipv6() : dice.ipv4(),
    );
    const scanners = Array.from({ length: 8 }, () => dice.ipv4());
    const attackers = Array.from({ length: 6 }, (_, i) => i === 5 ? dice.ipv6() : dice.ipv4());
    const offices = [dice.ipv4(), dice.ipv4(), dice.ipv6()];
    const mailPeers = REMOTE_DOMAINS.map((domain) => ({
      name: `mail-${dice.hex(4).toLowerCase()}.${domain}`,
      ip: dice.ipv4(),
    }));
    const spamPeers = Array.from({ length: 10 }, (_, i) => ({
      name: i % 3 === 0 ? "unknown" : dice.pick(SPAM_DOMAINS),
      ip: dice.ipv4(),
    }));
    const assetHashes = Array.from({ length: 3 }, () => dice.hex(8).toLowerCase());
    const qmgrPid = dice.int(900, 2000);
    const pids = new Pids(dice, dice.int(20_000, 30_000));
    this.#nginx = new NginxLines(
      dice,
      time,
      { webClients, scanners, assetHashes },
      options.nginxFormat === "timed",
    );
    this.#postfix = new PostfixLines(
      dice,
      time,
      hostname,
      { mailPeers, spamPeers, offices },
      pids,
      qmgrPid,
    );
    this.#sshd = new SshdLines(dice, time, hostname, { attackers, offices, scanners }, pids);
  }

  /** One nginx access log line in the configured format. */
  nginxLine(): string {
    return this.#nginx.line();
  }

  /**
   * The lines of one piece of mail activity, in order: a delivery (local or
   * remote), a rejected client (`NOQUEUE`), or the retry of mail deferred earlier
   * once its time has come. Lines end at the current time.
   */
  postfixTransaction(): string[] {
    return this.#postfix.transaction();
  }

  /**
   * One sshd line for `/var/log/auth.log`. Connections span several lines (an
   * invalid user, then its failed password, then the disconnect); several are open
   * at once, so their lines interleave.
   */
  sshdLine(): string {
    return this.#sshd.line();
  }
}
