import assert from "node:assert/strict";
import { tempDir } from "../tests/temp.ts";
import { fromJsonLine } from "./json.ts";
import { type Event, localHostname } from "./event.ts";
import { UsageError } from "./flags.ts";
import type { AsciiEncoder, LineParser } from "./line_parser.ts";
import {
  type LineSourceCheckpoint,
  type LineSourceOptions,
  type OutputResume,
  runLineSource,
} from "./line_source.ts";
import type { EventOutput } from "./output.ts";
import { PrintOutput } from "./print_output.ts";
import { defaultCheckpointPath } from "./source_cli.ts";

interface Sent {
  source: bigint;
  topic: string;
  index: number;
  event: Event;
}

/** Numbers events per topic like the network output, and records them. */
class MemoryOutput implements EventOutput {
  readonly sourceId: bigint;
  readonly #positions: Map<string, number>;
  readonly sent: Sent[] = [];
  flushes = 0;
  closed = false;
  onSend?: (sent: Sent) => void;

  constructor(resume: OutputResume = {}, log?: Sent[]) {
    this.sourceId = resume.sourceId ?? BigInt(Math.floor(Math.random() * 1e15) + 1);
    this.#positions = new Map(Object.entries(resume.positions ?? {}));
    if (log) this.sent = log;
  }

  send(event: Event): void {
    const index = this.#positions.get(event.type) ?? 0;
    this.#positions.set(event.type, index + 1);
    const sent = { source: this.sourceId, topic: event.type, index, event };
    this.sent.push(sent);
    this.onSend?.(sent);
  }
  flush(): Promise<void> {
    this.flushes++;
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  positions(): Record<string, number> {
    return Object.fromEntries(this.#positions);
  }
}

/** What a receiver keeps: per stream, index == expected is new, below is a replay. */
function receive(log: Sent[]): { accepted: Sent[]; replays: number; gaps: number } {
  const expected = new Map<string, number>();
  const accepted: Sent[] = [];
  let replays = 0;
  let gaps = 0;
  for (const sent of log) {
    const key = `${sent.source}/${sent.topic}`;
    const next = expected.get(key) ?? 0;
    if (sent.index < next) {
      replays++;
      continue;
    }
    if (sent.index > next) gaps += sent.index - next;
    expected.set(key, sent.index + 1);
    accepted.push(sent);
  }
  return { accepted, replays, gaps };
}

const wordParser: LineParser = {
  parse(line, ctx) {
    if (line.startsWith("#")) return [];
    if (line === "boom") throw new Error("parser bug");
    if (!/^\w/.test(line)) return undefined;
    return [{ type: "test.word", time: ctx.readAt, host: ctx.host, word: line }];
  },
};

/**
 * Counts lines per word prefix across lines (state kept in the checkpoint) and
 * reports the count when it sees "flush".
 */
function countingParser(): LineParser<{ count: number }> {
  let count = 0;
  return {
    parse(line, ctx) {
      if (line === "flush") {
        const event = { type: "test.count", time: ctx.readAt, host: ctx.host, count };
        count = 0;
        return [event];
      }
      count++;
      return [{ type: "test.line", time: ctx.readAt, host: ctx.host, line }];
    },
    end: () => {
      const event = { type: "test.end", time: new Date(), host: "h", count };
      count = 0;
      return [event];
    },
    snapshot: () => ({ count }),
    restore: (state) => {
      count = state.count;
    },
  };
}

/** A temporary directory holding `app.log`; `await using` removes it. */
async function tempLog(
  content: string,
): Promise<{ dir: string; log: string } & AsyncDisposable> {
  const temp = await tempDir();
  const log = `${temp.path}/app.log`;
  await Deno.writeTextFile(log, content);
  return { dir: temp.path, log, [Symbol.asyncDispose]: () => temp[Symbol.asyncDispose]() };
}

Deno.test("lines become events; unparsed and throwing lines are counted and sent as unparsed", async () => {
  await using temp = await tempLog("alpha\n# comment\n  indented\nboom\nbeta\n");
  const { log } = temp;
  const output = new MemoryOutput();
  const stats = await runLineSource({
    paths: [log],
    once: true,
    parser: wordParser,
    output,
    host: "web1",
    unparsedType: "test.unparsed",
  });
  assert.deepEqual(
    output.sent.map((s) => [s.topic, s.event.word ?? s.event.line]),
    [
      ["test.word", "alpha"],
      ["test.unparsed", "  indented"],
      ["test.unparsed", "boom"],
      ["test.word", "beta"],
    ],
  );
  const unparsed = output.sent[1].event;
  assert.equal(unparsed.host, "web1");
  assert.equal(unparsed.path, log);
  assert.ok(unparsed.time instanceof Date);
  assert.equal(stats.linesRead, 5);
  assert.equal(stats.linesUnparsed, 2);
  assert.equal(stats.parserErrors, 1);
  assert.equal(stats.events, 4);
  assert.ok(output.closed);
});

/** Takes encoded events: what the parser's ASCII encoder accepts is recorded as its line. */
class EncodingOutput extends MemoryOutput {
  readonly #out = new Uint8Array(64 * 1024);

  sendAscii(
    encoder: AsciiEncoder,
    bytes: Uint8Array,
    start: number,
    end: number,
    host: string,
  ): boolean {
    if (encoder.encode(bytes, start, end, host, this.#out, 0) < 0) return false;
    const line = String.fromCharCode(...bytes.subarray(start, end));
    this.send({ type: encoder.type, time: new Date(0), host, word: line, ascii: true });
    return true;
  }
}

Deno.test("an ASCII encoder reads each line's bytes; what it declines, bytes past ASCII too, goes to parse", async () => {
  await using temp = await tempDir();
  const log = `${temp.path}/app.log`;
  await Deno.writeFile(
    log,
    new Uint8Array([
      ...new TextEncoder().encode("alpha\r\nwé\ndecline me\n"),
      ...[0x77, 0xff, 0x0a], // invalid UTF-8
      ...new TextEncoder().encode("beta"),
    ]),
  );
  const parser: LineParser = {
    ...wordParser,
    ascii: {
      type: "test.word",
      encode(bytes, start, end, _host, _out, at) {
        for (let i = start; i < end; i++) if (bytes[i] >= 0x80) return -1;
        return bytes[start] === 0x64 ? -1 : at + 5; // declines lines starting with "d"
      },
    },
  };
  const output = new EncodingOutput();
  const stats = await runLineSource({ paths: [log], once: true, parser, output, host: "web1" });
  assert.deepEqual(
    output.sent.map((s) => [s.event.word, s.event.ascii === true]),
    [["alpha", true], ["wé", false], ["decline me", false], ["w\ufffd", false], ["beta", true]],
  );
  assert.ok(output.sent.every((s) => s.event.host === "web1" && s.topic === "test.word"));
  assert.equal(stats.events, 5);
  assert.equal(stats.linesUnparsed, 0);
});

Deno.test("without unparsedType unparsed lines are counted, not sent; bad events are rejected", async () => {
  await using temp = await tempLog("ok\n?\nbad\n");
  const { log } = temp;
  const output = new MemoryOutput();
  const stats = await runLineSource({
    paths: [log],
    once: true,
    parser: {
      parse: (line, ctx) =>
        line === "bad"
          ? [{ type: "Not A Type", time: ctx.readAt, host: ctx.host }]
          : wordParser.parse(line, ctx),
    },
    output,
  });
  assert.deepEqual(output.sent.map((s) => s.event.word), ["ok"]);
  assert.equal(stats.linesUnparsed, 1);
  assert.equal(stats.eventsRejected, 1);
});

Deno.test("once: parser.end() events are sent; the checkpoint holds files, positions and parser state", async () => {
  await using temp = await tempLog("a\nb\nflush\nc\n");
  const { dir, log } = temp;
  const output = new MemoryOutput();
  const checkpointPath = `${dir}/cp.json`;
  await runLineSource({
    paths: [log],
    once: true,
    parser: countingParser(),
    output: () => output,
    checkpointPath,
  });
  assert.deepEqual(output.sent.map((s) => s.topic), [
    "test.line",
    "test.line",
    "test.count",
    "test.line",
    "test.end",
  ]);
  assert.equal(output.sent.at(-1)!.event.count, 1);
  const saved = JSON.parse(await Deno.readTextFile(checkpointPath)) as LineSourceCheckpoint;
  assert.equal(saved.version, 1);
  assert.equal(saved.sourceId, output.sourceId.toString());
  assert.deepEqual(saved.positions, { "test.line": 3, "test.count": 1, "test.end": 1 });
  assert.deepEqual(saved.parser, { count: 0 });
  assert.equal(saved.files.length, 1);
  assert.equal(saved.files[0].offset, "a\nb\nflush\nc\n".length);
  assert.equal(saved.files[0].path, log);
});

Deno.test("restart from a checkpoint older than what was sent: receivers end with every line once", async () => {
  await using temp = await tempLog("");
  const { dir, log } = temp;
  const checkpointPath = `${dir}/cp.json`;
  const crashCopy = `${dir}/crash.json`;
  const lines = Array.from({ length: 3000 }, (_, i) => (i % 100 === 99 ? "flush" : `line${i}`));
  await Deno.writeTextFile(log, lines.map((l) => l + "\n").join(""));
  const log1: Sent[] = [];
  // First run: at some event, keep a copy of the checkpoint as it was then, as a
  // crash would have left it; everything sent after it will be sent again.
  const controller = new AbortController();
  const first = runLineSource({
    paths: [log],
    fromStart: true,
    pollIntervalMs: 10,
    maxBatchLines: 50,
    checkpointIntervalMs: 0,
    parser: countingParser(),
    checkpointPath,
    signal: controller.signal,
    output: (resume) => {
      const out = new MemoryOutput(resume, log1);
      out.onSend = () => {
        if (log1.length === 1234) Deno.copyFileSync(checkpointPath, crashCopy);
        if (log1.length === 2000) controller.abort();
      };
      return out;
    },
  });
  await first;
  const crashed = JSON.parse(Deno.readTextFileSync(crashCopy)) as LineSourceCheckpoint;
  const replayFrom = Object.values(crashed.positions).reduce((a, b) => a + b, 0);
  assert.ok(replayFrom > 0 && replayFrom < 1234, `checkpoint copy at ${replayFrom} events`);
  Deno.copyFileSync(crashCopy, checkpointPath);
  await Deno.writeTextFile(log, "more1\nflush\n", { append: true });
  const log2: Sent[] = [];
  await runLineSource({
    paths: [log],
    once: true,
    parser: countingParser(),
    checkpointPath,
    output: (resume) => new MemoryOutput(resume, log2),
  });
  // The second run re-sent exactly what the first sent after the checkpoint copy.
  const sentBefore = log1.slice(replayFrom);
  assert.deepEqual(
    log2.slice(0, sentBefore.length).map((
      s,
    ) => [s.source, s.topic, s.index, s.event.line ?? s.event.count]),
    sentBefore.map((s) => [s.source, s.topic, s.index, s.event.line ?? s.event.count]),
  );
  const { accepted, replays, gaps } = receive([...log1, ...log2]);
  assert.equal(gaps, 0);
  assert.equal(replays, sentBefore.length);
  const got = accepted.filter((s) => s.topic === "test.line").map((s) => s.event.line);
  assert.deepEqual(got, [...lines.filter((l) => l !== "flush"), "more1"]);
  // Counts per "flush" are right although a restart happened inside a group.
  const counts = accepted.filter((s) => s.topic === "test.count").map((s) => s.event.count);
  assert.deepEqual(counts, [...Array(30).fill(99), 1]);
});

Deno.test("stops on abort, flushing and checkpointing; tick() events are sent", async () => {
  await using temp = await tempLog("");
  const { dir, log } = temp;
  let ticks = 0;
  const output = new MemoryOutput();
  const controller = new AbortController();
  const running = runLineSource({
    paths: [log],
    pollIntervalMs: 10,
    tickIntervalMs: 20,
    checkpointPath: `${dir}/cp.json`,
    parser: {
      parse: (line, ctx) => [{ type: "test.line", time: ctx.readAt, host: ctx.host, line }],
      tick: (now) => (ticks++ === 2 ? [{ type: "test.tick", time: now, host: "h" }] : []),
    },
    output: () => output,
    signal: controller.signal,
  });
  await new Promise((r) => setTimeout(r, 50));
  await Deno.writeTextFile(log, "x\n", { append: true });
  const deadline = Date.now() + 10_000;
  while ((output.sent.length < 2 || ticks < 3) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  controller.abort();
  const stats = await running;
  assert.deepEqual(output.sent.map((s) => s.topic).sort(), ["test.line", "test.tick"]);
  assert.ok(output.closed);
  assert.ok(stats.checkpoints >= 2);
  const saved = JSON.parse(await Deno.readTextFile(`${dir}/cp.json`)) as LineSourceCheckpoint;
  assert.equal(saved.files[0].offset, 2);
  assert.deepEqual(saved.positions, { "test.line": 1, "test.tick": 1 });
});

Deno.test("a damaged checkpoint is a UsageError naming it", async () => {
  await using temp = await tempLog("a\n");
  const { dir, log } = temp;
  const options: LineSourceOptions = {
    paths: [log],
    once: true,
    parser: wordParser,
    output: new MemoryOutput(),
    checkpointPath: `${dir}/cp.json`,
  };
  await Deno.writeTextFile(`${dir}/cp.json`, "{not json");
  await assert.rejects(
    () => runLineSource(options),
    (e) => e instanceof UsageError && e.message.includes("cp.json"),
  );
  await Deno.writeTextFile(`${dir}/cp.json`, '{"version": 7}');
  await assert.rejects(() => runLineSource(options), UsageError);
});

Deno.test("PrintOutput writes one JSON line per event and numbers topics", async () => {
  await using temp = await tempLog("alpha\nbeta\n");
  const { log } = temp;
  const chunks: Uint8Array[] = [];
  const writer = new WritableStream<Uint8Array>({ write: (chunk) => void chunks.push(chunk) });
  let output: PrintOutput | undefined;
  await runLineSource({
    paths: [log],
    once: true,
    parser: wordParser,
    output: (resume) => (output = new PrintOutput({ ...resume, writer })),
  });
  const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  const events = text.trimEnd().split("\n").map(fromJsonLine);
  assert.deepEqual(events.map((e) => e.word), ["alpha", "beta"]);
  assert.ok(events[0].time instanceof Date);
  assert.deepEqual(output!.positions(), { "test.word": 2 });
});

const APP_SOURCE = new URL("./testdata/app_source.ts", import.meta.url).pathname;

async function appSource(args: string[], env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", APP_SOURCE, ...args],
    env,
  }).output();
  return {
    code,
    stdout: new TextDecoder().decode(stdout),
    stderr: new TextDecoder().decode(stderr),
  };
}

Deno.test("CLI: --once --print prints events, --unparsed sends the rest, flags reach the parser", async () => {
  await using temp = await tempLog("");
  const { dir } = temp;
  await Deno.writeTextFile(`${dir}/a.log`, "hello\n123\n@web3 named\n");
  await Deno.writeFile(
    `${dir}/b.log.gz`,
    new Uint8Array(
      await new Response(
        ReadableStream.from([new TextEncoder().encode("zipped\n")]).pipeThrough(
          new CompressionStream("gzip"),
        ),
      ).arrayBuffer(),
    ),
  );
  const result = await appSource([
    "--file",
    `${dir}/*.log*`,
    "--once",
    "--print",
    "--unparsed",
    "--host",
    "web9",
    "--tag",
    "t1",
    "--stats-interval",
    "0s",
  ]);
  assert.equal(result.code, 0, result.stderr);
  const events = result.stdout.trimEnd().split("\n").map(fromJsonLine);
  assert.deepEqual(
    events.map((e) => [e.type, e.line, e.tag, e.host]).sort(),
    [
      ["app.line", "@web3 named", "t1", "web9"], // --host overrides the line's own
      ["app.line", "hello", "t1", "web9"],
      ["app.line", "zipped", "t1", "web9"],
      ["app.unparsed", "123", undefined, "web9"],
    ],
  );
  // Bytes of text read: 22 in a.log, 7 unzipped from b.log.gz.
  assert.match(result.stderr, /source app: .*lines 4 \(29B\), events 4, unparsed 1/);
  const own = await appSource(["--file", `${dir}/a.log`, "--once", "--print"]);
  assert.equal(own.code, 0, own.stderr);
  const hosts = own.stdout.trimEnd().split("\n").map((line) => fromJsonLine(line).host);
  assert.deepEqual(hosts, [localHostname(), "web3"], "without --host, the line's host");
});

Deno.test("CLI: usage errors exit 2 with one line", async () => {
  const missing = await appSource(["--print"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--file is required/);
  const nothing = await appSource(["--file", "/nonexistent/*.log", "--once", "--print"]);
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /no file matches/);
  const badSize = await appSource(["--file", "x.log", "--max-line-bytes", "lots"]);
  assert.equal(badSize.code, 2);
  assert.match(badSize.stderr, /--max-line-bytes/);
  await using temp = await tempLog("hello\n");
  const { dir } = temp;
  const badEndpoint = await appSource([
    "--file",
    `${dir}/*.log`,
    "--once",
    "--print",
    "--to",
    "bogus",
  ]);
  assert.equal(badEndpoint.code, 2);
  assert.match(badEndpoint.stderr, /invalid endpoint 'bogus'/);
  await Deno.writeTextFile(`${dir}/state.json`, "{not json");
  const damaged = await appSource([
    "--file",
    `${dir}/*.log`,
    "--once",
    "--print",
    "--checkpoint",
    `${dir}/state.json`,
  ]);
  assert.equal(damaged.code, 2);
  assert.match(damaged.stderr, /state\.json is unreadable/);
  for (const result of [missing, nothing, badSize, badEndpoint, damaged]) {
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
  }
});

Deno.test("CLI: default checkpoint under XDG_STATE_HOME, named by source and files; --once resumes", async () => {
  await using temp = await tempLog("");
  const { dir } = temp;
  const state = `${dir}/state`;
  await Deno.writeTextFile(`${dir}/a.log`, "one\n");
  Deno.env.set("XDG_STATE_HOME", state);
  let path: string;
  try {
    path = defaultCheckpointPath("app", [`${dir}/a.log`]);
    assert.ok(path.startsWith(`${state}/eventstorm/app-`), path);
    assert.equal(defaultCheckpointPath("app", [`${dir}/x/../a.log`]), path);
    assert.notEqual(defaultCheckpointPath("app", [`${dir}/b.log`]), path);
    assert.notEqual(defaultCheckpointPath("other", [`${dir}/a.log`]), path);
  } finally {
    Deno.env.delete("XDG_STATE_HOME");
  }
  // --print keeps no checkpoint unless one is named.
  const args = ["--file", `${dir}/a.log`, "--once", "--print", "--checkpoint", path];
  const first = await appSource(args);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(first.stdout.trim().split("\n").map((l) => fromJsonLine(l).line), ["one"]);
  await Deno.writeTextFile(`${dir}/a.log`, "two\n", { append: true });
  const second = await appSource(args);
  assert.deepEqual(second.stdout.trim().split("\n").map((l) => fromJsonLine(l).line), ["two"]);
  const saved = JSON.parse(await Deno.readTextFile(path)) as LineSourceCheckpoint;
  assert.deepEqual(saved.positions, { "app.line": 2 });
});
