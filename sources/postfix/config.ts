/**
 * `eventstorm source postfix`: the Postfix source's flags and its tracker.
 *
 * @module
 */
import {
  type BooleanFlagSpec,
  parseDuration,
  type StringFlagSpec,
  UsageError,
} from "@eventstorm/core/cli";
import type { FileSourceSpec } from "@eventstorm/core/source";
import { PostfixTracker } from "./tracker.ts";

/**
 * How the postfix source reads lines: its own flags and its parser (also used by the
 * agent and the syslog source).
 *
 * @example
 * ```ts ignore
 * import { postfixSource } from "@eventstorm/source-postfix";
 * console.log(postfixSource.summary);
 * ```
 */
export const postfixSource: FileSourceSpec<{
  timeout: StringFlagSpec & { default: string };
  "deferred-timeout": StringFlagSpec & { default: string };
  utc: BooleanFlagSpec;
}> = {
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
  makeParser(values): PostfixTracker {
    const timeout = parseDuration(values.timeout, "timeout", { span: true });
    const deferredTimeout = parseDuration(values["deferred-timeout"], "deferred-timeout", {
      span: true,
    });
    if (timeout <= 0 || deferredTimeout <= 0) {
      throw new UsageError("--timeout and --deferred-timeout must be longer than 0");
    }
    return new PostfixTracker({ timeout, deferredTimeout, utc: values.utc });
  },
};
