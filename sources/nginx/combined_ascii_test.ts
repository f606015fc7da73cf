import assert from "node:assert/strict";
import { Collector, Emitter, type Event } from "@eventstorm/core";
import { encodeBatch } from "@eventstorm/core/protocol";
import { asciiRoom, LineSource } from "@eventstorm/core/source";
import { tempDir } from "../../tests/temp.ts";
import { waitFor } from "../../tests/wait.ts";
import { nginxLog } from "../../cli/demo/nginx_lines.ts";
import { FUZZ_ITERATIONS, FUZZ_SEED, LineFuzzer, withSeed } from "../../tests/fuzz.ts";
import { nginxParser } from "./parser.ts";

const context = { path: "access.log", host: "wéb-1", readAt: new Date("2026-12-07T00:00:00Z") };
const utf8 = new TextEncoder();

/**
 * What the ASCII path writes of `line`, or undefined when it declines, after
 * checking that it writes exactly what the emitter encodes of the string parser's event.
 */
function checkedAscii(parser = nginxParser(), line: string): Uint8Array | undefined {
  const bytes = utf8.encode(` ${line}!`);
  const host = context.host;
  const out = new Uint8Array(asciiRoom(bytes.length, host, parser.ascii!.type) + 16);
  out.fill(0xee);
  const end = parser.ascii!.encode(bytes, 1, bytes.length - 1, host, out, 8);
  const events = parser.parse(line, context);
  if (end === -1) return undefined;
  assert.ok(end > 8, `${end} for ${JSON.stringify(line)}`);
  assert.ok(events?.length === 1, `the string parser declined ${JSON.stringify(line)}`);
  assert.deepEqual(out.subarray(8, end), encodeBatch(events), JSON.stringify(line));
  // Nothing written outside its document.
  assert.ok(out.subarray(0, 8).every((byte) => byte === 0xee));
  assert.ok(out.subarray(end).every((byte) => byte === 0xee));
  return out.subarray(8, end);
}

Deno.test("nginx ascii: generated combined lines are written as the emitter encodes the parsed event", () => {
  const lines = nginxLog({ seed: 11 }).lines(5000);
  let written = 0;
  for (const line of lines) if (checkedAscii(undefined, line) !== undefined) written++;
  // The generator logs some escapes and some bytes past ASCII: those go to the string parser.
  assert.ok(written > lines.length * 0.9, `${written} of ${lines.length}`);
});

Deno.test("nginx ascii: the fields present, absent or split as the string parser has them", () => {
  const time = "[17/May/2015:08:05:32 +0000]";
  const cases = [
    `1.2.3.4 - - ${time} "GET /a?b=1&c HTTP/1.1" 200 5 "-" "curl/8"`,
    `- - alice ${time} "-" - - "http://r/" "-"`,
    ` - bob ${time} "" 0 0 "" ""`,
    `::1 - - ${time} "GET /a b HTTP/2.0" 404 0 "-" "x"`,
    `::1 - - ${time} "get_x /p" 400 0 "-" "x"`,
    `::1 - - ${time} "G3T / HTTP/1" 400 0 "-" "x"`,
    `::1 - - ${time} "3GET / HTTP/1.1" 400 0 "-" "x"`,
    `::1 - - ${time} "GET  HTTP/1.1" 400 0 "-" "x"`,
    `::1 - - ${time} "GET" 400 0 "-" "x"`,
    `::1 - - ${time} " GET /" 400 0 "-" "x"`,
    `::1 - - ${time} "GET /x HTTP/1." 400 0 "-" "x"`,
    `::1 - - ${time} "GET ?q HTTP/1.1" 400 999999999 "-" "x"`,
    `::1 - - ${time} "\t\u0001" 400 0 "-" "x"`,
    `::1 - - [01/Jan/1970:00:00:00 -2359] "GET / HTTP/1.0" 200 1 "-" "x"`,
  ];
  for (const line of cases) {
    assert.notEqual(checkedAscii(undefined, line), undefined, line);
  }
  // Each a line the string parser reads another way, or not at all: declined.
  const declined = [
    `1.2.3.4 - - ${time} "GET /\\x22 HTTP/1.1" 200 5 "-" "curl/8"`,
    `1.2.3.4 - - ${time} "GET /é HTTP/1.1" 200 5 "-" "curl/8"`,
    `1.2.3.4 - - ${time} "GET / HTTP/1.1" 200 5 "-" "curl/8" "extra"`,
    `1.2.3.4 - - ${time} "GET / HTTP/1.1" 200 5 "-" "curl/8"\r`,
    `1.2.3.4 - - ${time} "GET / HTTP/1.1" 200 1234567890 "-" "curl/8"`,
    `1.2.3.4 - - ${time} "GET / HTTP/1.1" 2x0 5 "-" "curl/8"`,
    `1.2.3.4 - - [17/Foo/2015:08:05:32 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"`,
    `1.2.3.4 - - [17/May/2015:08:05:32 0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"`,
    `1.2.3.4  - - ${time} "GET / HTTP/1.1" 200 5 "-" "curl/8"`,
    `1.2.3.4 - - ${time} "GET / HTTP/1.1" 200 5 "-"`,
    "",
  ];
  for (const line of declined) assert.equal(checkedAscii(undefined, line), undefined, line);
});

Deno.test("nginx ascii: only the combined format with escape=default has the ASCII path", () => {
  assert.notEqual(nginxParser().ascii, undefined);
  assert.equal(nginxParser({ type: "web.hit" }).ascii?.type, "web.hit");
  assert.equal(nginxParser({ escape: "json" }).ascii, undefined);
  assert.equal(nginxParser({ format: '$remote_addr "$request"' }).ascii, undefined);
});

Deno.test("nginx ascii: too little room is said, not overrun", () => {
  const parser = nginxParser();
  const line = utf8.encode(nginxLog({ seed: 3 }).line());
  const out = new Uint8Array(asciiRoom(line.length, "h", "http.hit") - 1);
  assert.equal(parser.ascii!.encode(line, 0, line.length, "h", out, 0), -2);
});

Deno.test("fuzz: the nginx ascii path writes what the string parser reads, or declines", () => {
  const fuzzer = new LineFuzzer(FUZZ_SEED);
  const samples = nginxLog({ seed: FUZZ_SEED }).lines(200);
  const parser = nginxParser();
  withSeed(() => {
    for (let i = 0; i < FUZZ_ITERATIONS; i++) checkedAscii(parser, fuzzer.line(samples));
  });
});

Deno.test("nginx ascii: a file source sends the lines in order, each as the string parser reads it, declined ones too", async () => {
  await using temp = await tempDir();
  const generated = nginxLog({ seed: 5 }).lines(400);
  const time = "[17/May/2015:08:05:32 +0000]";
  const odd = [
    `1.2.3.4 - - ${time} "GET /\\x22 HTTP/1.1" 200 5 "-" "curl/8"`,
    "not an access log line",
    `1.2.3.4 - - ${time} "GET / HTTP/1.1" 200 12345678901 "-" "curl/8"`,
    `1.2.3.4 - - ${time} "GET /é HTTP/1.1" 200 5 "-" "curl/8"`,
  ];
  const lines = generated.flatMap((line, i) =>
    i % 50 === 25 ? [odd[(i - 25) / 50 % 4], line] : [line]
  );
  const path = `${temp.path}/access.log`;
  // CRLF: the follower drops the CR, so those lines still take the ASCII path.
  await Deno.writeTextFile(
    path,
    lines.map((line, i) => i % 7 === 0 ? `${line}\r\n` : `${line}\n`).join(""),
  );

  const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*" });
  const received: Event[] = [];
  const reading = (async () => {
    for await (const event of collector.events()) received.push(event);
  })();
  const emitter = await Emitter.open({ endpoints: `>${collector.boundEndpoint()}`, maxEvents: 64 });
  const parser = nginxParser();
  try {
    await waitFor(() => emitter.stats().subscriptions > 0, "the subscription", 10_000);
    const source = new LineSource({
      paths: [path],
      once: true,
      parser,
      output: emitter,
      host: "web1",
      hostOverride: "front",
      unparsedType: "nginx.unparsed",
    });
    const stats = await source.run();
    await waitFor(() => received.length === lines.length, "every event", 10_000);
    assert.equal(stats.events, lines.length);
    assert.equal(stats.linesUnparsed, odd.filter((line) => line.startsWith("not")).length * 2);
    // In order within each type: each type is its own stream, batched apart.
    const hits = received.filter((event) => event.type === "http.hit");
    const unparsed = received.filter((event) => event.type === "nginx.unparsed");
    const expectedHits = lines.flatMap((line) =>
      parser.parse(line, { ...context, host: "front" }) ?? []
    );
    assert.equal(hits.length, expectedHits.length);
    for (const [i, hit] of hits.entries()) assert.deepEqual(hit, expectedHits[i]);
    assert.deepEqual(
      unparsed.map(({ line, host }) => ({ line, host })),
      lines.filter((line) => parser.parse(line, context) === undefined)
        .map((line) => ({ line, host: "front" })),
    );
    assert.equal(collector.stats().lost, 0);
  } finally {
    await emitter.close();
    await collector.close();
    await reading;
  }
});

Deno.test("fuzz: combined lines of random fields, the ASCII path writes what the string parser reads", () => {
  const fuzzer = new LineFuzzer(FUZZ_SEED);
  const parser = nginxParser();
  const pick = <T>(items: readonly T[]) => fuzzer.pick(items);
  // Now and then (one pick in 30) something the ASCII path leaves to the string parser.
  const rarely = <T>(usual: T, odd: readonly T[]) => fuzzer.int(30) === 0 ? pick(odd) : usual;
  const token = () =>
    Array.from(
      { length: fuzzer.int(6) },
      () =>
        rarely(
          pick(["a", "Z", "0", "9", "-", "_", ".", ":", "/", "?", "\t", "\x01", "HTTP/", "1.1"]),
          [
            "é",
            "\\x22",
          ],
        ),
    ).join("");
  const text = () =>
    Array.from({ length: fuzzer.int(8) }, () => pick([token(), " ", "  ", "?", "-"])).join("");
  const number = () =>
    rarely(pick(["-", "", "0", "007", "2147483647", "999999999", String(fuzzer.int(600))]), [
      "1234567890",
      "12a",
    ]);
  const time = () =>
    rarely(
      pick([
        "17/May/2015:08:05:32 +0000",
        "01/Jan/1970:00:00:00 -2359",
        "31/Dec/9999:23:59:59 +2359",
      ]),
      [
        "32/Foo/2015:08:05:32 +0000",
        "17/May/2015:08:05:32 0000",
        "17/may/2015:08:05:32 +0000",
      ],
    );
  const request = () =>
    pick([
      `${pick(["GET", "get", "PROPFIND", "G3T", "3GET", "M-SEARCH", ""])} ${text()} ${
        pick(["HTTP/1.1", "HTTP/2.0", "HTTP/1", "HTTP/1.", "HTTP/", "http/1.1", ""])
      }`,
      text(),
      "-",
      "",
    ]);
  let accepted = 0;
  withSeed(() => {
    for (let i = 0; i < FUZZ_ITERATIONS; i++) {
      const line = `${pick([token(), "-", ""])} - ${
        pick([token(), "-", ""])
      } [${time()}] "${request()}" ${number()} ${number()} "${pick([text(), "-"])}" "${
        pick([text(), "-"])
      }"`;
      if (checkedAscii(parser, line) !== undefined) accepted++;
    }
  });
  // Most such lines are ones the ASCII path takes: the comparison above is not idle.
  assert.ok(accepted > FUZZ_ITERATIONS / 4, `${accepted} of ${FUZZ_ITERATIONS}`);
});
