/**
 * nginx parser throughput: generates a `combined` log (1,000,000 lines by default),
 * then measures parse-only lines per second on one core, lines to BSON by the combined
 * format's ASCII path and by parse + encode, the whole source (`eventstorm
 * source nginx --once`, a process of its own: file → parse → batched events on the
 * wire, counted by a collector here), and goaccess on the same file for comparison.
 *
 *   deno run -A bench/nginx_bench.ts [--lines N] [--rounds N] [--keep]
 *
 * @module
 */
import { benchArgs } from "./args.ts";
import { join } from "node:path";
import { BatchEncoder } from "../core/codec.ts";
import { asciiRoom } from "@eventstorm/core/source";
import { nginxParser } from "@eventstorm/source-nginx";
import { nginxLog } from "../cli/demo/nginx_lines.ts";
import { sourceToWire, type SourceWireResult } from "./source_wire.ts";
import { verdict } from "./verdict.ts";

const args = benchArgs("deno run -A bench/nginx_bench.ts [--lines N] [--rounds N] [--keep]", {
  options: {
    lines: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "3" },
    keep: { type: "boolean", default: false },
  },
});
const count = Number(args.values.lines);
const rounds = Math.max(1, Number(args.values.rounds));
if (!Number.isInteger(count) || count < 1) {
  console.error("--lines must be a positive whole number");
  Deno.exit(2);
}

/** Lines a second the parser alone must reach, and the whole source. */
const PARSE_TARGET = 1_000_000;
const SOURCE_TARGET = 300_000;

function rate(lines: number, millis: number): string {
  return `${Math.round((lines / millis) * 1000).toLocaleString("en-US")} lines/s`;
}

const dir = await Deno.makeTempDir({ prefix: "nginx_bench_" });
try {
  const path = join(dir, "access.log");
  let started = performance.now();
  await nginxLog({ seed: 42 }).writeFile(path, count);
  const size = (await Deno.stat(path)).size;
  console.log(
    `generated ${count.toLocaleString("en-US")} combined lines, ${(size / 1e6).toFixed(1)} MB ` +
      `in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  // First, while this process holds little (its collector must keep up): the
  // whole source as a user runs it: its own process, the file read from disk,
  // events batched onto the wire. Timed from spawn (startup included) until the
  // collector here has counted every event; bodies stay undecoded on this side.
  // Best of the rounds, like parse-only below: a noisy machine only ever slows a run.
  let bestWire: SourceWireResult | undefined;
  for (let round = 1; round <= rounds; round++) {
    const wire = await sourceToWire("nginx", path);
    console.log(
      `source file → wire round ${round} (own process, startup included): ${
        rate(wire.received, wire.millis)
      }, ${wire.received.toLocaleString("en-US")} events, lost ${wire.lost}`,
    );
    if (bestWire === undefined || wire.millis < bestWire.millis) bestWire = wire;
  }
  const sourceMillis = bestWire!.millis;
  console.log(
    `source best: ${rate(count, sourceMillis)}; target ≥ ${
      SOURCE_TARGET.toLocaleString("en-US")
    } ` +
      `lines/s with 0 lost: ${
        verdict(
          (count / sourceMillis) * 1000 >= SOURCE_TARGET && bestWire!.lost === 0 &&
            bestWire!.received === count,
        )
      }; its own line: ${bestWire!.statsLine}`,
  );

  started = performance.now();
  const text = await Deno.readTextFile(path);
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  console.log(`read + split: ${rate(lines.length, performance.now() - started)}`);

  // Parse-only: the lines are in memory, so this is the parser alone on one core.
  const parser = nginxParser();
  const context = { path, host: "bench", readAt: new Date() };
  const parseAll = (): { parsed: number; millis: number } => {
    const start = performance.now();
    let parsed = 0;
    for (let i = 0; i < lines.length; i++) {
      if (parser.parse(lines[i], context) !== undefined) parsed++;
    }
    return { parsed, millis: performance.now() - start };
  };
  let best = Infinity;
  for (let round = 0; round < rounds; round++) {
    const { parsed, millis } = parseAll();
    if (parsed !== lines.length) {
      throw new Error(
        `parsed ${parsed} of ${lines.length} lines: the parser rejects generated lines`,
      );
    }
    best = Math.min(best, millis);
    console.log(`parse-only round ${round + 1}: ${rate(parsed, millis)}`);
  }
  console.log(
    `parse-only best: ${rate(lines.length, best)} (${(best / 1000).toFixed(2)} s); target ≥ ` +
      `${PARSE_TARGET.toLocaleString("en-US")} lines/s: ${
        verdict((lines.length / best) * 1000 >= PARSE_TARGET)
      }`,
  );

  // Lines to BSON, as the source sends them: the combined format's ASCII path, against
  // parsing the string and encoding the event (what the source does with other lines).
  const bytes = await Deno.readFile(path);
  const ascii = parser.ascii!;
  const out = new Uint8Array(asciiRoom(64 * 1024, context.host, ascii.type) + 1024 * 1024);
  const encoder = new BatchEncoder();
  const toBson = (viaAscii: boolean): number => {
    const start = performance.now();
    let at = 0, from = 0;
    for (const line of lines) {
      const end = bytes.indexOf(10, from);
      if (at > 1024 * 1024) at = 0;
      // The lines it declines (escapes, bytes past ASCII) go the string's way, as in the source.
      const next = viaAscii ? ascii.encode(bytes, from, end, context.host, out, at) : -1;
      if (next > 0) at = next;
      else {
        encoder.add(parser.parse(line, context)![0]);
        if (encoder.count >= 1000) encoder.lend();
      }
      from = end + 1;
    }
    return performance.now() - start;
  };
  const [asciiBest, stringBest] = [true, false].map((viaAscii) =>
    Math.min(...Array.from({ length: rounds }, () => toBson(viaAscii)))
  );
  console.log(
    `to BSON, best of ${rounds}: ASCII path ${rate(lines.length, asciiBest)}, parse + encode ${
      rate(lines.length, stringBest)
    }; ratio ${(stringBest / asciiBest).toFixed(2)}`,
  );

  const goaccess = await new Deno.Command("bash", { args: ["-c", "command -v goaccess"] })
    .output();
  if (!goaccess.success) {
    console.log(
      "goaccess: not installed (scripts/nginx.sh install); the target faster than goaccess is not measured",
    );
  } else {
    started = performance.now();
    const out = await new Deno.Command("goaccess", {
      args: [path, "--log-format=COMBINED", "--no-global-config", "-o", join(dir, "report.json")],
      stdout: "null",
      stderr: "piped",
    }).output();
    const millis = performance.now() - started;
    if (!out.success) {
      console.log(`goaccess failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    } else {
      console.log(
        `goaccess (full report, wall time): ${(millis / 1000).toFixed(2)} s, ${
          rate(count, millis)
        }`,
      );
      console.log(
        `ratio: the whole source (best round) is ${
          (millis / sourceMillis).toFixed(1)
        }x goaccess's speed on the same file; target faster than goaccess: ${
          verdict(sourceMillis < millis)
        }`,
      );
    }
  }
} finally {
  if (args.values.keep) console.log(`kept ${dir}`);
  else await Deno.remove(dir, { recursive: true });
}
