/**
 * The flags of one benchmark, read as the product's commands read theirs:
 * `--help` prints its usage, and a flag it does not know, or a value missing,
 * is one line on stderr and exit code 2 (a stack trace before).
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/**
 * `parseArgs` over `Deno.args` with `config`; prints `usage` and exits for
 * `--help`, or with a one-line error for a mistake.
 *
 * @example
 * ```ts ignore
 * import { benchArgs } from "./args.ts";
 * const args = benchArgs("deno run -A bench/x_bench.ts [--lines N]", {
 *   options: { lines: { type: "string", default: "500000" } },
 * });
 * Number(args.values.lines);
 * ```
 */
export function benchArgs<const Config extends Omit<ParseArgsConfig, "args">>(
  usage: string,
  config: Config,
): ReturnType<typeof parseArgs<Config & { args: string[] }>> {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(`usage: ${usage}`);
    Deno.exit(0);
  }
  try {
    return parseArgs({ ...config, args: Deno.args });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== "string" || !code.startsWith("ERR_PARSE_ARGS")) throw error;
    console.error(`error: ${(error as Error).message} (usage: ${usage})`);
    Deno.exit(2);
  }
}
