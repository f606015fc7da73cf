import assert from "node:assert/strict";
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
  log.note({ reason: "plaintext_peer", peer: "tcp://0.0.0.0:5555" });
  assert.equal(lines.length, 10);
  now += 1;
  log.note({ reason: "bad_handshake", peer: "tcp://0.0.0.0:5556" });
  assert.deepEqual(lines.slice(10), [
    "router: 16 more refused handshakes not logged",
    "router: refused bad CURVE handshake (wrong server key?) from tcp://0.0.0.0:5556",
  ]);
});
