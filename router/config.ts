/**
 * The router's configuration and how flags become one.
 *
 * @module
 */
import type { CurveOptions } from "@eventstorm/core";
import {
  choiceFlag,
  type CommandSpec,
  CURVE_CLIENT_FLAGS,
  curveFromFlags,
  endpointsFlag,
  type FlagValues,
  integerFlag,
  parseDuration,
  STATS_INTERVAL_FLAG,
  statsIntervalFlag,
  topicPrefixesFlag,
  UsageError,
} from "@eventstorm/core/cli";
import { DEFAULT_MAX_MESSAGE_SIZE } from "@eventstorm/core/protocol";

/** Everything a router needs to run. */
export interface RouterConfig {
  /** Where sources publish to (XSUB). */
  sources: string[];
  /** Where sinks subscribe (XPUB). */
  sinks: string[];
  /** Topic prefixes allowed through; all when empty. */
  allow: string[];
  /** Topic prefixes never let through. */
  deny: string[];
  /** How often to print and publish stats, in ms (0: only a final line at shutdown). */
  statsIntervalMs: number;
  /** Largest message accepted from a source. */
  maxMessageSize: number;
  /** Messages queued per sink before libzmq drops for that sink. */
  sendHwm: number;
  /**
   * When a sink's queue is full: `"drop-newest"` (that sink loses the message and
   * counts it) or `"block"` (wait for room: the slowest sink paces the others and
   * the sources). Default `"drop-newest"`.
   */
  whenFull?: "drop-newest" | "block";
  /** Messages queued from sources before TCP pushes back. */
  receiveHwm: number;
  /** Host name in the router's own stats events. */
  host?: string;
  /**
   * How often the router announces the position of each stream gone quiet, in
   * ms (default 1000; 0: never), so that a sink learns of a lost tail even after
   * the source is gone (docs/security-notes.md).
   */
  announceIntervalMs?: number;
  /** How long after a stream's last message the router keeps announcing it, in ms (default 60000). */
  announceForMs?: number;
  /** CURVE: bound sides are servers with `secretKey`; connected sides clients of `serverKey`. */
  curve?: CurveOptions;
  /** Admit only the CURVE clients whose public certificates are in this directory. */
  allowKeys?: string;
}

/** The `eventstorm router` command line.
 *
 * @example
 * ```ts
 * import { ROUTER_COMMAND } from "@eventstorm/router";
 * console.log(ROUTER_COMMAND.name); // "eventstorm router"
 * ```
 */
export const ROUTER_COMMAND = {
  name: "eventstorm router",
  summary: "forward events from sources to sinks, filtered by topic",
  flags: {
    sources: {
      type: "string",
      multiple: true,
      value: "ENDPOINT",
      default: ["@tcp://*:5555"],
      help: "where sources publish (XSUB); >ENDPOINT chains to another router",
    },
    sinks: {
      type: "string",
      multiple: true,
      value: "ENDPOINT",
      default: ["@tcp://*:5556"],
      help: "where sinks subscribe (XPUB)",
    },
    allow: {
      type: "string",
      multiple: true,
      value: "PREFIX",
      help: "let only these topics through: http. is every type under http.; a type (http) is " +
        "itself and its dotted children (http, http.hit; not httpd.x or https.x)",
    },
    deny: {
      type: "string",
      multiple: true,
      value: "PREFIX",
      help: "never let these topics through, even when allowed (matched as --allow)",
    },
    "stats-interval": STATS_INTERVAL_FLAG,
    "max-message-size": {
      type: "string",
      value: "BYTES",
      default: String(DEFAULT_MAX_MESSAGE_SIZE) as string,
      help: "largest message accepted from a source (larger: counted oversized; a frame over " +
        "1.25 times this, or a message with the libzmq of scripts/libzmq.sh: the source is " +
        "disconnected, counted in disconnects)",
    },
    "sink-hwm": {
      type: "string",
      value: "MESSAGES",
      default: "1000",
      help: "messages queued per sink before it loses (counted by the sink), or before the " +
        "router waits (--when-full block)",
    },
    "when-full": {
      type: "string",
      value: "drop-newest|block",
      default: "drop-newest",
      help: "when a sink's queue is full: drop-newest (that sink loses the message and counts " +
        "it; the others go on) or block (hold it and read nothing more until the sink has " +
        "room: the slowest sink paces every sink and, once their queues fill, the sources; " +
        "a file source then pauses reading, so a backfill loses nothing)",
    },
    "source-hwm": {
      type: "string",
      value: "MESSAGES",
      default: "1000",
      help: "messages queued from sources before they are pushed back",
    },
    "announce-for": {
      type: "string",
      value: "DURATION",
      default: "60s",
      help: "keep announcing a quiet stream's position this long after its last message, so a " +
        "sink stalled up to this long still counts what the router dropped for it (one small " +
        "message a second per quiet stream; 0: never; at most 24d)",
    },
    host: {
      type: "string",
      value: "NAME",
      help: "host name in stats events [default: this machine]",
    },
    "curve-secret": {
      type: "string",
      value: "FILE",
      help: "encrypt with CURVE: this router's secret certificate; every endpoint it binds is a " +
        "CURVE server with it (with --curve-server too)",
    },
    "allow-keys": {
      type: "string",
      value: "DIR",
      help: "admit only clients whose public certificate is in DIR (re-read when it changes)",
    },
    "curve-server": {
      ...CURVE_CLIENT_FLAGS["curve-server"],
      help: "with --sources '>…' chained to a CURVE router: that router's public key (once " +
        "per endpoint that connects, in order, for routers with key pairs of their own); the " +
        "endpoints that connect are its clients, those that bind stay servers",
    },
  },
  epilog: `Examples:
  eventstorm router
  eventstorm router --allow http. --allow smtp. --deny http.debug
  eventstorm router --when-full block   # lossless backfills: the slowest sink paces all
  eventstorm router --sources '>tcp://upstream:5556' --sinks '@tcp://*:6556'   # chained
  eventstorm keygen router && eventstorm router --curve-secret router_secret --allow-keys clients/
  eventstorm router --sources '>tcp://regional:5556' --sinks '@tcp://*:6556' \\
    --curve-secret central_secret --curve-server regional --allow-keys clients/   # CURVE chain`,
} as const satisfies CommandSpec;

/**
 * Turns parsed flags into a checked {@linkcode RouterConfig}; throws `UsageError`.
 *
 * @example
 * ```ts
 * import { parseFlags } from "@eventstorm/core/cli";
 * import { ROUTER_COMMAND, routerConfigFromFlags } from "@eventstorm/router";
 * const config = routerConfigFromFlags(parseFlags(["--allow", "http."], ROUTER_COMMAND).values);
 * config.allow; // ["http."]
 * ```
 */
export function routerConfigFromFlags(
  values: FlagValues<typeof ROUTER_COMMAND.flags>,
): RouterConfig {
  const sources = endpointsFlag(values, "sources");
  const sinks = endpointsFlag(values, "sinks");
  const allow = topicPrefixesFlag(values, "allow");
  const deny = topicPrefixesFlag(values, "deny");
  for (const [name, prefixes] of [["allow", allow], ["deny", deny]] as const) {
    if (prefixes.includes("")) {
      throw new UsageError(
        `--${name} '' matches every topic: ` +
          (name === "deny" ? "the router would pass nothing" : "omit --allow to let all through"),
      );
    }
  }
  return {
    sources,
    sinks,
    allow,
    deny,
    statsIntervalMs: statsIntervalFlag(values),
    maxMessageSize: integerFlag(values, "max-message-size", { min: 1024, max: 1 << 30 }),
    sendHwm: integerFlag(values, "sink-hwm", { min: 1, max: 10_000_000 }),
    whenFull: choiceFlag(values, "when-full", ["drop-newest", "block"]),
    receiveHwm: integerFlag(values, "source-hwm", { min: 1, max: 10_000_000 }),
    host: values.host,
    announceForMs: parseDuration(values["announce-for"], "announce-for"),
    curve: curveFromFlags(values),
    allowKeys: values["allow-keys"],
  };
}
