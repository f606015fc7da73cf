import assert from "node:assert/strict";
import { parseFlags, UsageError } from "@eventstorm/core/cli";
import { SocketType, ZmqContext } from "../core/zmq/socket.ts";
import { emitter, sleep, startRouter, waitFor } from "../tests/helpers.ts";
import { ROUTER_COMMAND, routerConfigFromFlags } from "./config.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const configOf = (args: string[]) => routerConfigFromFlags(parseFlags(args, ROUTER_COMMAND).values);

Deno.test("router flags: --announce-for sets how long quiet streams are announced, bounded (audit #3)", () => {
  assert.equal(configOf([]).announceForMs, 60_000);
  assert.equal(configOf(["--announce-for", "5m"]).announceForMs, 300_000);
  assert.equal(configOf(["--announce-for", "0s"]).announceForMs, 0);
  for (const bad of ["25d", "forever", "10"]) {
    assert.throws(() => configOf(["--announce-for", bad]), (error: Error) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.match(error.message, /--announce-for/);
      return true;
    });
  }
});

Deno.test("router flags: --when-full is drop-newest by default, or block; anything else is a usage error", () => {
  assert.equal(configOf([]).whenFull, "drop-newest");
  assert.equal(configOf(["--when-full", "block"]).whenFull, "block");
  for (const bad of ["drop", "drop-oldest", "BLOCK", ""]) {
    assert.throws(() => configOf(["--when-full", bad]), (error: Error) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.equal(error.message, `--when-full must be drop-newest or block, got '${bad}'`);
      return true;
    });
  }
});

Deno.test("router: announceForMs bounds how long a quiet stream is announced", opts, async () => {
  const r = startRouter({ announceForMs: 400, announceIntervalMs: 100 });
  const context = new ZmqContext();
  const sub = context.socket(SocketType.SUB);
  sub.subscribe(new TextEncoder().encode("app.quiet"));
  sub.attach({ bind: false, address: r.sinks.slice(1) });
  const out = await emitter({ endpoints: r.sources });
  try {
    await waitFor(() => out.stats().subscriptions > 0, "the router's subscription");
    out.emit("app.quiet", { n: 1 });
    await out.close();
    let messages = 0;
    const buffers = [new Uint8Array(64), new Uint8Array(64), new Uint8Array(4096)];
    const sizes = new Int32Array(3);
    const drain = () => {
      while (sub.receive(buffers, sizes) > 0) messages++;
    };
    await sleep(1200);
    drain();
    // The event, the emitter's own closing announcement, and the router's for 400 ms.
    assert.ok(messages >= 3, `${messages} messages`);
    const before = messages;
    await sleep(600);
    drain();
    assert.equal(messages, before, "announced after announceForMs");
  } finally {
    sub.close();
    await context.terminate();
    await r.stop();
  }
});
