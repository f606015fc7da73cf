import assert from "node:assert/strict";
import { generateKeyPair, writeKeyPair } from "@eventstorm/core";
import { DEAD_PORT, routerConfig } from "../tests/helpers.ts";
import type { RouterConfig } from "./config.ts";
import { curveLines } from "./main.ts";
import { Router } from "./router.ts";

/** The CURVE lines a router with `overrides` prints at start. */
async function linesOf(overrides: Partial<RouterConfig>): Promise<string[]> {
  const config = routerConfig(overrides);
  const router = new Router(config, { print: () => {} });
  try {
    return curveLines(config, router.curveServer());
  } finally {
    await router.close();
  }
}

Deno.test("router start lines: a router that only connects admits nobody itself, and says so (audit #7)", async () => {
  const server = generateKeyPair();
  const lines = await linesOf({
    sources: [`>tcp://127.0.0.1:${DEAD_PORT}`],
    sinks: [`>tcp://127.0.0.1:${DEAD_PORT}`],
    curve: { secretKey: generateKeyPair().secretKey, serverKey: server.publicKey },
  });
  assert.deepEqual(lines, ["router: CURVE on, as a client of --curve-server (no endpoint binds)"]);
});

Deno.test("router start lines: --allow-keys gives the number of keys, and warns at 0 (audit #8)", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const curve = { secretKey: generateKeyPair().secretKey };
    assert.deepEqual(await linesOf({ curve }), [
      "router: CURVE on; no --allow-keys, so any client that knows the server key is admitted",
    ]);
    const empty = await linesOf({ curve, allowKeys: dir });
    assert.equal(empty.length, 1);
    assert.match(empty[0], /^router: warning: CURVE on; admitting 0 keys: /);
    assert.match(empty[0], /every client will be refused/);
    writeKeyPair(`${dir}/web1`);
    writeKeyPair(`${dir}/web2`);
    assert.deepEqual(await linesOf({ curve, allowKeys: dir }), [
      `router: CURVE on; admitting 2 keys (the public certificates in ${dir}, re-read when it changes)`,
    ]);
    // A chained router serving its sinks is a server too.
    const chained = await linesOf({
      sources: [`>tcp://127.0.0.1:${DEAD_PORT}`],
      curve: { ...curve, serverKey: generateKeyPair().publicKey },
      allowKeys: dir,
    });
    assert.match(chained[0], /admitting 2 keys/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
