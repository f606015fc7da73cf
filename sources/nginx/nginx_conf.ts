/**
 * Reading `log_format` definitions out of an nginx configuration, so the parser can
 * be built from the same text nginx uses.
 *
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";
import { globToRegExp } from "@eventstorm/core/internal";
import type { LogEscape } from "./escape.ts";
import { COMBINED_FORMAT } from "./log_format.ts";

/** A configuration file that cannot be read or understood, with file and line. */
export class NginxConfError extends Error {
  /** Creates the error; the message names the file and line. */
  constructor(message: string) {
    super(message);
    this.name = "NginxConfError";
  }
}

/** One directive: `name arg...;` or `name arg... { block }`. */
export interface ConfDirective {
  /** Directive name (`log_format`, `http`). */
  name: string;
  /** Arguments with quotes removed and escapes applied, as nginx sees them. */
  args: string[];
  /** Directives inside `{ }`, for block directives. */
  block?: ConfDirective[];
  /** File the directive was read from. */
  file: string;
  /** Line of the directive's name (1-based). */
  line: number;
}

interface Token {
  text: string;
  /** `;`, `{`, `}` or undefined for a word. */
  punct?: ";" | "{" | "}";
  line: number;
}

function isSpace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\r" || ch === "\n";
}

// The escapes nginx applies to quoted and bare words alike (ngx_conf_read_token).
function unescape(ch: string): string | undefined {
  switch (ch) {
    case '"':
    case "'":
    case "\\":
      return ch;
    case "t":
      return "\t";
    case "r":
      return "\r";
    case "n":
      return "\n";
  }
  return undefined;
}

function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  const fail = (message: string): never => {
    throw new NginxConfError(`${file}:${line}: ${message}`);
  };
  while (i < text.length) {
    const ch = text[i];
    if (ch === "\n") {
      line++;
      i++;
      continue;
    }
    if (isSpace(ch)) {
      i++;
      continue;
    }
    if (ch === "#") {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    if (ch === ";" || ch === "{" || ch === "}") {
      tokens.push({ text: ch, punct: ch, line });
      i++;
      continue;
    }
    const startLine = line;
    let word = "";
    if (ch === '"' || ch === "'") {
      const quote = ch;
      i++;
      for (;;) {
        if (i >= text.length) {
          line = startLine;
          fail(`unexpected end of file in the string opened here (expecting ${quote})`);
        }
        const c = text[i];
        if (c === "\\" && i + 1 < text.length) {
          const escaped = unescape(text[i + 1]);
          word += escaped ?? c + text[i + 1];
          if (text[i + 1] === "\n") line++;
          i += 2;
          continue;
        }
        if (c === quote) {
          i++;
          break;
        }
        if (c === "\n") line++;
        word += c;
        i++;
      }
      tokens.push({ text: word, line: startLine });
      continue;
    }
    let inVariable = false;
    while (i < text.length) {
      const c = text[i];
      if (isSpace(c) || c === ";") break;
      if (c === "{" && !(word.endsWith("$"))) break;
      if (c === "{") inVariable = true;
      if (c === "}") {
        if (!inVariable) break;
        inVariable = false;
      }
      if (c === "\\" && i + 1 < text.length) {
        word += unescape(text[i + 1]) ?? c + text[i + 1];
        i += 2;
        continue;
      }
      word += c;
      i++;
    }
    tokens.push({ text: word, line: startLine });
  }
  return tokens;
}

/**
 * Parses the text of one configuration file into directives, without following
 * `include`. Throws {@linkcode NginxConfError} for unbalanced braces, an unterminated
 * quote or a directive without its `;`.
 *
 * @example
 * ```ts
 * import { parseNginxConf } from "@eventstorm/source-nginx";
 * const [http] = parseNginxConf("http { log_format main '$remote_addr' ' $status'; }");
 * console.log(http.block![0].args); // ["main", "$remote_addr", " $status"]
 * ```
 */
export function parseNginxConf(text: string, options: { file?: string } = {}): ConfDirective[] {
  const file = options.file ?? "nginx.conf";
  const tokens = tokenize(text, file);
  let position = 0;
  const parseBlock = (inside: boolean): ConfDirective[] => {
    const directives: ConfDirective[] = [];
    while (position < tokens.length) {
      const token = tokens[position];
      if (token.punct === "}") {
        if (!inside) throw new NginxConfError(`${file}:${token.line}: unexpected "}"`);
        position++;
        return directives;
      }
      if (token.punct !== undefined) {
        throw new NginxConfError(`${file}:${token.line}: unexpected "${token.punct}"`);
      }
      const directive: ConfDirective = { name: token.text, args: [], file, line: token.line };
      position++;
      for (;;) {
        const next = tokens[position];
        if (next === undefined) {
          throw new NginxConfError(
            `${file}:${token.line}: unexpected end of file, expecting ";" or "}" after "${token.text}"`,
          );
        }
        position++;
        if (next.punct === ";") break;
        if (next.punct === "{") {
          directive.block = parseBlock(true);
          break;
        }
        if (next.punct === "}") {
          throw new NginxConfError(`${file}:${next.line}: unexpected "}" in "${token.text}"`);
        }
        directive.args.push(next.text);
      }
      directives.push(directive);
    }
    if (inside) throw new NginxConfError(`${file}: unexpected end of file, expecting "}"`);
    return directives;
  };
  return parseBlock(false);
}

/** nginx's `include` globs with glob(3): `*`, `?` and `[...]`, no braces. */
const GLOB_MAGIC = /[*?[]/;

/** Files an `include` names, in nginx's (sorted) order; a glob may match none. */
function expandInclude(pattern: string): string[] {
  if (!GLOB_MAGIC.test(pattern)) return [pattern];
  let paths = [pattern.startsWith("/") ? "/" : ""];
  for (const part of pattern.split("/").filter((p) => p.length > 0)) {
    const next: string[] = [];
    for (const base of paths) {
      if (!GLOB_MAGIC.test(part)) {
        next.push(join(base, part));
        continue;
      }
      const matcher = globToRegExp(part);
      let entries: string[] = [];
      try {
        entries = [...Deno.readDirSync(base || ".")].map((e) => e.name);
      } catch {
        // An unreadable or missing directory matches nothing, as for nginx's glob().
      }
      for (const name of entries.sort()) {
        // Like glob(3), a wildcard never matches a leading dot (the matcher's rule).
        if (matcher.test(name)) next.push(join(base, name));
      }
    }
    paths = next;
  }
  return paths.filter((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
}

/**
 * Reads a configuration file with its `include`s expanded in place (relative
 * includes are resolved against the main file's directory, as nginx does with
 * `-c`). Reads synchronously: meant for start-up. Throws {@linkcode NginxConfError}.
 *
 * @example
 * ```ts ignore
 * import { readNginxConfSync } from "@eventstorm/source-nginx";
 * const directives = readNginxConfSync("/etc/nginx/nginx.conf");
 * ```
 */
export function readNginxConfSync(path: string): ConfDirective[] {
  const prefix = dirname(path);
  const seen = new Set<string>();
  const read = (file: string, depth: number): ConfDirective[] => {
    if (depth > 32) throw new NginxConfError(`${file}: includes nested too deeply`);
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new NginxConfError(`cannot read nginx configuration ${file}: ${reason}`);
    }
    seen.add(file);
    const expand = (directives: ConfDirective[]): ConfDirective[] => {
      const out: ConfDirective[] = [];
      for (const directive of directives) {
        if (directive.name === "include" && directive.args.length === 1 && !directive.block) {
          const target = directive.args[0];
          const full = isAbsolute(target) ? target : join(prefix, target);
          for (const included of expandInclude(full)) out.push(...read(included, depth + 1));
          continue;
        }
        if (directive.block) directive.block = expand(directive.block);
        out.push(directive);
      }
      return out;
    };
    return expand(parseNginxConf(text, { file }));
  };
  return read(path, 0);
}

/** A named `log_format` from a configuration. */
export interface NamedLogFormat {
  /** The name `access_log` refers to it by. */
  name: string;
  /** The format string: the directive's strings concatenated, as nginx does. */
  format: string;
  /** The `escape=` parameter. */
  escape: LogEscape;
  /** Where it was defined (`file:line`), or `built-in` for `combined`. */
  origin: string;
}

/** An `access_log` destination and the format it writes. */
export interface AccessLog {
  /** File path as written in the directive (variables and `syslog:` kept). */
  path: string;
  /** Name of the format (`combined` when the directive names none). */
  format: string;
}

function walk(directives: ConfDirective[], visit: (directive: ConfDirective) => void): void {
  for (const directive of directives) {
    visit(directive);
    if (directive.block) walk(directive.block, visit);
  }
}

/**
 * Every `log_format` in the configuration, nginx's built-in `combined` included.
 * Throws {@linkcode NginxConfError} for an `escape=` value nginx would reject.
 *
 * @example
 * ```ts
 * import { listLogFormats, parseNginxConf } from "@eventstorm/source-nginx";
 * const formats = listLogFormats(parseNginxConf(`http {
 *   log_format json escape=json '{"status":$status}';
 * }`));
 * console.log(formats.map((f) => f.name)); // ["combined", "json"]
 * ```
 */
export function listLogFormats(directives: ConfDirective[]): NamedLogFormat[] {
  const formats: NamedLogFormat[] = [
    { name: "combined", format: COMBINED_FORMAT, escape: "default", origin: "built-in" },
  ];
  walk(directives, (directive) => {
    if (directive.name !== "log_format" || directive.args.length < 1) return;
    const [name, ...rest] = directive.args;
    let escape: LogEscape = "default";
    if (rest[0]?.startsWith("escape=")) {
      const value = rest.shift()!.slice("escape=".length);
      if (value !== "default" && value !== "json" && value !== "none") {
        throw new NginxConfError(
          `${directive.file}:${directive.line}: unknown log format escaping "${value}"`,
        );
      }
      escape = value;
    }
    formats.push({
      name,
      format: rest.join(""),
      escape,
      origin: `${directive.file}:${directive.line}`,
    });
  });
  return formats;
}

/**
 * Every `access_log` that writes a file, with the name of its format.
 *
 * @example
 * ```ts
 * import { listAccessLogs, parseNginxConf } from "@eventstorm/source-nginx";
 * listAccessLogs(parseNginxConf("http { access_log /var/log/nginx/a.log main buffer=32k; }"));
 * // [{ path: "/var/log/nginx/a.log", format: "main" }]
 * ```
 */
export function listAccessLogs(directives: ConfDirective[]): AccessLog[] {
  const logs: AccessLog[] = [];
  walk(directives, (directive) => {
    if (directive.name !== "access_log" || directive.args.length < 1) return;
    const [path, format] = directive.args;
    if (path === "off") return;
    logs.push({ path, format: format ?? "combined" });
  });
  return logs;
}

/** Options of {@linkcode loadLogFormatSync}. */
export interface LoadLogFormatOptions {
  /** The format's name; when absent, the one the `access_log` for `logPath` names. */
  name?: string;
  /** The log file being read, to find its `access_log` when no name is given. */
  logPath?: string;
}

/**
 * Reads a configuration and returns one of its formats: by name, or the one the
 * `access_log` writing `logPath` uses, or `combined`. Throws {@linkcode NginxConfError}
 * when the name is not defined, listing the names that are.
 *
 * @example
 * ```ts ignore
 * import { loadLogFormatSync, nginxParser } from "@eventstorm/source-nginx";
 * const { format, escape } = loadLogFormatSync("/etc/nginx/nginx.conf", { name: "main" });
 * const parser = nginxParser({ format, escape });
 * ```
 */
export function loadLogFormatSync(
  confPath: string,
  options: LoadLogFormatOptions = {},
): NamedLogFormat {
  const directives = readNginxConfSync(confPath);
  const formats = listLogFormats(directives);
  let name = options.name;
  if (name === undefined && options.logPath !== undefined) {
    const target = options.logPath;
    const log = listAccessLogs(directives).find((entry) =>
      entry.path === target ||
      (!isAbsolute(entry.path) && join(dirname(confPath), entry.path) === target)
    );
    name = log?.format;
  }
  name ??= "combined";
  // The last definition wins for lookups, as in nginx where a duplicate is an error anyway.
  const found = formats.findLast((f) => f.name === name) ??
    formats.findLast((f) => f.name.toLowerCase() === name!.toLowerCase());
  if (!found) {
    const known = formats.map((f) => f.name).join(", ");
    throw new NginxConfError(`${confPath}: no log_format "${name}" (defined: ${known})`);
  }
  return found;
}
