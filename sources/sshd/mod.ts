/**
 * sshd log source: one `ssh.login` event per line that accepts, fails or probes a
 * login, from auth.log or journal-style lines.
 *
 * @example
 * ```ts
 * import { SshdParser } from "@eventstorm/source-sshd";
 * const parser = new SshdParser();
 * const [event] = parser.parse(
 *   "Mar 27 13:08:09 ip-10-77-20-248 sshd[1361]: Accepted publickey for ubuntu from 85.245.107.41 port 54259 ssh2: RSA SHA256:Kl8kPGZrTiz7g4FO1hyqHdsSBBb5Fge6NWOobN03XJg",
 *   { path: "auth.log", host: "h", readAt: new Date() },
 * ) ?? [];
 * console.log(event.result, event.user, event.key_type); // accepted ubuntu RSA
 * ```
 *
 * @module
 */
export * from "./sshd_parser.ts";
export { sshdSource } from "./config.ts";
