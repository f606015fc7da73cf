import assert from "node:assert/strict";
import { JournaldSource } from "./source.ts";
import { JournalRouter } from "./router.ts";
import { tempDir } from "../../tests/temp.ts";
import { waitFor } from "../../tests/wait.ts";
import { GatherOutput } from "../../tests/file_events.ts";

/**
 * A journalctl that refuses any `--cursor` as journalctl 252 does a damaged one,
 * else writes one entry with a line that is no field (`BROKEN`, whose length would
 * be the next line's first 8 bytes) and, with
 * `--follow`, stays until killed.
 */
const FAKE_JOURNALCTL = `#!/bin/bash
for a in "$@"; do
  if [ "$a" = --cursor ]; then echo "Failed to seek to cursor: Invalid argument" >&2; exit 1; fi
done
printf '__CURSOR=c1\\n__REALTIME_TIMESTAMP=1765000000000000\\nSYSLOG_IDENTIFIER=app\\nMESSAGE=hello\\nBROKEN\\nLATER_FIELD=1\\n\\n'
for a in "$@"; do [ "$a" = --follow ] && exec sleep 600; done
exit 0
`;

async function fakeJournalctl(dir: string): Promise<string> {
  const path = `${dir}/journalctl`;
  await Deno.writeTextFile(path, FAKE_JOURNALCTL, { mode: 0o755 });
  return path;
}

Deno.test("a checkpoint cursor journalctl refuses is dropped with a warning, not retried forever (audit)", async () => {
  await using dir = await tempDir();
  const journalctl = await fakeJournalctl(dir.path);
  const checkpoint = `${dir.path}/cp.json`;
  await Deno.writeTextFile(
    checkpoint,
    JSON.stringify({ version: 1, sourceId: "1", positions: {}, cursor: "garbage" }),
  );
  const warnings: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => warnings.push(args.join(" "));
  const out = new GatherOutput();
  const stop = new AbortController();
  const source = new JournaldSource({
    router: new JournalRouter({ generic: true }),
    output: () => out,
    host: "here",
    fromStart: true,
    journalctl,
    checkpointPath: checkpoint,
    signal: stop.signal,
  });
  try {
    const running = source.run();
    await waitFor(() => out.events.length > 0, "the entry read without the cursor", 10_000);
    // Counted while journalctl still runs, not at its end.
    assert.equal(source.stats().badFields, 1);
    stop.abort();
    const stats = await running;
    assert.equal(stats.entries, 1);
    assert.equal(stats.badFields, 1);
    assert.equal(stats.restarts, 1);
  } finally {
    console.error = error;
  }
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(
    warnings[0],
    /cannot resume after the checkpoint's cursor \(Failed to seek to cursor: .*\); reading the whole journal/,
  );
  assert.equal(JSON.parse(await Deno.readTextFile(checkpoint)).cursor, "c1");
});

Deno.test("--once with a refused cursor reads the journal without it instead of failing (audit)", async () => {
  await using dir = await tempDir();
  const journalctl = await fakeJournalctl(dir.path);
  const checkpoint = `${dir.path}/cp.json`;
  await Deno.writeTextFile(
    checkpoint,
    JSON.stringify({ version: 1, sourceId: "1", positions: {}, cursor: "garbage" }),
  );
  const error = console.error;
  console.error = () => {};
  const out = new GatherOutput();
  try {
    const stats = await new JournaldSource({
      router: new JournalRouter({ generic: true }),
      output: () => out,
      host: "here",
      once: true,
      journalctl,
      checkpointPath: checkpoint,
    }).run();
    assert.equal(stats.entries, 1);
  } finally {
    console.error = error;
  }
  assert.equal(out.events.length, 1);
});

Deno.test("a journalctl that keeps failing is restarted with backoff, its error said once (audit)", async () => {
  await using dir = await tempDir();
  const journalctl = `${dir.path}/journalctl`;
  await Deno.writeTextFile(
    journalctl,
    '#!/bin/bash\necho "Data from the specified boot (+0) is not available" >&2\nexit 1\n',
    { mode: 0o755 },
  );
  const warnings: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => warnings.push(args.join(" "));
  const stop = new AbortController();
  const source = new JournaldSource({
    router: new JournalRouter({ generic: true }),
    output: () => new GatherOutput(),
    host: "here",
    journalctl,
    signal: stop.signal,
  });
  let restarts: number;
  try {
    const running = source.run();
    // Waits of 0.5, 1 and 2 s: the fourth run starts 3.5 s in. At a fixed 0.5 s it
    // would have been the eighth.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    stop.abort();
    restarts = (await running).restarts;
  } finally {
    console.error = error;
  }
  assert.ok(restarts >= 2 && restarts <= 3, `${restarts} restarts`);
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(warnings[0], /not available; restarting, then with backoff up to 30s/);
});

/**
 * A journalctl that writes entries of two journals, `a` missing seqnums 3 and 4 and
 * 8 to 10: what journalctl shows while following when journald vacuumed files it had
 * not read yet.
 */
const GAPPED_JOURNALCTL = `#!/bin/bash
for e in a:1 b:1 a:2 a:5 b:2 a:6 a:7 a:b b:3; do
  printf '__CURSOR=s=%s;i=%s;b=0;m=0;t=0;x=0\\n__REALTIME_TIMESTAMP=1765000000000000\\nSYSLOG_IDENTIFIER=app\\nMESSAGE=%s\\n\\n' "\${e%%:*}" "\${e##*:}" "$e"
done
`;

Deno.test("seqnums skipped while reading are counted lost per journal, only without a filter", async () => {
  await using dir = await tempDir();
  const journalctl = `${dir.path}/journalctl`;
  await Deno.writeTextFile(journalctl, GAPPED_JOURNALCTL, { mode: 0o755 });
  const read = async (filter: { units?: string[]; identifiers?: string[]; files?: string[] }) => {
    const warnings: string[] = [];
    const error = console.error;
    console.error = (...args: unknown[]) => warnings.push(args.join(" "));
    const out = new GatherOutput();
    try {
      const stats = await new JournaldSource({
        router: new JournalRouter({ generic: true }),
        output: () => out,
        host: "here",
        once: true,
        journalctl,
        ...filter,
      }).run();
      return { stats, warnings, events: out.events.length };
    } finally {
      console.error = error;
    }
  };
  const all = await read({});
  assert.equal(all.events, 9);
  assert.equal(all.stats.lost, 5);
  // Said once: the second gap came within the minute.
  assert.equal(all.warnings.length, 1, all.warnings.join("\n"));
  assert.match(
    all.warnings[0],
    /^warning: 2 journal entries lost while following: journal a went from entry 2 to 5 \(.*counted in lost, said at most once a minute\)$/,
  );
  // A filter's entries skip the seqnums of the entries it leaves out: no loss.
  for (const filter of [{ units: ["ssh.service"] }, { identifiers: ["app"] }, { files: ["x"] }]) {
    const filtered = await read(filter);
    assert.equal(filtered.stats.lost, 0, JSON.stringify(filter));
    assert.deepEqual(filtered.warnings, [], JSON.stringify(filter));
  }
});
