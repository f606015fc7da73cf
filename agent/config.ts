/**
 * The agent's config file: TOML, `${VAR}` interpolation, every input's options
 * under the names of its source's command-line flags (`nginx_conf` for
 * `--nginx-conf`), every mistake one line naming the file and the key.
 *
 * @module
 */
import { parse as parseToml, TomlError } from "smol-toml";
import type { CurveOptions } from "@eventstorm/core";
import {
  type CommandSpec,
  curveFromFlags,
  type FlagSpec,
  type FlagValues,
  parseEndpoints,
  parseStatsInterval,
  statsToFlag,
} from "@eventstorm/core/cli";
import { curveKeys } from "@eventstorm/core/internal";
import { INPUT_TYPES, type InputType } from "./inputs.ts";

/**
 * Config problems, each one line `FILE: KEY: what is wrong` (exit code 2); the
 * message is those lines.
 */
export class ConfigError extends Error {
  /** The problems, one line each. */
  readonly problems: string[];

  /** Creates the error from its one-line problem, or several. */
  constructor(problems: string | string[]) {
    const list = typeof problems === "string" ? [problems] : problems;
    super(list.join("\n"));
    this.name = "ConfigError";
    this.problems = list;
  }
}

/** One input: its name (the table under `inputs`), type and flag values. */
export interface InputConfig {
  /** Table name under `[inputs]`. */
  name: string;
  /** Source type. */
  type: InputType;
  /** Flag values by flag name, defaults filled in, of the kinds of the type's flags. */
  values: FlagValues<Record<string, FlagSpec>>;
  /** The input's table as given (after interpolation), to tell a changed input on reload. */
  fingerprint: string;
}

/** The agent's config. */
export interface AgentConfig {
  /** The file it came from. */
  path: string;
  /** Where every input publishes (one connection to the router). */
  to: string[];
  /** CURVE keys for the link to the router (`curve_server`, `curve_secret`). */
  curve?: CurveOptions;
  /** Host of events that name none. */
  host?: string;
  /** Where checkpoints go (one file per input). */
  stateDir?: string;
  /** Stats line interval in ms (0: only at the end), by core's one `--stats-interval` rule. */
  statsIntervalMs: number;
  /** Where `eventstorm.stats` events go (`stats_to`); none when absent. */
  statsTo?: string;
  /** The inputs, in file order. */
  inputs: InputConfig[];
}

/**
 * Top-level keys. `curve_server` and `curve_secret` mean what `--curve-server` and
 * `--curve-secret` mean to every client: they secure the one link to the router.
 */
const TOP_KEYS = [
  "to",
  "curve_server",
  "curve_secret",
  "host",
  "state_dir",
  "stats_interval",
  "stats_to",
  "inputs",
];

/** Flags the agent sets for every input; an input may not. */
const MANAGED = new Set([
  "to",
  "curve-server",
  "curve-secret",
  "print",
  "once",
  "checkpoint",
  "no-checkpoint",
  "stats-interval",
  "stats-to",
]);

/**
 * Replaces `${VAR}` with the environment variable (`$${` keeps a literal `${`).
 * An unset variable is an error naming it.
 *
 * @example
 * ```ts
 * import { interpolate } from "@eventstorm/agent";
 * interpolate("${HOME}/x", (name) => name === "HOME" ? "/root" : undefined); // "/root/x"
 * ```
 */
export function interpolate(text: string, env: (name: string) => string | undefined): string {
  return text.replace(/\$\$\{|\$\{([^}]*)\}/g, (match, name: string | undefined) => {
    if (match === "$${") return "${";
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name!)) {
      throw new Error(`'\${${name}}' is not a variable name`);
    }
    const value = env(name!);
    if (value === undefined) throw new Error(`environment variable ${name} is not set`);
    return value;
  });
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null || value === undefined) return "nothing";
  if (value instanceof Date) return "a date";
  return typeof value === "object" ? "a table" : `a ${typeof value}`;
}

/** Interpolates every string; a problem is noted and leaves the string as it was. */
function interpolateAll(
  value: unknown,
  key: string,
  note: (key: string, m: string) => void,
  env: (name: string) => string | undefined,
): unknown {
  if (typeof value === "string") {
    try {
      return interpolate(value, env);
    } catch (error) {
      note(key, (error as Error).message);
      return value;
    }
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => interpolateAll(item, `${key}[${i}]`, note, env));
  }
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value).map((
        [k, v],
      ) => [k, interpolateAll(v, key ? `${key}.${k}` : k, note, env)]),
    );
  }
  return value;
}

/** A config value as a flag value, or a problem. */
function flagValue(spec: FlagSpec, value: unknown): string | boolean | string[] {
  const scalar = (v: unknown): string | undefined =>
    typeof v === "string" ? v : typeof v === "number" && Number.isFinite(v) ? String(v) : undefined;
  if (spec.type === "boolean") {
    if (typeof value !== "boolean") {
      throw new Error(`expected true or false, got ${describe(value)}`);
    }
    return value;
  }
  if (spec.multiple) {
    const items = Array.isArray(value) ? value : [value];
    return items.map((item) => {
      const text = scalar(item);
      if (text === undefined) {
        throw new Error(`expected a string or an array of strings, got ${describe(item)}`);
      }
      return text;
    });
  }
  const text = scalar(value);
  if (text === undefined) throw new Error(`expected a string, got ${describe(value)}`);
  return text;
}

/**
 * The values of `spec`'s flags from an input's table, as `parseFlags` would give
 * them from a command line: each key checked against its flag (name, and kind by
 * {@linkcode flagValue}), the flags not named at their defaults. Problems go to
 * `note` with the key as written, each one (the key then keeps its default).
 */
function inputValues<F extends Record<string, FlagSpec>>(
  spec: CommandSpec<F>,
  entries: Record<string, unknown>,
  at: string,
  note: (key: string, message: string) => void,
): FlagValues<F> {
  const flags: Record<string, FlagSpec> = spec.flags;
  const values: Record<string, string | boolean | string[] | undefined> = {};
  for (const [flag, flagSpec] of Object.entries(flags)) {
    values[flag] = flagSpec.type === "boolean"
      ? flagSpec.default ?? false
      : flagSpec.multiple
      ? [...flagSpec.default ?? []]
      : flagSpec.default;
  }
  for (const [key, value] of Object.entries(entries)) {
    if (key === "type") continue;
    let flag = key.replaceAll("_", "-");
    // A repeatable flag may be named in the plural too (`units = [...]` for `--unit`).
    // Own keys only: `constructor = 1` is an unknown key, not Object's.
    const specOf = (name: string) => Object.hasOwn(flags, name) ? flags[name] : undefined;
    if (!specOf(flag) && flag.endsWith("s") && specOf(flag.slice(0, -1))?.multiple) {
      flag = flag.slice(0, -1);
    }
    const flagSpec = specOf(flag);
    if (flagSpec === undefined || MANAGED.has(flag)) {
      const known = Object.keys(flags).filter((f) => !MANAGED.has(f))
        .map((f) => f.replaceAll("-", "_"));
      note(
        `${at}.${key}`,
        `unknown key for type ${entries.type} (known: type, ${known.join(", ")})`,
      );
      continue;
    }
    try {
      values[flag] = flagValue(flagSpec, value);
    } catch (error) {
      note(`${at}.${key}`, (error as Error).message);
    }
  }
  // Every flag has a value of its kind: its default's, or one flagValue checked.
  return values as FlagValues<F>;
}

/**
 * Parses and checks a config from its text; throws {@linkcode ConfigError}
 * naming every mistake found, one line each. Input options are checked here for
 * names and types; their values (an nginx config to read, a duration) when the
 * inputs are built.
 *
 * @example
 * ```ts
 * import { parseConfig } from "@eventstorm/agent";
 * const config = parseConfig(
 *   'to = ">tcp://127.0.0.1:5555"\n[inputs.auth]\ntype = "sshd"\nfile = ["/var/log/auth.log"]\n',
 *   "agent.toml",
 * );
 * config.inputs[0].values.file; // ["/var/log/auth.log"]
 * ```
 */
export function parseConfig(
  text: string,
  path: string,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): AgentConfig {
  const { config, problems } = parseConfigProblems(text, path, env);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Parses a config from its text and lists every mistake, one line each, with
 * the config of what is right (inputs with a mistake left out), so that
 * `--check` can go on to check those inputs' values too. Only text that is not
 * TOML stops it at once.
 *
 * @example
 * ```ts
 * import { parseConfigProblems } from "@eventstorm/agent";
 * const { problems } = parseConfigProblems("bogus = 1\nto = 5\n", "a.toml");
 * problems.length; // 2
 * ```
 */
export function parseConfigProblems(
  text: string,
  path: string,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): { config: AgentConfig; problems: string[] } {
  const problems: string[] = [];
  const note = (key: string, message: string): void => {
    problems.push(`${path}: ${key ? `${key}: ` : ""}${message}`);
  };
  const config: AgentConfig = { path, to: [], statsIntervalMs: 0, inputs: [] };
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    const m = error instanceof TomlError
      ? `line ${error.line}, column ${error.column}: ${error.message.split("\n")[0]}`
      : (error as Error).message.split("\n")[0];
    note("", `not valid TOML: ${m}`);
    return { config, problems };
  }
  const doc = interpolateAll(raw, "", note, env) as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (!TOP_KEYS.includes(key)) {
      note(key, `unknown key (known: ${TOP_KEYS.join(", ")})`);
    }
  }
  const to = doc.to === undefined ? [">tcp://127.0.0.1:5555"] : doc.to;
  const toList = typeof to === "string" ? [to] : to;
  if (!Array.isArray(toList) || toList.length === 0 || toList.some((t) => typeof t !== "string")) {
    note("to", `expected an endpoint or an array of them, got ${describe(to)}`);
  } else {
    config.to = toList as string[];
    for (const endpoint of config.to) {
      try {
        if (parseEndpoints(endpoint).some(({ address }) => address.startsWith("inproc://"))) {
          note("to", `${endpoint}: inproc:// reaches only this process; use tcp:// or ipc://`);
        }
      } catch (error) {
        note("to", (error as Error).message);
      }
    }
  }
  const strings = [
    "host",
    "state_dir",
    "stats_interval",
    "stats_to",
    "curve_secret",
  ];
  const string = (key: string): string | undefined => {
    const value = doc[key];
    if (value === undefined || typeof value === "string") return value;
    note(key, `expected a string, got ${describe(value)}`);
    return undefined;
  };
  const top = Object.fromEntries(strings.map((key) => [key, string(key)]));
  try {
    config.statsIntervalMs = parseStatsInterval(top.stats_interval ?? "60s");
  } catch (error) {
    note("stats_interval", (error as Error).message);
  }
  try {
    config.statsTo = statsToFlag({ "stats-to": top.stats_to ?? "none" });
  } catch (error) {
    note("stats_to", (error as Error).message);
  }
  // One server key for every router in `to`, or a list with one per router, in order.
  const curveServer = doc.curve_server === undefined
    ? []
    : typeof doc.curve_server === "string"
    ? [doc.curve_server]
    : doc.curve_server;
  const serverKeysOk = Array.isArray(curveServer) &&
    curveServer.every((key) => typeof key === "string");
  if (!serverKeysOk) {
    note(
      "curve_server",
      `expected a string or an array of them, got ${describe(doc.curve_server)}`,
    );
  }
  const badCurve = !serverKeysOk ||
    (doc.curve_secret !== undefined && top.curve_secret === undefined);
  if (!badCurve) {
    try {
      config.curve = curveFromFlags({
        "curve-server": curveServer as string[],
        "curve-secret": top.curve_secret,
      });
      // What the emitter would refuse at start, told by --check too.
      if (config.curve !== undefined) {
        curveKeys(
          config.curve,
          config.to.flatMap((text) => parseEndpoints(text)),
        );
      }
    } catch (error) {
      // curveFromFlags names files, never key material.
      const message = (error as Error).message.replace(/--curve-(server|secret)/g, "curve_$1");
      const about = top.curve_secret === undefined || message.includes("curve_server")
        ? "curve_server"
        : "curve_secret";
      note(about, message);
    }
  }
  config.host = top.host;
  config.stateDir = top.state_dir;
  const inputsTable = doc.inputs ?? {};
  if (typeof inputsTable !== "object" || Array.isArray(inputsTable) || inputsTable === null) {
    note("inputs", `expected tables ([inputs.NAME]), got ${describe(inputsTable)}`);
    return { config, problems };
  }
  for (const [name, table] of Object.entries(inputsTable as Record<string, unknown>)) {
    const at = `inputs.${name}`;
    // Counting the problems ${VAR} had in its table.
    const own = () =>
      problems.filter((p) => p.startsWith(`${path}: ${at}.`) || p.startsWith(`${path}: ${at}:`))
        .length;
    if (!/^[A-Za-z0-9_-]+$/.test(name)) note(at, "input names are letters, digits, _ and -");
    if (typeof table !== "object" || table === null || Array.isArray(table)) {
      note(at, `expected a table, got ${describe(table)}`);
      continue;
    }
    const entries = table as Record<string, unknown>;
    const type = entries.type;
    if (typeof type !== "string" || !Object.hasOwn(INPUT_TYPES, type)) {
      note(
        `${at}.type`,
        `${type === undefined ? "missing" : `unknown type '${String(type)}'`} (one of: ${
          Object.keys(INPUT_TYPES).join(", ")
        })`,
      );
      continue;
    }
    // Stated, not inferred: from a union of specs TypeScript's pick of the type
    // parameter depends on the order it meets them (`deno publish` saw another).
    const spec: CommandSpec<Record<string, FlagSpec>> = INPUT_TYPES[type as InputType].spec;
    const values = inputValues<Record<string, FlagSpec>>(spec, entries, at, note);
    if (own() > 0) continue;
    config.inputs.push({
      name,
      type: type as InputType,
      values,
      fingerprint: JSON.stringify(entries),
    });
  }
  return { config, problems };
}

/**
 * Reads and checks the config file; throws {@linkcode ConfigError}.
 *
 * @example
 * ```ts ignore
 * import { loadConfig } from "@eventstorm/agent";
 * const config = await loadConfig("/etc/eventstorm/agent.toml");
 * ```
 */
export async function loadConfig(path: string): Promise<AgentConfig> {
  const { config, problems } = await loadConfigProblems(path);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Reads the config file and lists every mistake (see
 * {@linkcode parseConfigProblems}); a file it cannot read throws
 * {@linkcode ConfigError}.
 *
 * @example
 * ```ts ignore
 * import { loadConfigProblems } from "@eventstorm/agent";
 * const { problems } = await loadConfigProblems("/etc/eventstorm/agent.toml");
 * for (const line of problems) console.error(line);
 * ```
 */
export async function loadConfigProblems(
  path: string,
): Promise<{ config: AgentConfig; problems: string[] }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (error as Error).message;
    throw new ConfigError(`${path}: cannot read: ${reason}`);
  }
  return parseConfigProblems(text, path);
}
