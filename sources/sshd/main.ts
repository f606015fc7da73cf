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
import { type Command, type Flags, runCommand } from "@eventstorm/core/cli";
import { fileSourceCommand, type FileSourceSpec } from "@eventstorm/core/source";
import { SshdParser } from "./sshd_parser.ts";

/**
 * How the sshd source reads lines: its own flags and its parser (also used by the
 * agent and the syslog source).
 *
 * @example
 * ```ts ignore
 * import { sshdSource } from "@eventstorm/source-sshd/main";
 * console.log(sshdSource.summary);
 * ```
 */
export const sshdSource: FileSourceSpec = {
  name: "sshd",
  summary: "sshd logins (accepted, failed, invalid user) from auth.log as ssh.login events",
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

/**
 * The sshd source's command: its flags, its help and how it runs.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/source-sshd/main";
 * await command.main(["--file", "auth.log", "--once", "--print"]);
 * ```
 */
export const command: Command = fileSourceCommand(sshdSource);

if (import.meta.main) await runCommand(() => command.main(Deno.args));
