import assert from "node:assert/strict";
import { decodeDefaultEscapes, decodeJsonEscapes } from "./escape.ts";

Deno.test("decodeDefaultEscapes undoes \\xHH and reads the bytes as UTF-8", () => {
  assert.equal(
    decodeDefaultEscapes("Mozilla/5.0 \\x22Evil\\x22 \\x5C Agent \\xC3\\x84\\xC3\\x96"),
    'Mozilla/5.0 "Evil" \\ Agent ÄÖ',
  );
  assert.equal(decodeDefaultEscapes("al\\x22ice"), 'al"ice');
  assert.equal(decodeDefaultEscapes("no escapes"), "no escapes");
  assert.equal(decodeDefaultEscapes("tab\\x09end"), "tab\tend");
});

Deno.test("decodeDefaultEscapes keeps bytes that are not UTF-8 as logged", () => {
  const tls = "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03\\xDE\\xAD";
  assert.equal(decodeDefaultEscapes(tls), tls);
});

Deno.test("decodeDefaultEscapes leaves a backslash that starts no escape", () => {
  assert.equal(decodeDefaultEscapes("a\\xZZ \\x41"), "a\\xZZ A");
});

Deno.test("decodeJsonEscapes undoes escape=json", () => {
  assert.equal(
    decodeJsonEscapes('Mozilla/5.0 \\"Evil\\" \\\\ Agent ÄÖ'),
    'Mozilla/5.0 "Evil" \\ Agent ÄÖ',
  );
  assert.equal(decodeJsonEscapes("\\u0016\\u0003"), "\x16\x03");
  assert.equal(decodeJsonEscapes("bad \\q"), "bad \\q");
});

/** What nginx writes for `bytes` under escape=default. */
function nginxEscape(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) {
    const escaped = byte < 0x20 || byte === 0x22 || byte === 0x5c || byte >= 0x7f;
    out += escaped
      ? `\\x${byte.toString(16).toUpperCase().padStart(2, "0")}`
      : String.fromCharCode(byte);
  }
  return out;
}

Deno.test("decodeDefaultEscapes reads 3- and 4-byte sequences and rejects bad ones", () => {
  const encode = (text: string) => nginxEscape(new TextEncoder().encode(text));
  assert.equal(decodeDefaultEscapes(encode('/日本/😀?q="x"')), '/日本/😀?q="x"');
  for (
    const bad of [
      "\\xC0\\x80", // overlong NUL
      "\\xC3", // truncated
      "\\xC3x", // continuation missing
      "\\xED\\xA0\\x80", // UTF-16 surrogate
      "\\xF4\\x90\\x80\\x80", // above U+10FFFF
      "\\xFF",
    ]
  ) {
    assert.equal(decodeDefaultEscapes(`a${bad}b`), `a${bad}b`, bad);
  }
});

Deno.test("decodeDefaultEscapes agrees with a strict UTF-8 decoder on random bytes", () => {
  const strict = new TextDecoder("utf-8", { fatal: true });
  let seed = 12345;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 16;
  };
  const samples = ["é", "日", "😀", "\u0080", "\u07ff", "\uffff", "\u{10ffff}", '"', "\\", "\t"]
    .map((s) => new TextEncoder().encode(s));
  for (let n = 0; n < 2000; n++) {
    const parts: number[] = [];
    const length = random() % 12;
    for (let k = 0; k < length; k++) {
      const choice = random() % 4;
      if (choice === 0) parts.push(random() % 256);
      else if (choice === 1) parts.push(...samples[random() % samples.length]);
      else parts.push(32 + (random() % 95));
    }
    const bytes = new Uint8Array(parts);
    const logged = nginxEscape(bytes);
    let expected: string;
    try {
      expected = strict.decode(bytes);
    } catch {
      expected = logged;
    }
    assert.equal(decodeDefaultEscapes(logged), expected, logged);
  }
});
