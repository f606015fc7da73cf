/**
 * The demo source's flags.
 *
 * @module
 */
import {
  CURVE_CLIENT_FLAGS,
  type FlagSpec,
  type FlagValues,
  integerFlag,
  SOURCE_STATS_FLAGS,
  TO_FLAG,
} from "@eventstorm/core/cli";

/**
 * The flags of `eventstorm source demo` (and of an agent's demo input).
 *
 * @example
 * ```ts
 * import { DEMO_FLAGS } from "@eventstorm/source-demo";
 * Object.keys(DEMO_FLAGS).includes("rate"); // true
 * ```
 */
export const DEMO_FLAGS = {
  to: TO_FLAG,
  ...CURVE_CLIENT_FLAGS,
  rate: { type: "string", value: "N", default: "1000", help: "events per second" },
  limit: { type: "string", value: "N", help: "stop after N events" },
  host: { type: "string", value: "NAME", help: "host for the source's own events" },
  ...SOURCE_STATS_FLAGS,
} as const satisfies Record<string, FlagSpec>;

/**
 * The rate and limit the flags ask for.
 *
 * @example
 * ```ts
 * import { demoConfigFromFlags } from "@eventstorm/source-demo";
 * demoConfigFromFlags({ rate: "500", limit: undefined }); // { rate: 500, limit: undefined }
 * ```
 */
export function demoConfigFromFlags(
  values: FlagValues<Pick<typeof DEMO_FLAGS, "rate" | "limit">>,
): { rate: number; limit?: number } {
  return {
    rate: integerFlag(values, "rate", { min: 1, max: 10_000_000 }),
    limit: integerFlag(values, "limit", { min: 1 }),
  };
}
