/**
 * journald source: follows the systemd journal through `journalctl -o export`
 * with a cursor checkpoint, routing sshd and Postfix entries to their parsers.
 *
 * @example
 * ```ts
 * import { ExportParser } from "@eventstorm/source-journald";
 * new ExportParser().push(new TextEncoder().encode("MESSAGE=x\n\n")).length; // 1
 * ```
 *
 * @module
 */
export * from "./access.ts";
export * from "./export_format.ts";
export * from "./router.ts";
export * from "./seqnum.ts";
export * from "./source.ts";
export { JOURNALD_FLAGS, journaldSource } from "./config.ts";
export { formatJournaldLine, journaldCounters } from "./stats.ts";
