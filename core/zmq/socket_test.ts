import assert from "node:assert/strict";
import {
  EndpointError,
  HeldFrames,
  Poller,
  SocketBusyError,
  SocketType,
  ZmqContext,
  ZmqError,
  type ZmqSocket,
} from "./socket.ts";
import { UsageError } from "../flags.ts";

const utf8 = new TextEncoder();
const ANY_PORT = { bind: true, address: "tcp://127.0.0.1:*" };

/** Receives one message, waiting in a poller up to `timeoutMs`; 0 frames on timeout. */
async function receiveWithin(
  poller: Poller,
  socket: ZmqSocket,
  buffers: Uint8Array[],
  sizes: Int32Array,
  timeoutMs = 5000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const frames = socket.receive(buffers, sizes);
    if (frames > 0 || Date.now() > deadline) return frames;
    await poller.wait(50);
  }
}

/**
 * A connected PUB → SUB pair that is known to deliver (the slow joiner is past):
 * the PUB binds `bindAddress`, the SUB connects where `connectTo` says.
 */
async function connectedPair(
  context: ZmqContext,
  topic = "",
  bindAddress = ANY_PORT.address,
  connectTo = (bound: string) => bound,
) {
  const pub = context.socket(SocketType.PUB);
  pub.attach({ bind: true, address: bindAddress });
  const sub = context.socket(SocketType.SUB);
  sub.subscribe(utf8.encode(topic));
  sub.attach({ bind: false, address: connectTo(pub.lastEndpoint()) });
  const poller = new Poller(context, [sub]);
  const probe = [utf8.encode(`${topic}probe`)];
  const buffers = [new Uint8Array(64)];
  const sizes = new Int32Array(1);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    pub.send(probe);
    await poller.wait(20);
    if (sub.receive(buffers, sizes) > 0) {
      while (sub.receive(buffers, sizes) > 0) { /* drain the other probes */ }
      // Probes still in flight would be taken for test messages: let them land.
      await poller.wait(50);
      while (sub.receive(buffers, sizes) > 0) { /* drain */ }
      return { pub, sub, poller };
    }
  }
  throw new Error("PUB/SUB pair did not connect within 10 s");
}

/** Whether this host has an IPv6 loopback (a container may have it switched off). */
function hasIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("socket: an IPv6 literal binds and connects, and [::] takes IPv4 peers too", async () => {
  const context = new ZmqContext();
  try {
    if (!hasIpv6Loopback()) {
      // Without ::1 the bind must fail as any bad endpoint does, not hang or crash.
      const socket = context.socket(SocketType.PUB);
      assert.throws(() => socket.attach({ bind: true, address: "tcp://[::1]:*" }), EndpointError);
      return;
    }
    const v6 = await connectedPair(context, "", "tcp://[::1]:*");
    assert.match(v6.pub.lastEndpoint(), /^tcp:\/\/\[::1\]:\d+$/);
    const dual = await connectedPair(
      context,
      "",
      "tcp://[::]:*",
      (bound) => `tcp://127.0.0.1:${bound.split(":").pop()}`,
    );
    for (const pair of [v6, dual]) {
      pair.poller.close();
      pair.pub.close();
      pair.sub.close();
    }
  } finally {
    await context.terminate();
  }
});

Deno.test("socket: bind to port * reports the real endpoint", async () => {
  const context = new ZmqContext();
  try {
    const socket = context.socket(SocketType.PUB);
    socket.attach(ANY_PORT);
    const endpoint = socket.lastEndpoint();
    assert.match(endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(endpoint.split(":").pop(), "0");
    assert.match(context.lib.version, /^4\.\d+\.\d+$/);
  } finally {
    await context.terminate();
  }
});

Deno.test("socket: binding a taken port is an EndpointError (a UsageError)", async () => {
  const context = new ZmqContext();
  try {
    const first = context.socket(SocketType.PUB);
    first.attach(ANY_PORT);
    const second = context.socket(SocketType.PUB);
    assert.throws(
      () => second.attach({ bind: true, address: first.lastEndpoint() }),
      (error: unknown) => {
        assert.ok(error instanceof EndpointError);
        assert.ok(error instanceof UsageError);
        assert.match(error.message, /^cannot bind @tcp:\/\/127\.0\.0\.1:\d+: .+/);
        return true;
      },
    );
    assert.throws(
      () => second.attach({ bind: false, address: "tcp://no such host:1" }),
      EndpointError,
    );
  } finally {
    await context.terminate();
  }
});

Deno.test("socket: bad options are ZmqErrors with errno", async () => {
  const context = new ZmqContext();
  try {
    const socket = context.socket(SocketType.PUB);
    assert.throws(() => socket.setInt(99999, 1), (error: unknown) => {
      assert.ok(error instanceof ZmqError);
      assert.ok(error.errno > 0);
      return true;
    });
  } finally {
    await context.terminate();
  }
});

Deno.test("socket: multipart send and receive, exact bytes", async () => {
  const context = new ZmqContext();
  try {
    const { pub, sub, poller } = await connectedPair(context);
    const frames = [utf8.encode("a.b"), new Uint8Array(24).fill(7), new Uint8Array(0)];
    assert.equal(pub.send(frames), true);
    const buffers = [new Uint8Array(16), new Uint8Array(64), new Uint8Array(64)];
    const sizes = new Int32Array(3);
    assert.equal(await receiveWithin(poller, sub, buffers, sizes), 3);
    assert.deepEqual([...sizes], [3, 24, 0]);
    assert.deepEqual(buffers[0].subarray(0, 3), frames[0]);
    assert.deepEqual(buffers[1].subarray(0, 24), frames[1]);
    // Nothing more is waiting: receive returns 0 at once.
    assert.equal(sub.receive(buffers, sizes), 0);
    poller.close();
  } finally {
    await context.terminate();
  }
});

Deno.test("socket: a frame larger than its buffer reports its true size", async () => {
  const context = new ZmqContext();
  try {
    const { pub, sub, poller } = await connectedPair(context);
    const big = new Uint8Array(1000).map((_, i) => i & 0xff);
    pub.send([utf8.encode("t"), big]);
    const buffers = [new Uint8Array(8), new Uint8Array(100)];
    const sizes = new Int32Array(2);
    assert.equal(await receiveWithin(poller, sub, buffers, sizes), 2);
    assert.equal(sizes[1], 1000);
    assert.deepEqual(buffers[1], big.subarray(0, 100));
    poller.close();
  } finally {
    await context.terminate();
  }
});

Deno.test("socket: frames past the last buffer are drained and counted", async () => {
  const context = new ZmqContext();
  try {
    const { pub, sub, poller } = await connectedPair(context);
    const parts = Array.from({ length: 6 }, (_, i) => utf8.encode(`part${i}`));
    pub.send(parts);
    pub.send([utf8.encode("next")]);
    const buffers = [new Uint8Array(16), new Uint8Array(16)];
    const sizes = new Int32Array(2);
    assert.equal(await receiveWithin(poller, sub, buffers, sizes), 6);
    assert.deepEqual(buffers[0].subarray(0, sizes[0]), parts[0]);
    // The next message starts cleanly: nothing of the long one is left behind.
    assert.equal(await receiveWithin(poller, sub, buffers, sizes), 1);
    assert.equal(new TextDecoder().decode(buffers[0].subarray(0, sizes[0])), "next");
    poller.close();
  } finally {
    await context.terminate();
  }
});

Deno.test("socket: subscriptions filter by byte prefix; unsubscribe stops delivery", async () => {
  const context = new ZmqContext();
  try {
    const { pub, sub, poller } = await connectedPair(context, "http.");
    const buffers = [new Uint8Array(64)];
    const sizes = new Int32Array(1);
    const received: string[] = [];
    for (const topic of ["ssh.login", "http.hit", "http", "http.x"]) pub.send([utf8.encode(topic)]);
    pub.send([utf8.encode("http.end")]);
    while (!received.includes("http.end")) {
      assert.equal(await receiveWithin(poller, sub, buffers, sizes), 1, `got ${received}`);
      received.push(new TextDecoder().decode(buffers[0].subarray(0, sizes[0])));
    }
    assert.deepEqual(received, ["http.hit", "http.x", "http.end"]);
    sub.unsubscribe(utf8.encode("http."));
    sub.subscribe(utf8.encode("zz"));
    // Once "zz" arrives, the unsubscription (sent before it) is in effect.
    const deadline = Date.now() + 10_000;
    let last = "";
    while (last !== "zz" && Date.now() < deadline) {
      pub.send([utf8.encode("http.late")]);
      pub.send([utf8.encode("zz")]);
      await poller.wait(20);
      while (sub.receive(buffers, sizes) > 0) {
        last = new TextDecoder().decode(buffers[0].subarray(0, sizes[0]));
      }
    }
    assert.equal(last, "zz");
    pub.send([utf8.encode("http.after")]);
    pub.send([utf8.encode("zz.end")]);
    assert.equal(await receiveWithin(poller, sub, buffers, sizes), 1);
    assert.equal(new TextDecoder().decode(buffers[0].subarray(0, sizes[0])), "zz.end");
    poller.close();
  } finally {
    await context.terminate();
  }
});

Deno.test("socket: readable() says whether a message waits", async () => {
  const context = new ZmqContext();
  try {
    const { pub, sub, poller } = await connectedPair(context);
    assert.equal(sub.readable(), false);
    pub.send([utf8.encode("x")]);
    const deadline = Date.now() + 5000;
    while (!sub.readable() && Date.now() < deadline) await poller.wait(20);
    assert.equal(sub.readable(), true);
    sub.receive([new Uint8Array(8)], new Int32Array(1));
    assert.equal(sub.readable(), false);
    poller.close();
  } finally {
    await context.terminate();
  }
});

Deno.test("poller: a wait times out empty, wakes early, and reports the ready socket", async () => {
  const context = new ZmqContext();
  try {
    const { pub, poller } = await connectedPair(context);
    let started = performance.now();
    assert.deepEqual(await poller.wait(30), [false]);
    assert.ok(performance.now() - started >= 15, "a timed wait does not return at once");
    // wake() before a wait makes the next wait return at once.
    poller.wake();
    started = performance.now();
    assert.deepEqual(await poller.wait(60_000), [false]);
    assert.ok(performance.now() - started < 30_000);
    // wake() during a wait ends it.
    const waiting = poller.wait(-1);
    setTimeout(() => poller.wake(), 20);
    assert.deepEqual(await waiting, [false]);
    // Two waits at once are refused.
    const first = poller.wait(10);
    await assert.rejects(() => poller.wait(10), /already in progress/);
    await first;
    pub.send([utf8.encode("ready")]);
    let ready = [false];
    const deadline = Date.now() + 5000;
    while (!ready[0] && Date.now() < deadline) ready = await poller.wait(100);
    assert.deepEqual(ready, [true]);
    poller.close();
  } finally {
    await context.terminate();
  }
});

Deno.test("poller: a socket refuses every call while a wait holds it, and works after", async () => {
  // libzmq sockets are not thread-safe: a call racing zmq_poll on the worker
  // thread once aborted the whole process in a libzmq assertion (pipe.cpp:382).
  const context = new ZmqContext();
  try {
    const { pub, sub, poller } = await connectedPair(context);
    const waiting = poller.wait(-1);
    const buffers = [new Uint8Array(8)];
    const sizes = new Int32Array(1);
    for (
      const [what, call] of [
        ["zmq_recv", () => sub.receive(buffers, sizes)],
        ["zmq_setsockopt", () => sub.subscribe(utf8.encode("x"))],
        ["zmq_poll", () => sub.readable()],
        ["zmq_close", () => sub.close()],
        ["bind/connect", () => sub.attach({ bind: false, address: pub.lastEndpoint() })],
      ] as const
    ) {
      assert.throws(
        call,
        (error: Error) => error instanceof SocketBusyError && error.message.startsWith(what),
        what,
      );
    }
    assert.equal(sub.closed, false, "the refused close left the socket open");
    // The bound address is known without asking libzmq, so it can be read any time.
    assert.match(pub.lastEndpoint(), /^tcp:\/\/127\.0\.0\.1:\d+$/);
    // The publisher is not polled: sending to the waiting subscriber ends the wait.
    pub.send([utf8.encode("during")]);
    assert.deepEqual(await waiting, [true]);
    assert.equal(sub.receive(buffers, sizes), 1);
    assert.equal(new TextDecoder().decode(buffers[0].subarray(0, sizes[0])), "during");
    // A wait that wake() ended, or one that timed out, releases the socket too.
    const woken = poller.wait(-1);
    assert.throws(() => sub.receive(buffers, sizes), SocketBusyError);
    poller.wake();
    await woken;
    assert.equal(sub.receive(buffers, sizes), 0);
    await poller.wait(1);
    sub.subscribe(utf8.encode("x"));
    poller.close();
  } finally {
    await context.terminate();
  }
});

Deno.test("socket: close is idempotent; terminate closes what is left", async () => {
  const context = new ZmqContext();
  const a = context.socket(SocketType.PUB);
  const b = context.socket(SocketType.SUB);
  a.close();
  a.close();
  assert.equal(a.closed, true);
  assert.equal(b.closed, false);
  await context.terminate();
  assert.equal(b.closed, true);
  await context.terminate();
});

Deno.test("receiveFrom names each message's peer by address, once per connection", async () => {
  const context = new ZmqContext();
  const receiver = context.socket(SocketType.XSUB);
  receiver.configure({ lingerMs: 0 });
  receiver.attach(ANY_PORT);
  receiver.sendSubscription(true, new Uint8Array(0));
  const port = receiver.lastEndpoint().split(":").pop();
  const senders = ["127.0.0.2", "127.0.0.3"].map((from) => {
    const sender = context.socket(SocketType.XPUB);
    sender.configure({ lingerMs: 0 });
    sender.attach({ bind: false, address: `tcp://${from}:0;127.0.0.1:${port}` });
    return sender;
  });
  const buffers = [new Uint8Array(64), new Uint8Array(64)];
  const sizes = new Int32Array(2);
  try {
    const peers: string[] = [];
    const deadline = Date.now() + 10_000;
    while (peers.length < 6 && Date.now() < deadline) {
      senders.forEach((sender, i) => sender.send([utf8.encode(`from ${i}`), utf8.encode("x")]));
      await new Promise((resolve) => setTimeout(resolve, 20));
      while (receiver.receiveFrom(buffers, sizes) > 0) {
        const text = new TextDecoder().decode(buffers[0].subarray(0, sizes[0]));
        assert.equal(sizes[1], 1);
        peers.push(`${text} ${receiver.peer}`);
      }
    }
    assert.ok(peers.length >= 6, peers.join());
    for (const line of peers) assert.match(line, /^from 0 127\.0\.0\.2$|^from 1 127\.0\.0\.3$/);
    // Over inproc libzmq knows no address.
    const inproc = context.socket(SocketType.PAIR);
    inproc.attach({ bind: true, address: "inproc://peer-test" });
    const other = context.socket(SocketType.PAIR);
    other.attach({ bind: false, address: "inproc://peer-test" });
    other.send([utf8.encode("hi")]);
    assert.equal(inproc.receiveFrom(buffers, sizes), 1);
    assert.equal(inproc.peer, undefined);
    inproc.close();
    other.close();
  } finally {
    for (const sender of senders) sender.close();
    receiver.close();
    await context.terminate();
  }
});

Deno.test("held frames: read in place and forwarded byte for byte; frames past capacity drained", async () => {
  const context = new ZmqContext();
  try {
    const { pub, sub, poller } = await connectedPair(context);
    // A relay's second leg: what `sub` holds goes out on `out` to `last`.
    const out = context.socket(SocketType.PUB);
    out.attach(ANY_PORT);
    const last = context.socket(SocketType.SUB);
    last.subscribe(new Uint8Array(0));
    last.attach({ bind: false, address: out.lastEndpoint() });
    const lastPoller = new Poller(context, [last]);
    const held = new HeldFrames(context, 3);
    const sizes = new Int32Array(3);
    const receiveHeld = async () => {
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        const frames = sub.receiveHeld(held, sizes);
        if (frames > 0) return frames;
        await poller.wait(50);
      }
      return 0;
    };
    const body = new Uint8Array(100_000).map((_, i) => i % 251);
    const message = [utf8.encode("http.hit"), utf8.encode("header"), body];
    // Until `last` is connected, a PUB drops: resend until a copy arrives.
    const buffers = [new Uint8Array(64), new Uint8Array(64), new Uint8Array(200_000)];
    const got = new Int32Array(3);
    let delivered = 0;
    for (let attempt = 0; attempt < 200 && delivered === 0; attempt++) {
      pub.send(message);
      assert.equal(await receiveHeld(), 3);
      assert.equal(held.count, 3);
      assert.deepEqual(held.view(0, 1024), message[0]);
      assert.deepEqual(held.view(2, 1 << 20), body);
      // A limit below the size shows the frame cut, as a relay's hooks expect.
      assert.equal(held.view(2, 10).length, 10);
      assert.equal(sizes[2], body.length);
      assert.ok(out.sendHeld(held));
      assert.equal(held.count, 0);
      await lastPoller.wait(20);
      delivered = last.receive(buffers, got);
    }
    assert.equal(delivered, 3);
    assert.deepEqual(buffers[2].subarray(0, got[2]), body);
    assert.deepEqual(buffers[1].subarray(0, got[1]), message[1]);

    // Five frames: three held, two drained and counted; the next message is whole.
    pub.send(Array.from({ length: 5 }, (_, i) => utf8.encode(`part${i}`)));
    pub.send([utf8.encode("next")]);
    assert.equal(await receiveHeld(), 5);
    assert.equal(held.count, 3);
    assert.equal(new TextDecoder().decode(held.view(2, 64)), "part2");
    held.release();
    assert.equal(await receiveHeld(), 1);
    assert.equal(new TextDecoder().decode(held.view(0, 64)), "next");
    held.release();
    lastPoller.close();
    poller.close();
  } finally {
    await context.terminate();
  }
});

Deno.test("attach: an ipc:// path another process listens on, or bound twice here, is refused; a stale one is taken (audit #6)", async () => {
  const dir = Deno.makeTempDirSync();
  const context = new ZmqContext();
  const sockets: ZmqSocket[] = [];
  const open = () => {
    const socket = context.socket(SocketType.XPUB);
    socket.configure({ lingerMs: 0 });
    sockets.push(socket);
    return socket;
  };
  try {
    // Another process's listener, as a second router would meet the first's.
    const live = `${dir}/live.ipc`;
    const other = Deno.listen({ transport: "unix", path: live });
    assert.throws(() => open().attach({ bind: true, address: `ipc://${live}` }), (error: Error) => {
      assert.ok(error instanceof EndpointError);
      assert.equal(error.message, `cannot bind @ipc://${live}: in use by another process`);
      return true;
    });
    assert.ok(Deno.lstatSync(live).isSocket, "the owner's socket file is still there");
    const conn = await Deno.connect({ transport: "unix", path: live });
    conn.close();
    other.close();
    // Its owner gone without removing it: stale, and bound over as before.
    open().attach({ bind: true, address: `ipc://${live}` });
    // The same path for two sockets of this process (--sources and --sinks alike).
    const twice = `${dir}/twice.ipc`;
    const first = open();
    first.attach({ bind: true, address: `ipc://${twice}` });
    assert.throws(
      () => open().attach({ bind: true, address: `ipc://${twice}` }),
      /cannot bind @ipc:\/\/.*twice\.ipc: this process binds it already/,
    );
    // Closed here, it may be bound again at once.
    first.close();
    open().attach({ bind: true, address: `ipc://${twice}` });
    // A file that is not a socket is not deleted by libzmq's unlink.
    Deno.writeTextFileSync(`${dir}/notes`, "keep");
    assert.throws(
      () => open().attach({ bind: true, address: `ipc://${dir}/notes` }),
      /exists and is not a socket/,
    );
    assert.equal(Deno.readTextFileSync(`${dir}/notes`), "keep");
  } finally {
    for (const socket of sockets) socket.close();
    await context.terminate();
    Deno.removeSync(dir, { recursive: true });
  }
});
