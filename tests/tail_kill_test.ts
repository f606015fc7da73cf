/**
 * Acceptance test of the file follower and its checkpoints: a writer appends
 * numbered lines and rotates the log over and over (rename-and-create and
 * copytruncate, alternating) while the source reading it is SIGKILLed at random
 * moments and restarted. After a receiver's dedup (drop records whose stream
 * index was already seen), every line written must be there exactly once, in
 * the order written, with no gap in the stream.
 */
import assert from "node:assert/strict";

const SOURCE = new URL("./testdata/tail_kill_source.ts", import.meta.url).pathname;
const KILLS = 16;
const GENERATIONS = 40;
const PAD = "x".repeat(60);

interface Record {
  source: string;
  topic: string;
  index: number;
  line: string;
}

/** Appends numbered lines in small bursts and rotates every ~250 ms. */
class Writer {
  written = 0;
  rotations = 0;
  #stop = false;
  #done: Promise<void>;
  #file: Deno.FsFile;

  constructor(readonly log: string) {
    this.#file = Deno.openSync(log, { append: true, create: true });
    this.#done = this.#run();
  }

  async #run(): Promise<void> {
    const encoder = new TextEncoder();
    let nextRotation = Date.now() + 250;
    while (!this.#stop) {
      let burst = "";
      for (let i = 0; i < 10; i++) burst += `L${this.written++} ${PAD}\n`;
      this.#file.writeSync(encoder.encode(burst));
      if (Date.now() >= nextRotation) {
        this.#rotate();
        nextRotation = Date.now() + 150 + Math.random() * 200;
      }
      await new Promise((r) => setTimeout(r, 4));
    }
    this.#file.close();
  }

  #rotate(): void {
    const log = this.log;
    try {
      Deno.removeSync(`${log}.${GENERATIONS}`);
    } catch {
      // Not that many generations yet.
    }
    for (let g = GENERATIONS - 1; g >= 1; g--) {
      try {
        Deno.renameSync(`${log}.${g}`, `${log}.${g + 1}`);
      } catch {
        // Missing generation.
      }
    }
    if (this.rotations++ % 2 === 0) {
      this.#file.close();
      Deno.renameSync(log, `${log}.1`);
      this.#file = Deno.openSync(log, { append: true, create: true });
    } else {
      // copytruncate: the writer keeps its (append-mode) handle.
      Deno.copyFileSync(log, `${log}.1`);
      Deno.truncateSync(log, 0);
    }
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }
}

function startSource(dir: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-check",
      SOURCE,
      `${dir}/app.log`,
      `${dir}/result.jsonl`,
      `${dir}/cp.json`,
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readRecords(path: string): { records: Record[]; torn: number } {
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return { records: [], torn: 0 };
  }
  const records: Record[] = [];
  let torn = 0;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    try {
      records.push(JSON.parse(line));
    } catch {
      torn++;
    }
  }
  return { records, torn };
}

/** A receiver: per stream, the expected index is new, a lower one is a replay. */
function receive(records: Record[]) {
  const expected = new Map<string, number>();
  const accepted: Record[] = [];
  let replays = 0;
  let gaps = 0;
  for (const r of records) {
    const key = `${r.source}/${r.topic}`;
    const next = expected.get(key) ?? 0;
    if (r.index < next) {
      replays++;
      continue;
    }
    gaps += r.index - next;
    expected.set(key, r.index + 1);
    accepted.push(r);
  }
  return { accepted, replays, gaps, streams: expected.size };
}

Deno.test("SIGKILLed source under rotation: every line exactly once, in order", async () => {
  const started = Date.now();
  const dir = await Deno.makeTempDir();
  // The source runs (and has its first checkpoint) before any line is written:
  // lines rotated away before a source ever saw the file cannot be known.
  Deno.writeTextFileSync(`${dir}/app.log`, "");
  let child = startSource(dir);
  const deadline = Date.now() + 20_000;
  while (!exists(`${dir}/cp.json`)) {
    if (Date.now() > deadline) throw new Error("the source wrote no checkpoint");
    await new Promise((r) => setTimeout(r, 20));
  }
  const writer = new Writer(`${dir}/app.log`);
  let kills = 0;
  try {
    for (; kills < KILLS; kills++) {
      if (kills > 0) child = startSource(dir);
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 900));
      child.kill("SIGKILL");
      await child.status;
      // Down for a while now and then: rotations happen while nobody reads.
      if (kills % 2 === 1) await new Promise((r) => setTimeout(r, Math.random() * 700));
    }
  } finally {
    await writer.stop();
  }
  const written = writer.written;
  child = startSource(dir);
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { accepted } = receive(readRecords(`${dir}/result.jsonl`).records);
      if (accepted.length >= written) break;
      if (Date.now() > deadline) {
        throw new Error(`only ${accepted.length} of ${written} lines arrived`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // Let it settle: anything arriving after the last line would be a duplicate.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
  const { records, torn } = readRecords(`${dir}/result.jsonl`);
  const { accepted, replays, gaps, streams } = receive(records);
  console.log(
    `${dir}: ${written} lines, ${writer.rotations} rotations, ${kills} kills, ${records.length} records ` +
      `(${replays} replays dropped, ${torn} torn), ${Date.now() - started} ms`,
  );
  assert.equal(streams, 1, "one stream: the stream id survives restarts");
  assert.equal(gaps, 0, "no gap in the stream");
  assert.ok(torn <= kills);
  const expected = Array.from({ length: written }, (_, i) => `L${i} ${PAD}`);
  const got = accepted.map((r) => r.line);
  if (got.length !== expected.length || got.some((line, i) => line !== expected[i])) {
    const first = got.findIndex((line, i) => line !== expected[i]);
    assert.fail(
      `lines differ from index ${first}: got ${JSON.stringify(got.slice(first, first + 5))}, ` +
        `expected ${JSON.stringify(expected.slice(first, first + 5))} ` +
        `(${got.length} got, ${expected.length} written)`,
    );
  }
  // Kept when an assertion fails, for a look at the rotated files and the records.
  await Deno.remove(dir, { recursive: true });
});
