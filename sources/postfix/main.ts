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
import {
  type Command,
  type Flags,
  parseDuration,
  runCommand,
  stringFlag,
  UsageError,
} from "@eventstorm/core/cli";
import { fileSourceCommand, type FileSourceSpec } from "@eventstorm/core/source";
import { PostfixTracker } from "./tracker.ts";

/**
 * How the postfix source reads lines: its own flags and its parser (also used by the
 * agent and the syslog source).
 *
 * @example
 * ```ts ignore
 * import { postfixSource } from "@eventstorm/source-postfix/main";
 * console.log(postfixSource.summary);
 * ```
 */
export const postfixSource: FileSourceSpec = {
  name: "postfix",
  summary: "Postfix mail log: one smtp.transaction per message, smtp.reject, smtp.deferred",
  flags: {
    timeout: {
      type: "string",
      value: "DURATION",
      default: "1h",
      help: "log time without a line about a message before it is sent as incomplete",
    },
    "deferred-timeout": {
      type: "string",
      value: "DURATION",
      default: "5d",
      help: "the same for queued messages waiting to retry deferred recipients",
    },
    utc: { type: "boolean", help: "BSD syslog timestamps are UTC (default: local time)" },
  },
  epilog: "Examples:\n" +
    "  eventstorm source postfix --file /var/log/mail.log\n" +
    "  eventstorm source postfix --file 'mail.log*' --once --print",
  makeParser(values: Flags): PostfixTracker {
    const timeout = parseDuration(stringFlag(values, "timeout")!, "timeout");
    const deferredTimeout = parseDuration(
      stringFlag(values, "deferred-timeout")!,
      "deferred-timeout",
    );
    if (timeout <= 0 || deferredTimeout <= 0) {
      throw new UsageError("--timeout and --deferred-timeout must be longer than 0");
    }
    return new PostfixTracker({ timeout, deferredTimeout, utc: values.utc === true });
  },
};

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
