/**
 * `eventstorm source nginx`: which `log_format` the nginx source parses with, from its flags.
 *
 * @module
 */
import { type BooleanFlagSpec, type StringFlagSpec, UsageError } from "@eventstorm/core/cli";
import type { FileSourceSpec } from "@eventstorm/core/source";
import { resolve } from "node:path";
import type { LogEscape } from "./escape.ts";
import { COMBINED_FORMAT } from "./log_format.ts";
import { loadLogFormatSync, NginxConfError } from "./nginx_conf.ts";
import { nginxParser } from "./parser.ts";
import type { LineParser } from "@eventstorm/core/source";

const ESCAPES: readonly LogEscape[] = ["default", "json", "none"];

/** The format and escaping the flags ask for. */
function chooseFormat(
  values: Parameters<typeof nginxSource.makeParser>[0],
): { format: string; escape: LogEscape } {
  const {
    format: literal,
    "nginx-conf": conf,
    "format-name": name,
    escape: escapeFlag,
  } = values;
  if (escapeFlag !== undefined && !ESCAPES.includes(escapeFlag as LogEscape)) {
    throw new UsageError(`--escape must be default, json or none, got '${escapeFlag}'`);
  }
  if (literal !== undefined) {
    if (conf !== undefined || name !== undefined) {
      throw new UsageError("--format excludes --nginx-conf and --format-name");
    }
    return { format: literal, escape: (escapeFlag as LogEscape | undefined) ?? "default" };
  }
  if (conf === undefined) {
    if (name !== undefined && name !== "combined") {
      throw new UsageError(`--format-name ${name} needs --nginx-conf to read it from`);
    }
    return { format: COMBINED_FORMAT, escape: "default" };
  }
  if (escapeFlag !== undefined) {
    throw new UsageError("--escape goes with --format; a log_format in --nginx-conf names its own");
  }
  const files = values.file;
  try {
    const found = loadLogFormatSync(conf, {
      name,
      logPath: files.length === 1 ? resolve(files[0]) : undefined,
    });
    return { format: found.format, escape: found.escape };
  } catch (error) {
    if (error instanceof NginxConfError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * How the nginx source reads lines: its own flags and its parser (also used by the
 * agent and the syslog source).
 *
 * @example
 * ```ts ignore
 * import { nginxSource } from "@eventstorm/source-nginx";
 * console.log(nginxSource.summary);
 * ```
 */
export const nginxSource: FileSourceSpec<{
  format: StringFlagSpec;
  "nginx-conf": StringFlagSpec;
  "format-name": StringFlagSpec;
  escape: StringFlagSpec;
  strict: BooleanFlagSpec;
}> = {
  name: "nginx",
  summary: "nginx access logs in any log_format: one http.hit event per request",
  flags: {
    format: {
      type: "string",
      value: "LOG_FORMAT",
      help: "the log_format string itself (quote it) [default: nginx's combined]",
    },
    "nginx-conf": {
      type: "string",
      value: "PATH",
      help: "read the format from this nginx configuration (includes followed)",
    },
    "format-name": {
      type: "string",
      value: "NAME",
      help: "which log_format of --nginx-conf [default: the one access_log uses for --file]",
    },
    escape: {
      type: "string",
      value: "MODE",
      help: "escaping of --format: default, json or none (its escape= parameter)",
    },
    strict: {
      type: "boolean",
      help: "only lines that match the format exactly (no second pass that allows other " +
        "spacing and trailing text)",
    },
  },
  epilog: "Examples:\n" +
    "  eventstorm source nginx --file /var/log/nginx/access.log\n" +
    "  eventstorm source nginx --file /var/log/nginx/access.log --nginx-conf /etc/nginx/nginx.conf\n" +
    "  eventstorm source nginx --file access.log --once --print \\\n" +
    "    --format '$remote_addr [$time_local] \"$request\" $status $request_time'\n" +
    "\n" +
    "Fields are named after the variables ($http_user_agent → http_user_agent); $request\n" +
    "also gives method, path, query and protocol; $time_local, $time_iso8601 or $msec give\n" +
    "the event time. Lines the format does not match are counted (--unparsed sends them\n" +
    "as nginx.unparsed events).",
  makeParser(values): LineParser {
    const { format, escape } = chooseFormat(values);
    try {
      return nginxParser({ format, escape, lenient: !values.strict });
    } catch (error) {
      if (error instanceof SyntaxError) throw new UsageError(error.message);
      throw error;
    }
  },
};
