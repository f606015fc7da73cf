/**
 * `eventstorm source nginx`: follows nginx access logs and publishes one `http.hit`
 * event per request, parsed with the `log_format` that wrote them.
 *
 * @example
 * ```sh
 * deno run -A sources/nginx/main.ts --file /var/log/nginx/access.log --to '>tcp://127.0.0.1:5555'
 * deno run -A sources/nginx/main.ts --file access.log --nginx-conf /etc/nginx/nginx.conf \
 *   --format-name main --once --print
 * ```
 *
 * @module
 */
import { type Command, runCommand } from "@eventstorm/core/cli";
import { fileSourceCommand } from "@eventstorm/core/source";
import { nginxSource } from "./config.ts";

/**
 * The nginx source's command: its flags, its help and how it runs.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/source-nginx/main";
 * await command.main(["--file", "access.log", "--once", "--print"]);
 * ```
 */
export const command: Command = fileSourceCommand(nginxSource);

if (import.meta.main) await runCommand(() => command.main(Deno.args));
