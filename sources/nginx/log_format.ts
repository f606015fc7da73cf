/**
 * Compiling an nginx `log_format` string into a matcher for the lines it writes.
 *
 * Each variable becomes a field named after it, lower-cased and without the `$`
 * (`$http_X_Request_ID` → `http_x_request_id`), with these exceptions and types:
 *
 * - `$time_local`, `$time_iso8601`, `$msec` → the event `time` (a `Date`); no field.
 * - `$host` → `vhost` (the envelope's `host` is the machine); `$hostname` → the
 *   envelope `host` itself. Variables named `type`, `time` or `_id` (from `map`) get
 *   an `nginx_` prefix.
 * - `$request` → `request` (as logged, escapes decoded) plus `method`, `path`,
 *   `query` and `protocol` when the line is HTTP.
 * - Whole numbers: `status`, `body_bytes_sent`, `bytes_sent`, `request_length`,
 *   `connection`, `connection_requests`, `pid`, `remote_port`, `server_port`,
 *   `proxy_port`, `connections_*`.
 * - Seconds as numbers: `request_time`, `gzip_ratio` (a ratio).
 * - Per-upstream lists (`0.001, 0.002 : 0.003`, one entry per upstream tried, `:`
 *   between internal redirects): `upstream_connect_time`, `upstream_header_time`,
 *   `upstream_response_time`, `upstream_bytes_received`, `upstream_bytes_sent`,
 *   `upstream_response_length` give their sum; `upstream_status` gives the last
 *   (final) status. When nginx tried more than one upstream, the entries also appear
 *   in order as `<name>_list` (a `-` entry is `null` there and adds nothing to the sum).
 * - Everything else is a string with nginx's escaping undone.
 *
 * A value nginx writes as `-` (not set) leaves its field absent, as does an empty
 * value under `escape=json` or `escape=none` (their way of writing "not set").
 *
 * @module
 */
import { decodeDefaultEscapes, decodeJsonEscapes, type LogEscape } from "./escape.ts";
import { splitRequestLineInto } from "./request.ts";
import { parseMsec, parseTimeIso8601, parseTimeLocal } from "./time.ts";

export type { LogEscape } from "./escape.ts";

/**
 * nginx's predefined `combined` format, used when no other is given.
 *
 * @example
 * ```ts
 * import { COMBINED_FORMAT, compileLogFormat } from "@eventstorm/source-nginx";
 * const combined = compileLogFormat(COMBINED_FORMAT);
 * console.log(combined.variables.length); // 8
 * ```
 */
export const COMBINED_FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

/** Options of {@linkcode compileLogFormat}. */
export interface CompileLogFormatOptions {
  /** The format's `escape=` parameter; `default` unless the `log_format` says otherwise. */
  escape?: LogEscape;
  /**
   * Whether a line that does not match exactly may still match with other spacing
   * and trailing text (kept as `extra`); default `true`.
   */
  lenient?: boolean;
}

/** Fields read from one access-log line. `time` is a `Date` when the format has one. */
export type NginxFields = Record<string, unknown>;

/** A `log_format` compiled into a matcher. */
export interface LogFormat {
  /** The format string as given. */
  readonly format: string;
  /** Its escaping. */
  readonly escape: LogEscape;
  /** Variable names in order of appearance, lower-cased, without `$`. */
  readonly variables: readonly string[];
  /** Whether lines carry their own time (`$time_local`, `$time_iso8601` or `$msec`). */
  readonly hasTime: boolean;
  /** The anchored expression lines are matched with. */
  readonly pattern: RegExp;
  /** The fields of one line, or `undefined` when the line is not in this format. */
  parse(line: string): NginxFields | undefined;
  /**
   * Writes the fields of one line into `target` (so callers can build the event
   * in place); returns `false`, possibly after writing some, when the line is not
   * in this format.
   */
  parseInto(line: string, target: NginxFields): boolean;
}

type Converter = (raw: string, target: NginxFields) => boolean;

interface VariableKind {
  /** Expression for the raw value (one capturing group is added around it). */
  pattern: string;
  make(field: string, escape: LogEscape): Converter;
}

const NUMBER = String.raw`\d+(?:\.\d+)?`;
const LIST_ENTRY = String.raw`(?:${NUMBER}|-)`;

const INTEGER: VariableKind = {
  pattern: String.raw`-|\d*`,
  make: (field) => (raw, target) => {
    if (raw.length > 0 && raw !== "-") target[field] = Number(raw);
    return true;
  },
};

const DECIMAL: VariableKind = {
  pattern: String.raw`-|\d*(?:\.\d+)?`,
  make: (field) => (raw, target) => {
    if (raw.length > 0 && raw !== "-") target[field] = Number(raw);
    return true;
  },
};

function splitList(raw: string): (number | null)[] {
  return raw.split(/, | : /).map((entry) => (entry === "-" ? null : Number(entry)));
}

function upstreamList(combine: "sum" | "last", decimals: boolean): VariableKind {
  return {
    pattern: `${LIST_ENTRY}(?:(?:, | : )${LIST_ENTRY})*|`,
    make: (field) => (raw, target) => {
      if (raw.length === 0 || raw === "-") return true;
      if (raw.indexOf(",") === -1 && raw.indexOf(":") === -1) {
        target[field] = Number(raw);
        return true;
      }
      const list = splitList(raw);
      let result: number | undefined;
      if (combine === "last") {
        for (const entry of list) if (entry !== null) result = entry;
      } else {
        for (const entry of list) if (entry !== null) result = (result ?? 0) + entry;
        // Sums of millisecond values pick up binary noise (0.1 + 0.2).
        if (result !== undefined && decimals) result = Math.round(result * 1000) / 1000;
      }
      if (result !== undefined) target[field] = result;
      target[`${field}_list`] = list;
      return true;
    },
  };
}

function timeKind(pattern: string, parse: (text: string) => number): VariableKind {
  return {
    pattern,
    make: () => (raw, target) => {
      // NaN, or beyond what a Date holds (a $msec of 400 digits): the line does not match.
      const time = new Date(parse(raw));
      if (Number.isNaN(time.getTime())) return false;
      target.time = time;
      return true;
    },
  };
}

// Consecutive lines mostly share their second, so parsing it once per second is enough.
function cachedTimeLocal(): (text: string) => number {
  let lastText = "";
  let lastMillis = NaN;
  return (text) => {
    if (text !== lastText) {
      lastText = text;
      lastMillis = parseTimeLocal(text);
    }
    return lastMillis;
  };
}

const KINDS: Record<string, VariableKind> = {
  status: INTEGER,
  body_bytes_sent: INTEGER,
  bytes_sent: INTEGER,
  request_length: INTEGER,
  connection: INTEGER,
  connection_requests: INTEGER,
  pid: INTEGER,
  remote_port: INTEGER,
  server_port: INTEGER,
  proxy_port: INTEGER,
  connections_active: INTEGER,
  connections_reading: INTEGER,
  connections_writing: INTEGER,
  connections_waiting: INTEGER,
  request_time: DECIMAL,
  gzip_ratio: DECIMAL,
  upstream_connect_time: upstreamList("sum", true),
  upstream_header_time: upstreamList("sum", true),
  upstream_response_time: upstreamList("sum", true),
  upstream_bytes_received: upstreamList("sum", false),
  upstream_bytes_sent: upstreamList("sum", false),
  upstream_response_length: upstreamList("sum", false),
  upstream_status: upstreamList("last", false),
};

/**
 * Work allowed to a pass whose free-text values backtrack: with k of them a line of
 * n characters that does not match costs up to n^k steps, so such a pass only sees
 * lines up to BACKTRACK_BUDGET^(1/k) characters (3,162 for two, 215 for three).
 */
const BACKTRACK_BUDGET = 1e7;

const ENVELOPE_NAMES = new Set(["type", "time", "_id"]);

function fieldName(variable: string): string {
  if (variable === "host") return "vhost";
  if (ENVELOPE_NAMES.has(variable)) return `nginx_${variable}`;
  return variable;
}

function decoderFor(escape: LogEscape): (raw: string) => string {
  if (escape === "default") return decodeDefaultEscapes;
  if (escape === "json") return decodeJsonEscapes;
  return (raw) => raw;
}

/** Whether a raw string value means "not set" under the given escaping. */
function absentTest(escape: LogEscape): (raw: string) => boolean {
  return escape === "default" ? (raw) => raw === "-" : (raw) => raw.length === 0;
}

function stringConverter(variable: string, escape: LogEscape): Converter {
  const decode = decoderFor(escape);
  const absent = absentTest(escape);
  if (variable === "request") {
    return (raw, target) => {
      if (absent(raw)) return true;
      const request = decode(raw);
      target.request = request;
      splitRequestLineInto(request, target);
      return true;
    };
  }
  const field = variable === "hostname" ? "host" : fieldName(variable);
  return (raw, target) => {
    if (!absent(raw)) target[field] = decode(raw);
    return true;
  };
}

type Assigner = (match: RegExpExecArray, target: NginxFields) => boolean;

/**
 * The per-line work after the match, as one function written for this format: each
 * field is stored under a constant name, so V8 keeps every store monomorphic (a
 * shared loop over converters stores through one megamorphic site and ran about a
 * third slower). Only field names (JSON-quoted) and group numbers go into the code;
 * anything else is called through `deps`.
 */
function compileAssigner(
  variables: readonly string[],
  escape: LogEscape,
  converters: readonly Converter[],
): Assigner {
  const present = escape === "default" ? 'v !== "-"' : 'v !== ""';
  const decoded = escape === "default"
    ? 'v.indexOf("\\\\x") === -1 ? v : decode(v)'
    : escape === "json"
    ? 'v.indexOf("\\\\") === -1 ? v : decode(v)'
    : "v";
  const lines = ["let v;"];
  variables.forEach((name, i) => {
    lines.push(`v = m[${i + 1}];`);
    const kind = KINDS[name];
    if (kind === INTEGER || kind === DECIMAL) {
      lines.push(`if (v !== "-" && v !== "") t[${JSON.stringify(fieldName(name))}] = +v;`);
    } else if (kind !== undefined || TIME_VARIABLES[name] !== undefined) {
      lines.push(`if (!c[${i}](v, t)) return false;`);
    } else if (name === "request") {
      lines.push(`if (${present}) { const r = ${decoded}; t.request = r; split(r, t); }`);
    } else {
      const field = name === "hostname" ? "host" : fieldName(name);
      lines.push(`if (${present}) t[${JSON.stringify(field)}] = ${decoded};`);
    }
  });
  lines.push("return true;");
  const factory = new Function(
    "c",
    "decode",
    "split",
    `"use strict";\nreturn function assign(m, t) {\n${lines.join("\n")}\n};`,
  );
  return factory(converters, decoderFor(escape), splitRequestLineInto) as Assigner;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** One piece of a format: literal text or a variable. */
export type FormatToken = { literal: string } | { variable: string };

/**
 * Splits a `log_format` string the way nginx does: `$name` or `${name}`, where a
 * name is letters, digits and `_`. Throws a `SyntaxError` on `$` without a name or an
 * unclosed `${`.
 *
 * @example
 * ```ts
 * import { tokenizeLogFormat } from "@eventstorm/source-nginx";
 * tokenizeLogFormat("[${status}]");
 * // [{ literal: "[" }, { variable: "status" }, { literal: "]" }]
 * ```
 */
export function tokenizeLogFormat(format: string): FormatToken[] {
  const tokens: FormatToken[] = [];
  let i = 0;
  while (i < format.length) {
    if (format[i] !== "$") {
      const next = format.indexOf("$", i);
      const end = next === -1 ? format.length : next;
      tokens.push({ literal: format.slice(i, end) });
      i = end;
      continue;
    }
    const start = i;
    i++;
    const bracket = format[i] === "{";
    if (bracket) i++;
    const nameStart = i;
    while (i < format.length && /[A-Za-z0-9_]/.test(format[i])) i++;
    const name = format.slice(nameStart, i);
    if (bracket) {
      if (format[i] !== "}") {
        throw new SyntaxError(
          `log_format: the closing bracket in "${format.slice(start, i + 1)}" is missing`,
        );
      }
      i++;
    }
    if (name.length === 0) {
      throw new SyntaxError(
        `log_format: '$' without a variable name at offset ${start} in "${format}"`,
      );
    }
    tokens.push({ variable: name.toLowerCase() });
  }
  return tokens;
}

const TIME_VARIABLES: Record<string, VariableKind> = {
  time_local: timeKind(
    String.raw`\d\d\/[A-Z][a-z][a-z]\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}`,
    parseTimeLocal,
  ),
  time_iso8601: timeKind(
    String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d`,
    parseTimeIso8601,
  ),
  msec: timeKind(String.raw`\d+\.\d+`, parseMsec),
};

/**
 * Expression for one value. `tight` stops a free-text value at the first character
 * of the literal after it, so the match runs in linear time; `loose` lets it hold
 * that character too (a user name with a space), at the price of backtracking.
 */
function valuePattern(
  variable: string,
  escape: LogEscape,
  before: string,
  after: string,
  mode: "tight" | "loose",
  blanksLoose: boolean,
): string {
  const known = TIME_VARIABLES[variable] ?? KINDS[variable];
  if (known) return known.pattern;
  if (variable === "remote_addr" || variable === "realip_remote_addr") {
    // Addresses never hold spaces (IPv4, IPv6, `unix:`), which keeps the scan short.
    return "[^ ]*";
  }
  const quoted = before.endsWith('"') && after.startsWith('"');
  if (quoted && escape === "default") return '[^"]*';
  if (quoted && escape === "json") return String.raw`(?:[^"\\]|\\.)*`;
  if (mode === "loose" || after.length === 0) return ".*?";
  const stop = after[0];
  if (blanksLoose && (stop === " " || stop === "\t")) return "[^ \\t]*";
  return `[^${stop.replace(/[\\\]^-]/g, "\\$&")}]*`;
}

/** Literal text as an expression; `loose` lets any run of blanks match any other. */
function literalPattern(literal: string, loose: boolean): string {
  if (!loose) return escapeRegExp(literal);
  // `(?![ \t])` makes a blank run take all the blanks there are: runs split between
  // neighbouring (possibly empty) values would backtrack exponentially on blank lines.
  return literal.split(/[ \t]+/).map(escapeRegExp).join("[ \\t]+(?![ \\t])");
}

/**
 * Compiles a `log_format` string into one anchored expression and a converter per
 * variable, so every line costs one match. Throws a `SyntaxError` for a malformed
 * format.
 *
 * Unless `lenient` is `false`, a line that does not match exactly gets a second
 * chance where any run of blanks in the format matches any other and text after the
 * last field is allowed and kept as `extra`: logs whose `log_format` was copied with
 * a different spacing, or that were written by a format extended at its end (like
 * Debian's `main`, which is `combined` plus `"$http_x_forwarded_for"`).
 *
 * @example
 * ```ts
 * import { compileLogFormat } from "@eventstorm/source-nginx";
 * const format = compileLogFormat('$remote_addr [$time_local] "$request" $status rt=$request_time');
 * format.parse('::1 [17/May/2015:08:05:32 +0000] "GET /a?b=1 HTTP/2.0" 200 rt=0.005');
 * // { remote_addr: "::1", time: Date, request: "GET /a?b=1 HTTP/2.0", method: "GET",
 * //   path: "/a", query: "b=1", protocol: "HTTP/2.0", status: 200, request_time: 0.005 }
 * ```
 */
export function compileLogFormat(format: string, options: CompileLogFormatOptions = {}): LogFormat {
  const escape = options.escape ?? "default";
  if (escape !== "default" && escape !== "json" && escape !== "none") {
    throw new SyntaxError(`log_format: unknown escaping "${escape}"`);
  }
  const tokens = tokenizeLogFormat(format);
  if (!tokens.some((token) => "variable" in token)) {
    // Usually an unquoted or empty --format: it would count every line as unparsed.
    throw new SyntaxError(`log_format: no $variable in ${JSON.stringify(format)}`);
  }
  const variables: string[] = [];
  const converters: Converter[] = [];
  const sources = { tight: "^", loose: "^", tightLenient: "^", looseLenient: "^" };
  let hasTime = false;
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t];
    if ("literal" in token) {
      sources.tight += literalPattern(token.literal, false);
      sources.loose += literalPattern(token.literal, false);
      sources.tightLenient += literalPattern(token.literal, true);
      sources.looseLenient += literalPattern(token.literal, true);
      continue;
    }
    const name = token.variable;
    const previous = tokens[t - 1];
    const next = tokens[t + 1];
    const before = previous && "literal" in previous ? previous.literal : "";
    const after = next && "literal" in next ? next.literal : "";
    const value = (mode: "tight" | "loose", lenient: boolean) =>
      `(${valuePattern(name, escape, before, after, mode, lenient)})`;
    sources.tight += value("tight", false);
    sources.loose += value("loose", false);
    sources.tightLenient += value("tight", true);
    sources.looseLenient += value("loose", true);
    variables.push(name);
    const time = TIME_VARIABLES[name];
    if (time) {
      hasTime = true;
      const kind = name === "time_local" ? timeKind("", cachedTimeLocal()) : time;
      converters.push(kind.make("time", escape));
    } else if (KINDS[name]) {
      converters.push(KINDS[name].make(fieldName(name), escape));
    } else {
      converters.push(stringConverter(name, escape));
    }
  }
  // `s`: a value logged with escape=none may hold any character, line separators included.
  const compile = (source: string) => new RegExp(source, "s");
  const trailer = "(?:[ \\t]+(?![ \\t])(.*?))?[ \\t]*$";
  const pattern = compile(sources.tight + "$");
  // Tried in order until one matches; the lenient ones capture trailing text last.
  const fallbacks: { pattern: RegExp; lenient: boolean; maxLength: number }[] = [];
  const maxLength = (source: string) => {
    const free = source.match(/\(\.\*\?\)/g)?.length ?? 0;
    return free < 2 ? Infinity : Math.floor(Math.pow(BACKTRACK_BUDGET, 1 / free));
  };
  if (sources.loose !== sources.tight) {
    fallbacks.push({
      pattern: compile(sources.loose + "$"),
      lenient: false,
      maxLength: maxLength(sources.loose),
    });
  }
  if (options.lenient !== false) {
    fallbacks.push({
      pattern: compile(sources.tightLenient + trailer),
      lenient: true,
      maxLength: Infinity,
    });
    if (sources.looseLenient !== sources.tightLenient) {
      fallbacks.push({
        pattern: compile(sources.looseLenient + trailer),
        lenient: true,
        maxLength: maxLength(sources.looseLenient),
      });
    }
  }
  const count = converters.length;
  const assign = compileAssigner(variables, escape, converters);

  const parseInto = (line: string, target: NginxFields): boolean => {
    let match = pattern.exec(line);
    let extra: string | undefined;
    if (match === null) {
      for (const fallback of fallbacks) {
        if (line.length > fallback.maxLength) continue;
        match = fallback.pattern.exec(line);
        if (match === null) continue;
        if (fallback.lenient) extra = match[count + 1];
        break;
      }
      if (match === null) return false;
    }
    if (!assign(match, target)) return false;
    if (extra !== undefined && extra.length > 0) target.extra = extra;
    return true;
  };

  return {
    format,
    escape,
    variables,
    hasTime,
    pattern,
    parseInto,
    parse(line: string): NginxFields | undefined {
      const fields: NginxFields = {};
      return parseInto(line, fields) ? fields : undefined;
    },
  };
}
