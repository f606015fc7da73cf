/**
 * sshd login decisions from auth.log or journal-style lines: `ssh.login` events.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import { type LineContext, type LineParser, SyslogParser } from "@eventstorm/core/source";

/** What one sshd message says about a login. */
export interface SshdLogin {
  /** `accepted`, `failed`, `invalid_user` (probe of an unknown account) or
   * `not_allowed` (refused by AllowUsers/DenyUsers and friends). */
  result: "accepted" | "failed" | "invalid_user" | "not_allowed";
  /** The account asked for (may be empty: `Invalid user  from ...`). */
  user: string;
  /** Client address as sshd logged it. */
  address: string;
  /** Client port, when logged. */
  port?: number;
  /** `password`, `publickey`, `keyboard-interactive`, `none`, `hostbased`, ... */
  method?: string;
  /** The part after `/` in `keyboard-interactive/pam`. */
  submethod?: string;
  /** `ssh2`, when logged. */
  protocol?: string;
  /** Whether the account does not exist. */
  invalid_user?: boolean;
  /** Key type of a public-key or host-based login, like `RSA` or `ED25519-CERT`. */
  key_type?: string;
  /** Key fingerprint, like `SHA256:...`. */
  key_fingerprint?: string;
  /** Why the login was not allowed (`not_allowed`). */
  reason?: string;
  /** How many attempts the line stands for (`message repeated N times: [ ... ]`). */
  repeated?: number;
}

const DECISION =
  /^(Accepted|Failed) (\S+) for (invalid user )?(.*) from (\S+) port (\d+)(?: (\w+))?(?:: (\S+) (\S+))?/;
const INVALID = /^Invalid user (.*) from (\S+?)(?: port (\d+))?\s*$/;
const NOT_ALLOWED = /^User (.*) from (\S+) not allowed because (.+)$/;
const REPEATED = /^message repeated (\d+) times: \[ ?(.*)\]$/;

/**
 * What an sshd message says about a login, or `undefined` when it decides none.
 *
 * @example
 * ```ts
 * import { parseSshdMessage } from "@eventstorm/source-sshd";
 * parseSshdMessage("Failed password for invalid user admin from 203.0.113.9 port 40022 ssh2");
 * // { result: "failed", user: "admin", invalid_user: true, address: "203.0.113.9", port: 40022, method: "password", protocol: "ssh2" }
 * ```
 */
export function parseSshdMessage(message: string): SshdLogin | undefined {
  switch (message.charCodeAt(0)) {
    case 65: // A
    case 70: { // F
      const m = DECISION.exec(message);
      if (m === null) return undefined;
      const login: SshdLogin = {
        result: m[1] === "Accepted" ? "accepted" : "failed",
        user: m[4],
        address: m[5],
        port: Number(m[6]),
      };
      const slash = m[2].indexOf("/");
      login.method = slash < 0 ? m[2] : m[2].slice(0, slash);
      if (slash >= 0) login.submethod = m[2].slice(slash + 1);
      if (m[7] !== undefined) login.protocol = m[7];
      if (m[3] !== undefined) login.invalid_user = true;
      if (m[8] !== undefined) {
        login.key_type = m[8];
        login.key_fingerprint = m[9];
      }
      return login;
    }
    case 73: { // I
      const m = INVALID.exec(message);
      if (m === null) return undefined;
      const login: SshdLogin = {
        result: "invalid_user",
        user: m[1],
        address: m[2],
        invalid_user: true,
      };
      if (m[3] !== undefined) login.port = Number(m[3]);
      return login;
    }
    case 85: { // U
      const m = NOT_ALLOWED.exec(message);
      if (m === null) return undefined;
      return { result: "not_allowed", user: m[1], address: m[2], reason: m[3] };
    }
    case 109: { // m
      const m = REPEATED.exec(message);
      if (m === null) return undefined;
      const login = parseSshdMessage(m[2]);
      if (login !== undefined) login.repeated = Number(m[1]);
      return login;
    }
  }
  return undefined;
}

/**
 * Whether a syslog program tag is sshd's: `sshd`, OpenSSH 9.8+'s `sshd-session`
 * and `sshd-auth`, or a path ending in `/sshd`.
 *
 * @example
 * ```ts
 * import { isSshdProgram } from "@eventstorm/source-sshd";
 * isSshdProgram("sshd-session"); // true
 * isSshdProgram("sudo"); // false
 * ```
 */
export function isSshdProgram(program: string): boolean {
  return program === "sshd" || program.startsWith("sshd-") || program.endsWith("/sshd");
}

/** Options of {@linkcode SshdParser}. */
export interface SshdParserOptions {
  /** Whether BSD timestamps are UTC rather than local time. */
  utc?: boolean;
}

/**
 * A stateless {@linkcode LineParser} for sshd: one `ssh.login` per line that
 * decides or probes a login (fields of {@linkcode SshdLogin}, plus `pid`), `[]` for
 * every other line with a syslog header (other programs, sshd's session chatter),
 * and `undefined` only for lines without one.
 *
 * @example
 * ```ts
 * import { SshdParser } from "@eventstorm/source-sshd";
 * const parser = new SshdParser({ utc: true });
 * const events = parser.parse(
 *   "Mar 27 14:54:57 ip-10-77-20-248 sshd[2967]: Invalid user support from 95.152.57.58",
 *   { path: "auth.log", host: "h", readAt: new Date("2026-04-01T00:00:00Z") },
 * );
 * console.log(events?.[0].result); // "invalid_user"
 * ```
 */
export class SshdParser implements LineParser {
  #syslog: SyslogParser;

  /** Creates a parser; see {@linkcode SshdParserOptions}. */
  constructor(options: SshdParserOptions = {}) {
    this.#syslog = new SyslogParser({ utc: options.utc });
  }

  /** Events from one line; see the class documentation. */
  parse(line: string, context: LineContext): Event[] | undefined {
    const header = this.#syslog.parse(line, context.readAt);
    if (header === undefined) return undefined;
    if (!isSshdProgram(header.program)) return [];
    const login = parseSshdMessage(header.message);
    if (login === undefined) return [];
    const event: Event = {
      type: "ssh.login",
      time: header.time,
      host: header.host || context.host,
      ...login,
    };
    if (header.pid !== undefined) event.pid = header.pid;
    return [event];
  }
}
