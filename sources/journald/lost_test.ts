/**
 * Entries gone from the journal before the source read them, on real journal files:
 * Debian's systemd-journal-remote (scripts/journald.sh) writes them from export
 * streams, rotates them as journald does (the new file continues the old one's
 * seqnums) and journalctl --vacuum-files removes the archived one.
 */
import assert from "node:assert/strict";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { JournaldSource } from "./source.ts";
import { JournalRouter } from "./router.ts";
import { formatJournaldLine, journaldCounters } from "./stats.ts";
import { Collector, type Event } from "@eventstorm/core";
import { cli, finish, waitFor } from "../../tests/helpers.ts";
import { tempDir } from "../../tests/temp.ts";
import { GatherOutput } from "../../tests/file_events.ts";

const SCRIPT = fileURLToPath(new URL("../../scripts/journald.sh", import.meta.url));
const CI = Deno.env.get("CI") === "true";

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { ok: out.success, out: text.trim() };
  } catch (error) {
    return { ok: false, out: String(error) };
  }
}

const install = await run("bash", [SCRIPT, "install"]);
const remote = install.ok ? (await run("bash", [SCRIPT, "remote-bin"])).out : "";
const unavailable = install.ok && remote ? undefined : `scripts/journald.sh: ${install.out}`;
if (unavailable && !CI) console.warn(`skipping journald loss tests: ${unavailable}`);

/**
 * Appends entries `from`..`to` (MESSAGE `entry N`) to the journal file `journal`.
 * With `fieldPerEntry`, each entry also has a field name of its own: past 3/4 of the
 * 333 field names a journal file's table holds, journal-remote rotates the file, as
 * journald does when a file is full.
 */
async function appendEntries(
  journal: string,
  from: number,
  to: number,
  fieldPerEntry = false,
): Promise<void> {
  let text = "";
  for (let n = from; n <= to; n++) {
    text += `__REALTIME_TIMESTAMP=${1_765_000_000_000_000 + n * 1000}\n` +
      `__MONOTONIC_TIMESTAMP=${n * 1000}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n` +
      `_HOSTNAME=mx1\nSYSLOG_IDENTIFIER=app\nMESSAGE=entry ${n}\n` +
      (fieldPerEntry ? `PAD_${n}=x\n` : "") + "\n";
  }
  // Beside the journal directory: journalctl would not mind, but the test lists it.
  const input = join(dirname(journal), "..", `${basename(journal)}-${from}.export`);
  await Deno.writeTextFile(input, text);
  const result = await run(remote, [`--output=${journal}`, input]);
  assert.ok(result.ok, result.out);
}

/** One `--once` pass over `directory` from the checkpoint: its stats, messages and warnings. */
async function readOnce(directory: string, checkpointPath: string) {
  const out = new GatherOutput();
  const warnings: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    const stats = await new JournaldSource({
      router: new JournalRouter({ generic: true }),
      output: () => out,
      host: "here",
      directory,
      once: true,
      fromStart: true,
      checkpointPath,
    }).run();
    return { stats, messages: out.events.map((e) => String(e.message)), warnings };
  } finally {
    console.error = error;
  }
}

function entries(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `entry ${from + i}`);
}

async function journalFiles(directory: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(directory)) {
    if (e.name.endsWith(".journal")) names.push(e.name);
  }
  return names.sort();
}

/**
 * Appends entries 21 to 300 to `journal` (which holds 1 to 20): they fill the file's
 * field table, so journal-remote archives it and goes on in a new file of the same
 * journal; then journalctl --vacuum-files removes the archived one. Returns how many
 * entries it held.
 */
async function rotateAndVacuum(journal: string): Promise<number> {
  const journalDir = dirname(journal);
  await appendEntries(journal, 21, 300, true);
  const files = await journalFiles(journalDir);
  assert.equal(files.length, 2, files.join(" "));
  const archived = join(journalDir, files.find((f) => f.includes("@"))!);
  const inArchived = (await run("journalctl", ["--file", archived, "-o", "export", "-q"]))
    .out.split("\n").filter((line) => line.startsWith("__CURSOR=")).length;
  assert.ok(inArchived > 20 && inArchived < 300, `${inArchived} entries in ${archived}`);
  const vacuum = await run("journalctl", ["--directory", journalDir, "--vacuum-files=1"]);
  assert.ok(vacuum.ok, vacuum.out);
  assert.deepEqual(await journalFiles(journalDir), ["remote.journal"]);
  return inArchived;
}

Deno.test({
  name: "journald: entries vacuumed past the checkpoint are counted lost, exactly, and said once",
  ignore: unavailable !== undefined && !CI,
  async fn() {
    if (unavailable) throw new Error(`journald tooling is required under CI: ${unavailable}`);
    await using dir = await tempDir({ prefix: "journald_lost_" });
    const journalDir = join(dir.path, "journal");
    await Deno.mkdir(journalDir);
    const journal = join(journalDir, "remote.journal");
    const checkpoint = join(dir.path, "cp.json");
    await appendEntries(journal, 1, 20);
    const first = await readOnce(journalDir, checkpoint);
    assert.deepEqual(first.messages, entries(1, 20));
    assert.equal(first.stats.lost, 0);

    const inArchived = await rotateAndVacuum(journal);
    const second = await readOnce(journalDir, checkpoint);
    // Every entry still in the journal is read, the first one left included.
    assert.deepEqual(second.messages, entries(inArchived + 1, 300));
    assert.equal(second.stats.lost, inArchived - 20);
    assert.equal(second.warnings.length, 1, second.warnings.join("\n"));
    assert.match(
      second.warnings[0],
      new RegExp(
        `^warning: ${inArchived - 20} journal entries lost: the checkpoint's cursor is ` +
          `entry 20 of journal [0-9a-f]{32}, the next one left is ${inArchived + 1} ` +
          `\\(vacuumed or rotated away`,
      ),
    );
    const counters = journaldCounters(second.stats, 0);
    assert.equal(counters.lost, inArchived - 20);
    assert.match(
      formatJournaldLine("journald", counters, {}, 1000),
      new RegExp(`, lost ${inArchived - 20}\\b`),
    );
    // Read to the end and checkpointed there: a third pass has nothing more to say.
    const third = await readOnce(journalDir, checkpoint);
    assert.deepEqual(third.messages, []);
    assert.equal(third.stats.lost, 0);
    assert.deepEqual(third.warnings, []);
  },
});

Deno.test({
  name:
    "journald: a journal replaced under the checkpoint is read from its start, loss uncountable",
  ignore: unavailable !== undefined && !CI,
  async fn() {
    if (unavailable) throw new Error(`journald tooling is required under CI: ${unavailable}`);
    await using dir = await tempDir({ prefix: "journald_replaced_" });
    const journalDir = join(dir.path, "journal");
    await Deno.mkdir(journalDir);
    const journal = join(journalDir, "remote.journal");
    const checkpoint = join(dir.path, "cp.json");
    await appendEntries(journal, 1, 20);
    assert.deepEqual((await readOnce(journalDir, checkpoint)).messages, entries(1, 20));

    // A new journal file, with a seqnum id of its own, where the old one was.
    await Deno.remove(journal);
    await appendEntries(journal, 21, 40);
    const second = await readOnce(journalDir, checkpoint);
    // Its first entry too: journalctl --after-cursor skipped it.
    assert.deepEqual(second.messages, entries(21, 40));
    assert.equal(second.stats.lost, 0);
    assert.equal(second.warnings.length, 1, second.warnings.join("\n"));
    assert.match(
      second.warnings[0],
      /^warning: the first journal entry after the checkpoint's cursor is from another journal \(seqnum id [0-9a-f]{32}, the cursor's is [0-9a-f]{32}\): .* cannot be counted$/,
    );
  },
});

Deno.test({
  name: "journald: lost is on the source's stats line and in its eventstorm.stats event",
  ignore: unavailable !== undefined && !CI,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    if (unavailable) throw new Error(`journald tooling is required under CI: ${unavailable}`);
    await using dir = await tempDir({ prefix: "journald_lost_stats_" });
    const journalDir = join(dir.path, "journal");
    await Deno.mkdir(journalDir);
    const journal = join(journalDir, "remote.journal");
    const collector = await Collector.open({
      endpoints: "@tcp://127.0.0.1:*",
      topics: ["eventstorm.stats"],
    });
    const stats: Event[] = [];
    const receiving = (async () => {
      for await (const event of collector.events()) stats.push(event);
    })();
    const source = async () => {
      const result = await finish(cli([
        ...["source", "journald", "--directory", journalDir, "--once", "--print"],
        ...["--checkpoint", join(dir.path, "cp.json"), "--stats-interval", "0s"],
        ...["--stats-to", collector.boundEndpoint()],
      ]));
      assert.equal(result.code, 0, result.stderr);
      return result;
    };
    try {
      await appendEntries(journal, 1, 20);
      await source();
      await waitFor(() => stats.length === 1, "the first run's final stats", 10_000);
      assert.equal(stats[0].lost, 0);
      const inArchived = await rotateAndVacuum(journal);
      const second = await source();
      await waitFor(() => stats.length === 2, "the second run's final stats", 10_000);
      assert.equal(stats[1].component, "source-journald");
      assert.equal(stats[1].lost, inArchived - 20);
      assert.equal(stats[1].entries, 300 - inArchived);
      assert.match(second.stderr, new RegExp(`warning: ${inArchived - 20} journal entries lost`));
      assert.match(second.stderr, new RegExp(`source journald: .*, lost ${inArchived - 20}\\b`));
    } finally {
      await collector.close();
      await receiving;
    }
  },
});
