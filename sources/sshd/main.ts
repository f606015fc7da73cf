/**
 * `eventstorm source sshd`: follows auth.log (or journal-style lines) and
 * publishes one `ssh.login` event per accepted, failed or probed login.
 *
 * @example
 * ```sh
 * deno run -A sources/sshd/main.ts --file /var/log/auth.log --to '>tcp://127.0.0.1:5555'
 * journalctl -u ssh -o short-iso > ssh.log && deno run -A sources/sshd/main.ts --file ssh.log --once --print
 * ```
 *
 * @module
 */
import { type Flags, runCommand } from "@eventstorm/core/cli";
import { type FileSourceCommand, runFileSourceMain } from "@eventstorm/core/source";
import { SshdParser } from "./sshd_parser.ts";

/**
 * The sshd source command, for `runFileSourceMain` (also used by the `eventstorm`
 * CLI).
 *
 * @example
 * ```ts ignore
 * import { runFileSourceMain } from "@eventstorm/core/source";
 * import { sshdCommand } from "@eventstorm/source-sshd/main";
 * await runFileSourceMain(["--file", "auth.log", "--once", "--print"], sshdCommand);
 * ```
 */
export const sshdCommand: FileSourceCommand = {
  name: "sshd",
  summary: "sshd logins (accepted, failed, invalid user) as ssh.login events",
  flags: {
    utc: { type: "boolean", help: "BSD syslog timestamps are UTC (default: local time)" },
  },
  epilog: "Examples:\n" +
    "  eventstorm source sshd --file /var/log/auth.log\n" +
    "  eventstorm source sshd --file 'auth.log*' --once --print",
  makeParser(values: Flags): SshdParser {
    return new SshdParser({ utc: values.utc === true });
  },
};

if (import.meta.main) {
  await runCommand(() => runFileSourceMain(Deno.args, sshdCommand));
}
