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
import { INPUT_TYPES, type InputType } from "./inputs.ts";

/** A config problem: `FILE: KEY: what is wrong` (exit code 2). */
export class ConfigError extends Error {
  /** Creates the error from its one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
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

function interpolateAll(
  value: unknown,
  key: string,
  fail: (key: string, m: string) => never,
  env: (name: string) => string | undefined,
): unknown {
  if (typeof value === "string") {
    try {
      return interpolate(value, env);
    } catch (error) {
      return fail(key, (error as Error).message);
    }
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => interpolateAll(item, `${key}[${i}]`, fail, env));
  }
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value).map((
        [k, v],
      ) => [k, interpolateAll(v, key ? `${key}.${k}` : k, fail, env)]),
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
 * `fail` with the key as written.
 */
function inputValues<F extends Record<string, FlagSpec>>(
  spec: CommandSpec<F>,
  entries: Record<string, unknown>,
  at: string,
  fail: (key: string, message: string) => never,
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
      fail(
        `${at}.${key}`,
        `unknown key for type ${entries.type} (known: type, ${known.join(", ")})`,
      );
    }
    try {
      values[flag] = flagValue(flagSpec, value);
    } catch (error) {
      fail(`${at}.${key}`, (error as Error).message);
    }
  }
  // Every flag has a value of its kind: its default's, or one flagValue checked.
  return values as FlagValues<F>;
}

/**
 * Parses and checks a config from its text; throws {@linkcode ConfigError}.
 * Input options are checked here for names and types; their values (an nginx
 * config to read, a duration) when the inputs are built.
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
  const fail = (key: string, message: string): never => {
    throw new ConfigError(`${path}: ${key ? `${key}: ` : ""}${message}`);
  };
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    const m = error instanceof TomlError
      ? `line ${error.line}, column ${error.column}: ${error.message.split("\n")[0]}`
      : (error as Error).message.split("\n")[0];
    return fail("", `not valid TOML: ${m}`);
  }
  const doc = interpolateAll(raw, "", fail, env) as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (!TOP_KEYS.includes(key)) {
      fail(key, `unknown key (known: ${TOP_KEYS.join(", ")})`);
    }
  }
  const to = doc.to === undefined ? [">tcp://127.0.0.1:5555"] : doc.to;
  const toList = typeof to === "string" ? [to] : to;
  if (!Array.isArray(toList) || toList.length === 0 || toList.some((t) => typeof t !== "string")) {
    return fail("to", `expected an endpoint or an array of them, got ${describe(to)}`);
  }
  for (const endpoint of toList as string[]) {
    try {
      parseEndpoints(endpoint);
    } catch (error) {
      fail("to", (error as Error).message);
    }
  }
  const strings = [
    "host",
    "state_dir",
    "stats_interval",
    "stats_to",
    "curve_server",
    "curve_secret",
  ];
  for (const key of strings) {
    if (doc[key] !== undefined && typeof doc[key] !== "string") {
      fail(key, `expected a string, got ${describe(doc[key])}`);
    }
  }
  let statsIntervalMs = 0;
  let statsTo: string | undefined;
  try {
    statsIntervalMs = parseStatsInterval((doc.stats_interval as string | undefined) ?? "60s");
  } catch (error) {
    fail("stats_interval", (error as Error).message);
  }
  try {
    statsTo = statsToFlag({ "stats-to": (doc.stats_to as string | undefined) ?? "none" });
  } catch (error) {
    fail("stats_to", (error as Error).message);
  }
  let curve: CurveOptions | undefined;
  try {
    curve = curveFromFlags({
      "curve-server": doc.curve_server as string | undefined,
      "curve-secret": doc.curve_secret as string | undefined,
    });
  } catch (error) {
    // curveFromFlags names files, never key material.
    const message = (error as Error).message.replace(/--curve-(server|secret)/g, "curve_$1");
    fail(doc.curve_secret === undefined ? "curve_server" : "curve_secret", message);
  }
  const inputsTable = doc.inputs ?? {};
  if (typeof inputsTable !== "object" || Array.isArray(inputsTable) || inputsTable === null) {
    return fail("inputs", `expected tables ([inputs.NAME]), got ${describe(inputsTable)}`);
  }
  const inputs: InputConfig[] = [];
  for (const [name, table] of Object.entries(inputsTable as Record<string, unknown>)) {
    const at = `inputs.${name}`;
    if (!/^[A-Za-z0-9_-]+$/.test(name)) fail(at, "input names are letters, digits, _ and -");
    if (typeof table !== "object" || table === null || Array.isArray(table)) {
      return fail(at, `expected a table, got ${describe(table)}`);
    }
    const entries = table as Record<string, unknown>;
    const type = entries.type;
    if (typeof type !== "string" || !Object.hasOwn(INPUT_TYPES, type)) {
      return fail(
        `${at}.type`,
        `${type === undefined ? "missing" : `unknown type '${String(type)}'`} (one of: ${
          Object.keys(INPUT_TYPES).join(", ")
        })`,
      );
    }
    // Stated, not inferred: from a union of specs TypeScript's pick of the type
    // parameter depends on the order it meets them (`deno publish` saw another).
    const spec: CommandSpec<Record<string, FlagSpec>> = INPUT_TYPES[type as InputType].spec;
    const values = inputValues<Record<string, FlagSpec>>(spec, entries, at, fail);
    inputs.push({ name, type: type as InputType, values, fingerprint: JSON.stringify(entries) });
  }
  return {
    path,
    to: toList as string[],
    curve,
    host: doc.host as string | undefined,
    stateDir: doc.state_dir as string | undefined,
    statsIntervalMs,
    statsTo,
    inputs,
  };
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
  return parseConfig(text, path);
}
