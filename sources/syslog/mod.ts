/**
 * Syslog source: receives syslog over UDP, TCP (RFC 6587 octet counting or LF
 * framing) and Unix sockets, and routes messages by program tag to the nginx,
 * Postfix and sshd parsers.
 *
 * @example
 * ```ts
 * import { SyslogFramer } from "@eventstorm/source-syslog";
 * const framer = new SyslogFramer();
 * framer.push(new TextEncoder().encode("<13>hello\n")).length; // 1
 * ```
 *
 * @module
 */
export * from "./framing.ts";
export * from "./router.ts";
export * from "./listener.ts";
export * from "./source.ts";
export * from "./datagram.ts";
export { SYSLOG_FLAGS, syslogRouter } from "./config.ts";
export { formatSyslogLine, syslogCounters } from "./stats.ts";
