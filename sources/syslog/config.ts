/**
 * The syslog source's flags, and the parser router they build.
 *
 * @module
 */
import {
  CURVE_CLIENT_FLAGS,
  type FlagSpec,
  type FlagValues,
  PRINT_FLAG,
  SOURCE_STATS_FLAGS,
  TO_FLAG,
  UsageError,
} from "@eventstorm/core/cli";
import { nginxSource } from "@eventstorm/source-nginx";
import { postfixSource } from "@eventstorm/source-postfix";
import { sshdSource } from "@eventstorm/source-sshd";
import { SyslogRouter } from "./router.ts";

const ROUTES = ["nginx", "postfix", "sshd"] as const;

/** Help of a parser's flag that speaks of files, as it reads over syslog, where there are none. */
const SYSLOG_HELP: Record<string, string> = {
  "format-name": "which log_format of --nginx-conf [default: combined]",
};

/** The syslog source's own flags (the parsers' flags keep the names of their sources). */
export const SYSLOG_FLAGS = {
  listen: {
    type: "string",
    multiple: true,
    value: "ADDR",
    help:
      "udp://HOST:PORT, tcp://HOST:PORT, unix:///PATH (datagrams, as /dev/log) or unix-stream:///PATH",
  },
  to: TO_FLAG,
  ...CURVE_CLIENT_FLAGS,
  print: PRINT_FLAG,
  host: { type: "string", value: "NAME", help: "host of every event [default: the message's]" },
  routes: {
    type: "string",
    value: "LIST",
    default: "nginx,postfix,sshd",
    help: "parsers to route to, by program tag (nginx: --nginx-tag; postfix/*; sshd)",
  },
  "nginx-tag": {
    type: "string",
    multiple: true,
    value: "TAG",
    help: "program tag of nginx access lines (access_log syslog:...,tag=) [default: nginx]",
  },
  generic: {
    type: "boolean",
    help: "send messages of other programs as syslog.message events",
  },
  unparsed: {
    type: "boolean",
    help: "send messages no parser understands as syslog.unparsed events (field line)",
  },
  "max-message-bytes": {
    type: "string",
    value: "N",
    default: "65536",
    help: "longer messages are cut there (and counted)",
  },
  checkpoint: {
    type: "string",
    value: "PATH",
    help: "checkpoint file (stream numbering, open Postfix transactions) " +
      "[default: under ~/.local/state/eventstorm; none with --print]",
  },
  "no-checkpoint": { type: "boolean", help: "keep no checkpoint" },
  ...SOURCE_STATS_FLAGS,
  ...parserFlags() as
    & NonNullable<typeof nginxSource.flags>
    & NonNullable<typeof postfixSource.flags>
    & NonNullable<typeof sshdSource.flags>,
} as const satisfies Record<string, FlagSpec>;

/** The flags of the parsers, each the same but for the parser named in front of its help. */
function parserFlags(): Record<string, FlagSpec> {
  return Object.fromEntries(
    Object.entries({ ...nginxSource.flags, ...postfixSource.flags, ...sshdSource.flags })
      .map(([name, spec]) => [
        name,
        { ...spec, help: `(${parserOf(name)}) ${SYSLOG_HELP[name] ?? spec.help}` },
      ]),
  );
}

function parserOf(flag: string): string {
  if (flag === "utc") return "postfix, sshd";
  return flag in (nginxSource.flags ?? {}) ? "nginx" : "postfix";
}

/**
 * Builds the router the flags ask for (the same flag names as the nginx, postfix
 * and sshd sources).
 *
 * @example
 * ```ts
 * import { parseFlags } from "@eventstorm/core/cli";
 * import { SYSLOG_FLAGS, syslogRouter } from "@eventstorm/source-syslog";
 * const flags = SYSLOG_FLAGS;
 * const { values } = parseFlags(["--routes", "sshd", "--generic"], { name: "x", summary: "x", flags });
 * const router = await syslogRouter(values);
 * ```
 */
export async function syslogRouter(
  values: FlagValues<typeof SYSLOG_FLAGS>,
): Promise<SyslogRouter> {
  const routes = values.routes.split(",").map((r) => r.trim()).filter((r) => r !== "");
  for (const route of routes) {
    if (!(ROUTES as readonly string[]).includes(route)) {
      throw new UsageError(`--routes: unknown parser '${route}' (known: ${ROUTES.join(", ")})`);
    }
  }
  // The parsers take their own flags' values; there are no files.
  const parserValues = { ...values, file: [] };
  const nginxTags = values["nginx-tag"];
  return new SyslogRouter({
    nginx: routes.includes("nginx") ? await nginxSource.makeParser(parserValues) : undefined,
    nginxTags: nginxTags.length > 0 ? nginxTags : undefined,
    postfix: routes.includes("postfix") ? await postfixSource.makeParser(parserValues) : undefined,
    sshd: routes.includes("sshd") ? await sshdSource.makeParser(parserValues) : undefined,
    generic: values.generic,
    utc: values.utc,
  });
}
