/**
 * The journald source's flags, and the journalctl reader and parser router they build.
 *
 * @module
 */
import type { OutputResume } from "@eventstorm/core/source";
import {
  CURVE_CLIENT_FLAGS,
  type FlagSpec,
  type FlagValues,
  PRINT_FLAG,
  SOURCE_STATS_FLAGS,
  TO_FLAG,
  UsageError,
} from "@eventstorm/core/cli";
import { postfixSource } from "@eventstorm/source-postfix";
import { sshdSource } from "@eventstorm/source-sshd";
import { JournalRouter } from "./router.ts";
import { JournaldSource } from "./source.ts";

/** The journald source's flags. */
export const JOURNALD_FLAGS = {
  unit: { type: "string", multiple: true, value: "UNIT", help: "only this unit (repeatable)" },
  identifier: {
    type: "string",
    multiple: true,
    value: "ID",
    help: "only this syslog identifier, like sshd or postfix/smtpd (repeatable)",
  },
  directory: { type: "string", value: "DIR", help: "read the journal files in DIR" },
  file: { type: "string", multiple: true, value: "PATH", help: "read this journal file" },
  "from-start": {
    type: "boolean",
    help: "without a checkpoint, read the whole journal first (default: new entries only)",
  },
  once: { type: "boolean", help: "read to the end of the journal and exit" },
  generic: { type: "boolean", help: "send entries of other programs as journald.message events" },
  journalctl: { type: "string", value: "PATH", default: "journalctl", help: "journalctl to run" },
  to: TO_FLAG,
  ...CURVE_CLIENT_FLAGS,
  print: PRINT_FLAG,
  host: { type: "string", value: "NAME", help: "host of every event [default: the entry's]" },
  checkpoint: {
    type: "string",
    value: "PATH",
    help:
      "checkpoint file (journal cursor) [default: under ~/.local/state/eventstorm; none with --print]",
  },
  "no-checkpoint": { type: "boolean", help: "keep no checkpoint" },
  ...SOURCE_STATS_FLAGS,
  timeout: postfixSource.flags!.timeout,
  "deferred-timeout": postfixSource.flags!["deferred-timeout"],
} as const satisfies Record<string, FlagSpec>;

/**
 * The source the flags ask for.
 *
 * @example
 * ```ts ignore
 * import { journaldSource } from "@eventstorm/source-journald";
 * const { source, router } = await journaldSource(values, { host: "me", output, signal });
 * ```
 */
export async function journaldSource(
  values: FlagValues<typeof JOURNALD_FLAGS>,
  options: {
    host: string;
    output: (
      resume: OutputResume,
    ) => import("@eventstorm/core").EventOutput | Promise<import("@eventstorm/core").EventOutput>;
    checkpointPath?: string;
    signal?: AbortSignal;
  },
): Promise<{ source: JournaldSource; router: JournalRouter }> {
  if (values.directory !== undefined && values.file.length > 0) {
    throw new UsageError("--directory and --file exclude each other");
  }
  const router = new JournalRouter({
    // The journal's times are UTC; its files are no log files to find a format by.
    postfix: await postfixSource.makeParser({ ...values, utc: true, file: [] }),
    sshd: await sshdSource.makeParser({ utc: true, file: [] }),
    generic: values.generic,
  });
  const hostOverride = values.host;
  const source = new JournaldSource({
    router,
    output: options.output,
    host: hostOverride ?? options.host,
    hostOverride,
    units: values.unit,
    identifiers: values.identifier,
    directory: values.directory,
    files: values.file,
    fromStart: values["from-start"],
    once: values.once,
    journalctl: values.journalctl,
    checkpointPath: options.checkpointPath,
    signal: options.signal,
  });
  return { source, router };
}
