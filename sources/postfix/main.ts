/**
 * `eventstorm source postfix`: follows Postfix's mail log and publishes
 * `smtp.transaction`, `smtp.reject` and `smtp.deferred` events.
 *
 * @example
 * ```sh
 * deno run -A sources/postfix/main.ts --file /var/log/mail.log --to '>tcp://127.0.0.1:5555'
 * deno run -A sources/postfix/main.ts --file mail.log --once --print
 * ```
 *
 * @module
 */
import { type Command, runCommand } from "@eventstorm/core/cli";
import { fileSourceCommand } from "@eventstorm/core/source";
import { postfixSource } from "./config.ts";

/**
 * The postfix source's command: its flags, its help and how it runs.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/source-postfix/main";
 * await command.main(["--file", "mail.log", "--once", "--print"]);
 * ```
 */
export const command: Command = fileSourceCommand(postfixSource);

if (import.meta.main) await runCommand(() => command.main(Deno.args));
