import assert from "node:assert/strict";
import { mulberry32 } from "@eventstorm/core/internal";
import { FUZZ_SEED, withSeed } from "../../tests/fuzz.ts";
import { SyslogFramer } from "./framing.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function frame(input: string, chunk = Infinity, max?: number): { out: string[]; f: SyslogFramer } {
  const f = new SyslogFramer(max);
  const bytes = enc.encode(input);
  const out: string[] = [];
  const step = Math.min(chunk, bytes.length || 1);
  for (let i = 0; i < bytes.length; i += step) {
    out.push(...f.push(bytes.subarray(i, i + step)).map((m) => dec.decode(m)));
  }
  out.push(...f.end().map((m) => dec.decode(m)));
  return { out, f };
}

Deno.test("octet counting and LF framing mixed, split at every byte", () => {
  const msgs = ["<13>Dec  3 06:00:00 h a: one", "<13>Dec  3 06:00:00 h a: two\nwith LF"];
  const input = `${enc.encode(msgs[0]).length} ${msgs[0]}` +
    `${enc.encode(msgs[1]).length} ${msgs[1]}<14>plain line\r\n\n<15>last`;
  for (const chunk of [1, 2, 3, 7, Infinity]) {
    const { out, f } = frame(input, chunk);
    assert.deepEqual(out, [...msgs, "<14>plain line", "<15>last"], `chunk ${chunk}`);
    assert.equal(f.stats.messages, 4);
  }
});

Deno.test("a line starting with a year is LF framed, not taken for an octet count", () => {
  const f = new SyslogFramer();
  const out = f.push(enc.encode("2013 Jun 10 06:27:30.123 h postfix/smtpd[1]: x\n"));
  assert.deepEqual(out.map((m) => dec.decode(m)), [
    "2013 Jun 10 06:27:30.123 h postfix/smtpd[1]: x",
  ]);
});

Deno.test("a zero or absurd octet count is a counted bad frame; the next line still arrives", () => {
  const { out, f } = frame("0 <13>junk\n<13>next\n");
  assert.deepEqual(out, ["<13>next"]);
  assert.equal(f.stats.badFrames, 1);
});

Deno.test("over-long messages are cut and counted, the stream stays in step", () => {
  const long = "x".repeat(996);
  const { out, f } = frame(`1000 <13>${long}5 <13>a<13>${long}\n<13>b\n`, 64, 300);
  const cut = `<13>${"x".repeat(296)}`;
  assert.deepEqual(out, [cut, "<13>a", cut, "<13>b"]);
  assert.equal(f.stats.tooLong, 2);
});

Deno.test("fuzz: random and mutated bytes never throw, and what is kept is bounded", () => {
  const rand = mulberry32(FUZZ_SEED);
  const valid = enc.encode("27 <13>Dec  3 06:00:00 h a: x<13>Dec  3 06:00:00 h b: y\n");
  withSeed(() => {
    for (let round = 0; round < 3000; round++) {
      const f = new SyslogFramer(128);
      const bytes = round % 2 === 0
        ? Uint8Array.from({ length: Math.floor(rand() * 400) }, () => Math.floor(rand() * 256))
        : valid.map((b) => (rand() < 0.1 ? Math.floor(rand() * 256) : b));
      let i = 0;
      while (i < bytes.length) {
        const n = 1 + Math.floor(rand() * 50);
        for (const m of f.push(bytes.subarray(i, i + n))) assert.ok(m.length <= 128);
        i += n;
      }
      for (const m of f.end()) assert.ok(m.length <= 128 + 12);
    }
  });
});

Deno.test("an octet count of 11 digits or more is a counted bad frame, not an LF-framed line", () => {
  const input = "12345678901 <13>junk\n<13>next\n99999999999999999999 <13>more junk\n<13>last\n";
  for (const chunk of [1, 3, 5, Infinity]) {
    const { out, f } = frame(input, chunk);
    assert.deepEqual(out, ["<13>next", "<13>last"], `chunk ${chunk}`);
    assert.equal(f.stats.badFrames, 2, `chunk ${chunk}`);
    assert.equal(f.stats.messages, 2, `chunk ${chunk}`);
  }
});

Deno.test("a line that starts with a long number and no `<` after it stays LF framed", () => {
  const { out, f } = frame("123456789012345 not a frame\n<13>next\n", 4);
  assert.deepEqual(out, ["123456789012345 not a frame", "<13>next"]);
  assert.equal(f.stats.badFrames, 0);
});

Deno.test("a run of digits longer than the limit is cut as a too-long line, not held", () => {
  const f = new SyslogFramer(100);
  const out = f.push(enc.encode("7".repeat(250)));
  assert.deepEqual(out.map((m) => dec.decode(m)), ["7".repeat(100)]);
  assert.equal(f.stats.tooLong, 1);
  assert.deepEqual(f.push(enc.encode("7".repeat(50) + "\n<13>next\n")).map((m) => dec.decode(m)), [
    "<13>next",
  ]);
});
