/**
 * The nginx access log as a {@linkcode LineParser}: one `http.hit` event per line.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import type { LineContext, LineParser } from "@eventstorm/core/source";
import { combinedAsciiEncoder } from "./combined_ascii.ts";
import { COMBINED_FORMAT, compileLogFormat, type LogEscape, type LogFormat } from "./log_format.ts";

/** Event type of one logged request. */
export const HIT_TYPE = "http.hit";

/** Options of {@linkcode nginxParser}. */
export interface NginxParserOptions {
  /** The `log_format` string (without `log_format NAME`); nginx's `combined` by default. */
  format?: string;
  /** The format's `escape=` parameter. */
  escape?: LogEscape;
  /**
   * Whether lines that differ from the format only in spacing or in trailing text
   * (kept as `extra`) are accepted; default `true`. See {@linkcode compileLogFormat}.
   */
  lenient?: boolean;
  /** Event type to emit instead of `http.hit`. */
  type?: string;
}

/**
 * A parser for access-log lines written with one `log_format`. A line that does not
 * match yields `undefined` (the file source counts it, and with `--unparsed` ships it
 * as `nginx.unparsed`). Lines without a time variable in their format take the time
 * they were read. Throws a `SyntaxError` at once for a malformed format.
 *
 * @example
 * ```ts
 * import { nginxParser } from "@eventstorm/source-nginx";
 * const parser = nginxParser({});
 * const [hit] = parser.parse(
 *   '93.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3"',
 *   { path: "/var/log/nginx/access.log", host: "web1", readAt: new Date() },
 * )!;
 * console.log(hit.type, hit.status, hit.path); // http.hit 304 /downloads/product_1
 * ```
 */
export function nginxParser(options: NginxParserOptions = {}): LineParser {
  const format: LogFormat = compileLogFormat(options.format ?? COMBINED_FORMAT, {
    escape: options.escape,
    lenient: options.lenient,
  });
  const type = options.type ?? HIT_TYPE;
  const hasTime = format.hasTime;
  const combined = format.format === COMBINED_FORMAT && format.escape === "default";
  return {
    ascii: combined ? combinedAsciiEncoder(type) : undefined,
    parse(line: string, context: LineContext): Event[] | undefined {
      // CRLF files (logs copied from Windows hosts) end their lines with a stray CR.
      if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
      const event: Event = {
        type,
        time: hasTime ? (undefined as unknown as Date) : new Date(context.readAt.getTime()),
        host: context.host,
      };
      return format.parseInto(line, event) ? [event] : undefined;
    },
  };
}
