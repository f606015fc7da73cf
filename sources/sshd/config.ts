/**
 * `eventstorm source sshd`: the sshd source's flags and its parser.
 *
 * @module
 */
import type { BooleanFlagSpec } from "@eventstorm/core/cli";
import type { FileSourceSpec } from "@eventstorm/core/source";
import { SshdParser } from "./sshd_parser.ts";

/**
 * How the sshd source reads lines: its own flags and its parser (also used by the
 * agent and the syslog source).
 *
 * @example
 * ```ts ignore
 * import { sshdSource } from "@eventstorm/source-sshd";
 * console.log(sshdSource.summary);
 * ```
 */
export const sshdSource: FileSourceSpec<{ utc: BooleanFlagSpec }> = {
  name: "sshd",
  summary: "sshd logins (accepted, failed, invalid user) from auth.log as ssh.login events",
  flags: {
    utc: { type: "boolean", help: "BSD syslog timestamps are UTC (default: local time)" },
  },
  epilog: "Examples:\n" +
    "  eventstorm source sshd --file /var/log/auth.log\n" +
    "  eventstorm source sshd --file 'auth.log*' --once --print",
  makeParser(values): SshdParser {
    return new SshdParser({ utc: values.utc });
  },
};
