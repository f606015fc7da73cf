import assert from "node:assert/strict";
import { generateKeyPair } from "@eventstorm/core";
import { startRouter } from "../tests/helpers.ts";
import { RefusalLog } from "./refusals.ts";

Deno.test("refusal log: 10 lines per 10 s window, the rest summed when the next window opens", () => {
  const lines: string[] = [];
  let now = 1_000_000;
  const log = new RefusalLog((line) => lines.push(line), () => now);
  for (let i = 0; i < 25; i++) {
    log.note({ reason: "unknown_key", peer: "192.0.2.7", key: `key${i}` });
  }
  assert.equal(lines.length, 10);
  assert.equal(lines[0], "router: refused unknown key from 192.0.2.7 key key0");
  now += 9_999;
  log.note({ reason: "plaintext_peer", endpoint: "tcp://0.0.0.0:5555" });
  assert.equal(lines.length, 10);
  now += 1;
  log.note({ reason: "bad_handshake", endpoint: "tcp://0.0.0.0:5556" });
  assert.deepEqual(lines.slice(10), [
    "router: 16 more refused handshakes not logged",
    "router: refused bad CURVE handshake (wrong server key?) on tcp://0.0.0.0:5556 " +
    "(the router's own endpoint; libzmq does not name the peer)",
  ]);
});

Deno.test("router: files skipped in --allow-keys are logged with the router: prefix (audit #16)", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/junk`, "not a certificate\n");
    const lines: string[] = [];
    const { stop } = startRouter({
      curve: { secretKey: generateKeyPair().secretKey },
      allowKeys: dir,
    }, (line) => lines.push(line));
    await stop();
    const skips = lines.filter((line) => line.includes("junk"));
    assert.equal(skips.length, 1, lines.join("\n"));
    assert.match(skips[0], /^router: skipping .*\/junk: /);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
