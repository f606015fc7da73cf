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
