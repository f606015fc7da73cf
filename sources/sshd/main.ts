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
import { type Command, runCommand } from "@eventstorm/core/cli";
import { fileSourceCommand } from "@eventstorm/core/source";
import { sshdSource } from "./config.ts";

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
