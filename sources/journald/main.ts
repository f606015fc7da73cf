/**
 * `eventstorm source journald`: follows the systemd journal (journalctl -o export
 * --follow) and routes sshd and Postfix entries to their parsers.
 *
 * @example
 * ```sh
 * deno run -A sources/journald/main.ts --unit ssh.service --unit postfix@-.service \
 *   --to '>tcp://127.0.0.1:5555'
 * deno run -A sources/journald/main.ts --directory /var/log/journal/remote --once --print
 * ```
 *
 * @module
 */
import {
  checkpointFromFlags,
  destinationText,
  sourceFlags,
  sourceOutput,
  warnSourceOutput,
} from "@eventstorm/core/source";
import {
  type Command,
  helpText,
  parseFlags,
  reportStatsDuring,
  runCommand,
  shutdownSignal,
  type StatsDuringOptions,
} from "@eventstorm/core/cli";
import { JOURNALD_FLAGS, journaldSource } from "./config.ts";
import { formatJournaldLine, journaldCounters } from "./stats.ts";

/** The command line of `eventstorm source journald`. */
export const command: Command<typeof JOURNALD_FLAGS> = {
  name: "eventstorm source journald",
  summary: "the systemd journal: sshd and Postfix entries, with a cursor checkpoint",
  flags: JOURNALD_FLAGS,
  epilog: "Entries vacuumed or rotated away before they were read are counted in lost, from the\n" +
    "gaps in the journal's sequence numbers; not with --unit, --identifier or --file, whose\n" +
    "gaps are entries left out, nor by a user who cannot read the system journal.\n\n" +
    "Examples:\n" +
    "  eventstorm source journald --unit ssh.service --unit postfix@-.service\n" +
    "  eventstorm source journald --directory /var/log/journal/remote --once --print",
  main: journaldMain,
};

/**
 * Runs `eventstorm source journald ARGS`.
 *
 * @example
 * ```ts ignore
 * import { command } from "@eventstorm/source-journald/main";
 * await command.main(["--unit", "ssh.service", "--print"]);
 * ```
 */
async function journaldMain(args: string[]): Promise<number> {
  const parsed = parseFlags(args, command);
  if (parsed.help) {
    console.log(helpText(command));
    return 0;
  }
  const values = parsed.values;
  const common = sourceFlags(values);
  const { host, curve, statsIntervalMs, statsTo } = common;
  const key = [
    ...values.unit.map((u) => `unit:${u}`),
    ...values.identifier.map((i) => `id:${i}`),
    `dir:${values.directory ?? ""}`,
    ...values.file,
  ];
  const checkpointPath = await checkpointFromFlags("journald", values, key);
  const { source, router } = await journaldSource(values, {
    host,
    checkpointPath,
    signal: shutdownSignal(),
    output: sourceOutput("source journald", common),
  });
  console.error(
    `source journald: ${values.once ? "reading" : "following"} the journal ` +
      destinationText(common, checkpointPath),
  );
  warnSourceOutput("source journald", common);
  const reportOptions: StatsDuringOptions = {
    component: "source-journald",
    intervalMs: statsIntervalMs,
    snapshot: () =>
      journaldCounters(
        source.stats(),
        router.stats.ignored,
        source.output,
      ),
    format: (current, previous, elapsed) =>
      formatJournaldLine("journald", current, previous, elapsed),
    statsTo,
    curve,
  };
  await reportStatsDuring(reportOptions, () => source.run());
  return 0;
}

if (import.meta.main) await runCommand(() => command.main(Deno.args));
