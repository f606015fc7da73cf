/**
 * Command-line flags for every eventstorm command: one declarative spec gives the
 * parser, the `--help` text and one-line errors with exit code 2.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { isValidType } from "./event.ts";
import { startMemoryReducer } from "./memory_reducer.ts";

/** A wrong flag, endpoint, file or config value: one line for the user, exit code 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "@eventstorm/core/cli";
 * throw new UsageError("--interval must be a duration like 10s");
 * ```
 */
export class UsageError extends Error {
  /** Creates the error with the line the user sees. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * A flag that takes one value (given twice, the last wins). Its parsed value is a
 * `string` when it has a `default`, else `string | undefined`.
 *
 * @example
 * ```ts
 * import type { StringFlagSpec } from "@eventstorm/core/cli";
 * const listen: StringFlagSpec = { type: "string", value: "ADDR", default: ":8080", help: "where to listen" };
 * ```
 */
export interface StringFlagSpec {
  /** Takes a value. */
  type: "string";
  /** Not repeatable. */
  multiple?: false;
  /** Default value shown in help and used when absent. */
  default?: string;
  /** One-letter alias. */
  short?: string;
  /** Placeholder in help, like `PATH` or `ENDPOINT`. */
  value?: string;
  /** One line of help. */
  help: string;
}

/**
 * A flag that may be given more than once, its values collected in order; its
 * parsed value is a `string[]` (the default, or empty, when absent).
 *
 * @example
 * ```ts
 * import type { ListFlagSpec } from "@eventstorm/core/cli";
 * const file: ListFlagSpec = { type: "string", multiple: true, value: "PATH", help: "file to read" };
 * ```
 */
export interface ListFlagSpec {
  /** Takes a value. */
  type: "string";
  /** Repeatable. */
  multiple: true;
  /** Default values shown in help and used when absent. */
  default?: readonly string[];
  /** One-letter alias. */
  short?: string;
  /** Placeholder in help, like `PATH` or `ENDPOINT`. */
  value?: string;
  /** One line of help. */
  help: string;
}

/**
 * A switch; its parsed value is a `boolean`, `false` when absent.
 *
 * @example
 * ```ts
 * import type { BooleanFlagSpec } from "@eventstorm/core/cli";
 * const print: BooleanFlagSpec = { type: "boolean", help: "print instead of publishing" };
 * ```
 */
export interface BooleanFlagSpec {
  /** A switch. */
  type: "boolean";
  /** Not repeatable. */
  multiple?: false;
  /** Value when absent (`false` unless given). */
  default?: boolean;
  /** One-letter alias. */
  short?: string;
  /** Placeholder in help, like `PATH` or `ENDPOINT`. */
  value?: string;
  /** One line of help. */
  help: string;
}

/**
 * One flag of a command: a string, a repeatable string or a switch.
 *
 * @example
 * ```ts
 * import type { FlagSpec } from "@eventstorm/core/cli";
 * const flags = {
 *   db: { type: "string", default: "events.db", help: "database file" },
 *   topic: { type: "string", multiple: true, help: "topic prefix" },
 *   table: { type: "boolean", help: "print a table" },
 * } as const satisfies Record<string, FlagSpec>;
 * ```
 */
export type FlagSpec = StringFlagSpec | ListFlagSpec | BooleanFlagSpec;

/**
 * The parsed values of the flags `F`, each typed by its spec: a switch is a
 * `boolean`, a repeatable flag a `string[]`, a string flag with a default a
 * `string`, one without a `string | undefined`. Over the loose
 * `Record<string, FlagSpec>` it is the union of all of these.
 *
 * @example
 * ```ts
 * import { type FlagSpec, type FlagValues, parseFlags } from "@eventstorm/core/cli";
 * const flags = {
 *   db: { type: "string", default: "events.db", help: "database file" },
 *   since: { type: "string", help: "oldest time" },
 *   topic: { type: "string", multiple: true, help: "topic prefix" },
 *   table: { type: "boolean", help: "print a table" },
 * } as const satisfies Record<string, FlagSpec>;
 * const values: FlagValues<typeof flags> = parseFlags([], { name: "q", summary: "q", flags }).values;
 * const db: string = values.db;
 * const since: string | undefined = values.since;
 * const topics: string[] = values.topic;
 * const table: boolean = values.table;
 * ```
 */
export type FlagValues<F extends Record<string, FlagSpec>> = {
  [K in keyof F]: F[K] extends infer S // distributes over a union of specs
    ? S extends { type: "boolean" } ? boolean
    : S extends { multiple: true } ? string[]
    : S extends { default: string } ? string
    : string | undefined
    : never;
};

/** A command: its name, summary and flags. */
export interface CommandSpec<F extends Record<string, FlagSpec> = Record<string, FlagSpec>> {
  /** Full name as typed, like `eventstorm router`. */
  name: string;
  /** One-line summary shown first in help. */
  summary: string;
  /** Flags by long name (without `--`). */
  flags: F;
  /** Extra help text after the flags (examples). */
  epilog?: string;
  /**
   * Whether bare arguments are allowed (returned in `positionals`); a string
   * allows them and is their placeholder in the usage line, like `NAME`.
   */
  positionals?: boolean | string;
}

/**
 * One runnable command: what every component's `main.ts` exports as `command`,
 * and all the `eventstorm` command line needs to list, explain and run it.
 *
 * @example
 * ```ts
 * import type { Command } from "@eventstorm/core/cli";
 * export const command: Command = {
 *   name: "eventstorm hello",
 *   summary: "say hello",
 *   flags: {},
 *   main: () => {
 *     console.log("hello");
 *     return Promise.resolve(0);
 *   },
 * };
 * ```
 */
export interface Command<F extends Record<string, FlagSpec> = Record<string, FlagSpec>>
  extends CommandSpec<F> {
  /** Runs the command with `args` (without its name); resolves with the exit code. */
  main(args: string[]): Promise<number>;
}

/**
 * `--print`: a source's events as JSON lines on stdout instead of published.
 *
 * @example
 * ```ts
 * import { PRINT_FLAG } from "@eventstorm/core/cli";
 * const flags = { print: PRINT_FLAG };
 * ```
 */
export const PRINT_FLAG: BooleanFlagSpec = {
  type: "boolean",
  help: "print events as JSON lines on stdout instead of publishing",
};

/**
 * `--to`: where a source publishes; every source and `emit` share it.
 *
 * @example
 * ```ts
 * import { TO_FLAG } from "@eventstorm/core/cli";
 * const flags = { to: TO_FLAG };
 * ```
 */
export const TO_FLAG: ListFlagSpec = {
  type: "string",
  multiple: true,
  value: "ENDPOINT",
  default: [">tcp://127.0.0.1:5555"],
  help: "where to publish (a router's sources endpoint)",
};

/**
 * `--from`: where a sink or tap subscribes; every one shares it.
 *
 * @example
 * ```ts
 * import { FROM_FLAG } from "@eventstorm/core/cli";
 * const flags = { from: FROM_FLAG };
 * ```
 */
export const FROM_FLAG: ListFlagSpec = {
  type: "string",
  multiple: true,
  value: "ENDPOINT",
  default: [">tcp://127.0.0.1:5556"],
  help: "where to subscribe (a router's sinks endpoint)",
};

/**
 * `--topic`: the topic prefixes a subscriber takes, all by default.
 *
 * @example
 * ```ts
 * import { topicFlag } from "@eventstorm/core/cli";
 * const flags = { topic: topicFlag("topic prefix to store") };
 * ```
 */
export function topicFlag(help: string): ListFlagSpec {
  return { type: "string", multiple: true, value: "PREFIX", help: `${help} [default: all]` };
}

/** The result of {@linkcode parseFlags}. */
export interface ParsedFlags<F extends Record<string, FlagSpec> = Record<string, FlagSpec>> {
  /** Values by long flag name, typed by their specs; defaults filled in. */
  values: FlagValues<F>;
  /** Bare arguments, when the spec allows them. */
  positionals: string[];
  /** Whether `--help` was asked for. */
  help: boolean;
}

/**
 * Parses `args` against `spec`. Throws {@linkcode UsageError} with one clear line
 * for an unknown flag, a missing value or a stray argument. The values are typed
 * by the spec's flags (see {@linkcode FlagValues}): declare a table of them
 * `as const satisfies Record<string, FlagSpec>`, not annotated as
 * `Record<string, FlagSpec>`, which would forget which flag is which kind.
 *
 * @example
 * ```ts
 * import { parseFlags } from "@eventstorm/core/cli";
 * const { values } = parseFlags(["--topic", "http."], {
 *   name: "eventstorm tap",
 *   summary: "print events",
 *   flags: { topic: { type: "string", multiple: true, help: "topic prefix" } },
 * });
 * const topics: string[] = values.topic;
 * console.log(topics); // ["http."]
 * ```
 */
export function parseFlags<F extends Record<string, FlagSpec>>(
  args: string[],
  spec: CommandSpec<F>,
): ParsedFlags<F> {
  const options: Record<
    string,
    { type: "string" | "boolean"; multiple?: boolean; short?: string }
  > = { help: { type: "boolean", short: "h" } };
  for (const [name, flag] of Object.entries(spec.flags)) {
    options[name] = { type: flag.type, multiple: flag.multiple ?? false };
    if (flag.short) options[name].short = flag.short;
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${spec.name}: ${describeParseError(error, args, spec)}`);
  }
  // Asked for help, nothing else is read: the values stay empty.
  if (parsed.values.help) return { values: {} as FlagValues<F>, positionals: [], help: true };
  if (!spec.positionals && parsed.positionals.length > 0) {
    throw new UsageError(`${spec.name}: unexpected argument '${parsed.positionals[0]}'`);
  }
  const values: Record<string, string | boolean | string[] | undefined> = {};
  for (const [name, flag] of Object.entries(spec.flags)) {
    values[name] = parsed.values[name] as string | boolean | string[] | undefined ??
      absentValue(flag);
  }
  // Each value is of its spec's kind: parseArgs was given the same types.
  return { values: values as FlagValues<F>, positionals: parsed.positionals, help: false };
}

/**
 * The value of a flag not given: its default (a list copied, so that no caller
 * changes the spec's), else `[]` for a repeatable flag, `false` for a switch.
 */
function absentValue(flag: FlagSpec): string | boolean | string[] | undefined {
  if (flag.type === "boolean") return flag.default ?? false;
  if (flag.multiple) return [...flag.default ?? []];
  return flag.default;
}

/**
 * One line for what node:util's parseArgs refused, chosen by its error code; the
 * flag is found in `args` against the spec, not read back from node's message
 * (which spans lines and suggests `--` tricks that do not apply here).
 */
function describeParseError(error: unknown, args: string[], spec: CommandSpec): string {
  const code = (error as { code?: string } | undefined)?.code;
  const long = (token: string): string | undefined => {
    const name = token.startsWith("--") ? token.slice(2).split("=")[0] : undefined;
    if (name !== undefined) return name;
    if (/^-[^-]/.test(token)) {
      return Object.entries(spec.flags).find(([, flag]) => flag.short === token[1])?.[0] ??
        (token[1] === "h" ? "help" : token);
    }
  };
  const flags = args.map((token, index) => ({ token, index, name: long(token) }));
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const unknown = flags.find(({ name }) =>
      name !== undefined && name !== "help" && !Object.hasOwn(spec.flags, name)
    );
    if (unknown) return `unknown flag '${unknown.token.split("=")[0]}' (see --help)`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    for (const { token, index, name } of flags) {
      const flag = name === undefined || !Object.hasOwn(spec.flags, name)
        ? undefined
        : spec.flags[name];
      if (!flag) continue;
      if (flag.type === "boolean" && token.includes("=")) return `flag '--${name}' takes no value`;
      if (flag.type === "string" && !token.includes("=")) {
        const next = args[index + 1];
        if (next === undefined) return `flag '--${name}' needs a value`;
        if (next.startsWith("-")) {
          return `flag '--${name}' needs a value; for one starting with '-', write --${name}=VALUE`;
        }
      }
    }
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const stray = args.find((token) => !token.startsWith("-"));
    if (stray !== undefined) return `unexpected argument '${stray}'`;
  }
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

/**
 * The `--help` text of a command.
 *
 * @example
 * ```ts
 * import { helpText } from "@eventstorm/core/cli";
 * console.log(helpText({ name: "eventstorm x", summary: "does x", flags: {} }));
 * ```
 */
export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.flags).map(([name, flag]) => {
    const value = flag.type === "string" ? ` ${flag.value ?? "VALUE"}` : "";
    const short = flag.short ? `-${flag.short}, ` : "";
    const left = `  ${short}--${name}${value}${flag.multiple ? " (repeatable)" : ""}`;
    const def = flag.default !== undefined && flag.default !== false &&
        !(Array.isArray(flag.default) && flag.default.length === 0)
      ? ` [default: ${Array.isArray(flag.default) ? flag.default.join(", ") : flag.default}]`
      : "";
    // The left column says "(repeatable)"; help that says it too would say it twice.
    const help = flag.multiple ? flag.help.replace(/\s*\(repeatable\)/, "") : flag.help;
    return [left, `${help}${def}`] as const;
  });
  rows.push(["  -h, --help", "show this help"]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const lines = [
    `${spec.name}: ${spec.summary}`,
    "",
    `Usage: ${spec.name}${usageArgs(spec.positionals)} [FLAGS]`,
    "",
    "Flags:",
    ...rows.map(([left, right]) => left.padEnd(width) + right),
  ];
  if (spec.epilog) lines.push("", spec.epilog.trimEnd());
  return lines.join("\n") + "\n";
}

/** What the usage line shows for bare arguments: their placeholder, ` [ARGS]`, or none. */
function usageArgs(positionals: CommandSpec["positionals"]): string {
  if (typeof positionals === "string") return ` ${positionals}`;
  return positionals ? " [ARGS]" : "";
}

/**
 * A list flag of topic prefixes (`--topic`, `--allow`, `--deny`), each checked:
 * a prefix that no type could start with (`HTTP.`, `a b`) is a typo that would
 * otherwise match nothing, silently. `""` (everything) and a trailing dot pass.
 *
 * @example
 * ```ts
 * import { topicPrefixesFlag } from "@eventstorm/core/cli";
 * topicPrefixesFlag({ topic: ["http.", "ssh.login"] }, "topic"); // ["http.", "ssh.login"]
 * ```
 */
export function topicPrefixesFlag<K extends string>(
  values: { readonly [P in NoInfer<K>]: readonly string[] },
  name: K,
): string[] {
  const prefixes = [...values[name]];
  for (const prefix of prefixes) {
    if (prefix !== "" && !isValidType(prefix.replace(/\.$/, ""))) {
      throw new UsageError(
        `--${name} '${prefix}' is not a topic prefix (dotted lower-case, like http. or smtp.reject)`,
      );
    }
  }
  return prefixes;
}

/**
 * Reads a string flag as a whole number within bounds, or throws a
 * {@linkcode UsageError}: a number when the flag's value is a `string` (it has a
 * default), `number | undefined` when it may be absent.
 *
 * @example
 * ```ts
 * import { integerFlag } from "@eventstorm/core/cli";
 * const buffer: number = integerFlag({ buffer: "100" }, "buffer", { min: 1 }); // 100
 * integerFlag({ limit: undefined }, "limit"); // undefined
 * ```
 */
export function integerFlag<
  T extends { readonly [P in K]: string | undefined },
  K extends string,
>(
  values: T,
  name: K,
  options: { min?: number; max?: number } = {},
): T[K] extends string ? number : number | undefined {
  type Result = T[K] extends string ? number : number | undefined;
  const raw: string | undefined = values[name];
  if (raw === undefined) return undefined as Result;
  const value = Number(raw);
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = options;
  if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${raw}'`);
  }
  return value as Result;
}

/**
 * Reads a string flag that takes one of `choices`, or throws a
 * {@linkcode UsageError} naming them: the value, typed as the choice it is.
 *
 * @example
 * ```ts
 * import { choiceFlag } from "@eventstorm/core/cli";
 * const bucket: "hour" | "day" = choiceFlag({ bucket: "day" }, "bucket", ["hour", "day"]); // "day"
 * ```
 */
export function choiceFlag<const C extends string, K extends string>(
  values: { readonly [P in K]: string | undefined },
  name: K,
  choices: readonly C[],
): C {
  const value = values[name];
  if (!(choices as readonly (string | undefined)[]).includes(value)) {
    throw new UsageError(`--${name} must be ${choices.join(" or ")}, got '${value}'`);
  }
  return value as C;
}

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

/**
 * Parses a byte size as people write them in flags: a number with an optional
 * unit. `KiB`, `MiB`, `GiB`, `TiB` and the bare letters `k`, `m`, `g`, `t` are
 * powers of 1024 (as in logrotate and systemd); `KB`, `MB`, `GB`, `TB` are
 * powers of 1000. Case does not matter. Throws {@linkcode UsageError} naming the
 * flag (when given) for anything else, and for less than `min` bytes (default 0).
 *
 * @example
 * ```ts
 * import { parseByteSize } from "@eventstorm/core/cli";
 * parseByteSize("64MiB"); // 67108864
 * parseByteSize("512k"); // 524288
 * parseByteSize("2MB"); // 2000000
 * ```
 */
export function parseByteSize(text: string, flag?: string, min = 0): number {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)\s*([a-z]*)$/i);
  const unit = match ? BYTE_UNITS[match[2].toLowerCase()] : undefined;
  const value = match && unit !== undefined ? Math.round(Number(match[1]) * unit) : NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    const where = flag ? `--${flag} ` : "";
    const least = min > 0 ? ` of at least ${min} byte${min === 1 ? "" : "s"}` : "";
    throw new UsageError(
      `${where}must be a size${least} like 65536, 512KiB, 64MiB or 1GB, got '${text}'`,
    );
  }
  return value;
}

/**
 * Runs a command's main function the same way everywhere: prints help, turns a
 * {@linkcode UsageError} into one line on stderr with exit code 2, a closed
 * stdout (`| head`) into a quiet exit 0, and any other failure into one line with
 * exit code 1. Under V8's `--expose-gc` it also returns unused memory to the
 * system every second while the command runs.
 *
 * @example
 * ```ts ignore
 * import { runCommand } from "@eventstorm/core/cli";
 * await runCommand(async () => { console.log("hi"); });
 * ```
 */
export async function runCommand(main: () => Promise<void | number>): Promise<never> {
  let code = 0;
  // Only under --expose-gc, which the agent's unit sets: see memory_reducer.ts.
  startMemoryReducer();
  try {
    code = (await main()) ?? 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${oneLine(error.message)}`);
      code = 2;
    } else if (error instanceof Deno.errors.BrokenPipe) {
      // `eventstorm tap | head`: the reader has what it wanted; that is not a failure.
      code = 0;
    } else {
      console.error(`error: ${oneLine(error instanceof Error ? error.message : String(error))}`);
      if (Deno.env.get("EVENTSTORM_DEBUG")) console.error(error);
      code = 1;
    }
  }
  Deno.exit(code);
}

/** Error texts from elsewhere (JSON.parse, the OS) can span lines; errors here take one. */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * An AbortSignal that fires on the first SIGINT or SIGTERM, so a run loop can stop,
 * flush what it holds and return. A second signal a second or more later exits at
 * once.
 *
 * @example
 * ```ts ignore
 * import { shutdownSignal } from "@eventstorm/core/cli";
 * const signal = shutdownSignal();
 * signal.addEventListener("abort", () => console.error("stopping"));
 * ```
 */
export function shutdownSignal(): AbortSignal {
  const controller = new AbortController();
  let firstAt = 0;
  const onSignal = () => {
    if (!controller.signal.aborted) {
      firstAt = Date.now();
      controller.abort();
      return;
    }
    // Ctrl-C under `deno task` arrives twice at once (from the terminal and
    // forwarded by the task runner): only a later one is a person insisting.
    if (Date.now() - firstAt > 1000) Deno.exit(130);
  };
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(name, onSignal);
    } catch {
      // Not every platform has every signal (SIGTERM on Windows).
    }
  }
  return controller.signal;
}
