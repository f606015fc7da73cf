// Issue 11 item 6: an event too large to send is a counted, reported drop (emit's summary
// and exit code, a source's stats line), and the input after it still goes out.
import assert from "node:assert/strict";
import { cli, finish, gather, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const encoder = new TextEncoder();

/** `eventstorm emit --to TO` fed `lines` on stdin; its exit code and output. */
async function emitLines(to: string, lines: string[]) {
  const emit = cli(["emit", "--to", to], { stdin: "piped" });
  const writer = emit.stdin.getWriter();
  for (const line of lines) await writer.write(encoder.encode(line + "\n"));
  await writer.close();
  return await finish(emit);
}

/**
 * Emits `lines` to a collector of its own and checks what emit says (exit 1 and `summary`),
 * that the events numbered `n` arrived in order, and that the rest are counted lost.
 */
async function assertEmitDrops(lines: string[], summary: RegExp, n: number[]): Promise<void> {
  const sink = await gather({ endpoints: "@tcp://127.0.0.1:*" });
  try {
    const result = await emitLines(`>${sink.collector.boundEndpoint()}`, lines);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, summary);
    await waitFor(() => sink.events.length === n.length, "the events that fit");
    assert.deepEqual(sink.events.map((event) => event.n), n);
    // Each dropped event kept its index: the gap shows downstream as loss.
    assert.equal(sink.collector.stats().lost, lines.length - n.length);
  } finally {
    await sink.stop();
  }
}

function bigLine(bytes: number): string {
  return JSON.stringify({ type: "app.log", big: "x".repeat(bytes) });
}

Deno.test(
  "emit: 8 MB, 15 MiB and 50 MB lines are counted drops; the rest goes out",
  opts,
  () =>
    assertEmitDrops(
      [
        '{"type":"app.log","n":1}',
        ...[8_000_000, 15 * 1024 * 1024, 50_000_000].map(bigLine),
        '{"type":"app.log","n":2}',
      ],
      /2 events sent .* 3 dropped \(too large\)/,
      [1, 2],
    ),
);

Deno.test(
  "source nginx --max-line-bytes 64 MiB: a 50 MB line is a counted drop",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const sink = await gather({ endpoints: "@tcp://127.0.0.1:*" });
    try {
      const line = (path: string) =>
        `127.0.0.1 - - [03/Dec/2026:10:00:00 +0000] "GET ${path} HTTP/1.1" 200 5 "-" "curl"\n`;
      const path = `${dir}/access.log`;
      Deno.writeTextFileSync(path, line("/a") + line("/" + "b".repeat(50_000_000)) + line("/c"));
      const source = cli([
        "source",
        "nginx",
        "--file",
        path,
        "--once",
        "--no-checkpoint",
        "--max-line-bytes",
        "67108864",
        "--to",
        `>${sink.collector.boundEndpoint()}`,
      ]);
      const result = await finish(source);
      // A --once run that dropped an event says so in its exit code, as emit does.
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /events 3,.* dropped 1, of them too large or too deep 1/);
      assert.match(result.stderr, /--once: 1 event dropped unsent; exit code 1/);
      await waitFor(() => sink.events.length === 2, "the two small events");
      assert.deepEqual(sink.events.map((event) => event.path), ["/a", "/c"]);
    } finally {
      await sink.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "emit: a line holding a date no Date can hold is a counted drop, not an event of 1970",
  opts,
  () =>
    assertEmitDrops(
      [
        '{"type":"app.log","n":1}',
        '{"type":"app.log","n":2,"at":{"$date":"+275761-01-01T00:00:00Z"}}',
        '{"type":"app.log","n":3}',
      ],
      /2 events sent .* 1 dropped \(not encodable: .*invalid date\)/,
      [1, 3],
    ),
);
