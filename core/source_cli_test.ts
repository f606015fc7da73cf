import assert from "node:assert/strict";
import { localHostname } from "./event.ts";
import { UsageError } from "./flags.ts";
import { SOURCE_SEND_HWM, sourceFlags, sourceOutput } from "./source_cli.ts";
import { Emitter } from "./emitter.ts";
import { Poller, SocketType, ZmqContext } from "./zmq/socket.ts";

const values = {
  to: [">tcp://127.0.0.1:5555"],
  "curve-server": [],
  "curve-secret": undefined,
  "stats-interval": "10s",
  "stats-to": "none",
};

Deno.test("sourceFlags reads the flags every source has, and checks them even with --print", () => {
  assert.deepEqual(sourceFlags(values), {
    print: false,
    to: [">tcp://127.0.0.1:5555"],
    curve: undefined,
    host: localHostname(),
    hostOverride: undefined,
    statsIntervalMs: 10_000,
    statsTo: undefined,
  });
  const given = sourceFlags({ ...values, print: true, host: "web1", "stats-to": ">tcp://r:1" });
  assert.deepEqual([given.print, given.host, given.hostOverride, given.statsTo], [
    true,
    "web1",
    "web1",
    ">tcp://r:1",
  ]);
  // A mistake shows before the flag is needed: --to and CURVE are read with --print too.
  for (
    const bad of [
      { to: ["tcp://"] },
      { "curve-server": ["/no/such/router.key"] },
      { "stats-interval": "soon" },
    ]
  ) {
    assert.throws(
      () => sourceFlags({ ...values, print: true, ...bad }),
      UsageError,
      JSON.stringify(bad),
    );
  }
});

Deno.test(
  "a source lets libzmq queue SOURCE_SEND_HWM messages for a stalled receiver, not an emitter's 1000",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const context = new ZmqContext();
    const receiver = context.socket(SocketType.SUB);
    receiver.configure({ receiveHwm: 1, lingerMs: 0 });
    receiver.subscribe(new TextEncoder().encode("app.big"));
    receiver.attach({ bind: true, address: "tcp://127.0.0.1:*" });
    try {
      const to = [`>${receiver.lastEndpoint()}`];
      const output = await sourceOutput("source test", { print: false, to, host: "h" })({});
      assert.ok(output instanceof Emitter);
      // A bound socket takes in a new peer when its own thread next calls libzmq: a poll
      // does that without reading a message, and the subscription goes out.
      const poller = new Poller(context, [receiver]);
      while (output.stats().subscriptions === 0) await poller.wait(20);
      poller.close();
      // 200 messages of one 300 KB event (over the 256 KiB a batch is sealed at), 60 MB:
      // more than the loopback's buffers hold, fewer than an emitter's 1000 messages.
      // The receiver reads none of them.
      const big = "x".repeat(300_000);
      for (let i = 0; i < 200; i++) {
        output.send({ type: "app.big", time: new Date(), host: "h", i, big });
      }
      await output.close();
      const { unconfirmed, dropped } = output.stats();
      // libzmq held at most SOURCE_SEND_HWM of them (and one more in its hands); the
      // rest, still in the emitter when its close gave up, are counted as dropped.
      assert.ok(
        unconfirmed > 0 && unconfirmed <= SOURCE_SEND_HWM + 1,
        `unconfirmed ${unconfirmed}`,
      );
      assert.ok(dropped > 0, `dropped ${dropped}`);
    } finally {
      receiver.close();
      await context.terminate();
    }
  },
);
