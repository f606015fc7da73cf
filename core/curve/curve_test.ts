import assert from "node:assert/strict";
import { Collector } from "../collector.ts";
import { Emitter } from "../emitter.ts";
import { type Refusal, Relay } from "../relay.ts";
import { generateKeyPair, type KeyPair, writeKeyPair } from "./certificate.ts";
import { attachSecurely, type CurveOptions, warnPerFrameLimit } from "./options.ts";
import { parseEndpoints } from "../endpoint.ts";
import { SocketType, ZmqContext } from "../zmq/socket.ts";
import { loadLibzmq } from "../zmq/ffi.ts";
import { sleep, waitFor } from "../../tests/wait.ts";

interface Setup {
  relay: Relay;
  upstream: string;
  downstream: string;
  server: KeyPair;
  refusals: Refusal[];
  /** Messages relayed so far. */
  messages: number;
  stop(): Promise<void>;
}

function curveRelay(allowKeys?: string): Setup {
  const server = generateKeyPair();
  const refusals: Refusal[] = [];
  const relay = new Relay({
    upstream: "@tcp://127.0.0.1:*",
    downstream: "@tcp://127.0.0.1:*",
    curve: { secretKey: server.secretKey },
    allowKeys,
    onRefused: (refusal) => refusals.push(refusal),
  });
  const { upstream, downstream } = relay.boundEndpoints();
  const setup: Setup = {
    relay,
    upstream: `>${upstream}`,
    downstream: `>${downstream}`,
    server,
    refusals,
    messages: 0,
    stop: async () => {
      await relay.close();
      await running;
    },
  };
  const running = relay.run({
    message: () => {
      setup.messages++;
      return true;
    },
    subscription: (_on, prefix) => [prefix],
  });
  return setup;
}

function client(server: KeyPair, mine = generateKeyPair()): CurveOptions {
  return { serverKey: server.publicKey, secretKey: mine.secretKey, publicKey: mine.publicKey };
}

/** Sends `count` events through emitter → relay → collector; returns what arrived. */
async function deliver(
  setup: Setup,
  emitterCurve: CurveOptions | undefined,
  collectorCurve: CurveOptions | undefined,
  count: number,
  lines: string[] = [],
) {
  const collector = await Collector.open({
    endpoints: setup.downstream,
    curve: collectorCurve,
    onHandshakeFailure: (line) => lines.push(line),
  });
  let received = 0;
  const reading = (async () => {
    for await (const batch of collector.batches()) received += batch.events.length;
  })();
  const emitter = await Emitter.open({
    endpoints: setup.upstream,
    curve: emitterCurve,
    closeTimeoutMs: 1500,
    onHandshakeFailure: (line) => lines.push(line),
  });
  for (let n = 0; n < count; n++) emitter.emit("app.curve", { n });
  return {
    received: () => received,
    collector,
    emitter,
    close: async () => {
      await emitter.close();
      await collector.close();
      await reading;
    },
  };
}

Deno.test("curve: a known key delivers every event, encrypted, through the relay", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const setup = curveRelay(dir);
    const source = writeKeyPair(`${dir}/source`);
    const sink = writeKeyPair(`${dir}/sink`);
    const run = await deliver(
      setup,
      client(setup.server, source),
      client(setup.server, sink),
      5000,
    );
    await waitFor(() => run.received() === 5000, "5000 events");
    assert.equal(run.collector.stats().lost, 0);
    await run.close();
    const security = setup.relay.securityStats();
    assert.equal(security.admitted, 2);
    assert.deepEqual(security.refused, { unknown_key: 0, bad_handshake: 0, plaintext_peer: 0 });
    await setup.stop();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("curve: an unknown key delivers nothing, is counted, and the client is told", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const setup = curveRelay(dir);
    const sink = writeKeyPair(`${dir}/sink`);
    const lines: string[] = [];
    const stranger = generateKeyPair();
    const run = await deliver(
      setup,
      client(setup.server, stranger),
      client(setup.server, sink),
      100,
      lines,
    );
    await waitFor(() => setup.relay.securityStats().refused.unknown_key > 0, "a refusal");
    await waitFor(() => lines.some((line) => line.includes("refused this key")), "the notice");
    await sleep(300);
    assert.equal(run.received(), 0);
    const refusal = setup.refusals.find((r) => r.reason === "unknown_key")!;
    assert.equal(refusal.key, stranger.publicKey);
    assert.equal(refusal.peer, "127.0.0.1");
    await run.close();
    await setup.stop();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("curve: a wrong server key and a plaintext client deliver nothing, each refused and told", async () => {
  const setup = curveRelay();
  const sink = generateKeyPair();
  const wrongLines: string[] = [];
  const wrong = await deliver(
    setup,
    client(generateKeyPair()),
    client(setup.server, sink),
    50,
    wrongLines,
  );
  await waitFor(() => setup.relay.securityStats().refused.bad_handshake > 0, "a bad handshake");
  await waitFor(() => wrongLines.some((line) => line.includes("wrong --curve-server")), "notice");
  // libzmq names only the endpoint bound: the refusal must not pass it off as the peer.
  const bad = setup.refusals.find((refusal) => refusal.reason === "bad_handshake")!;
  assert.equal(bad.peer, undefined);
  assert.equal(`>${bad.endpoint}`, setup.upstream);
  await wrong.close();
  await sleep(300);
  const badHandshakes = setup.relay.securityStats().refused.bad_handshake;
  const plainLines: string[] = [];
  const plain = await deliver(setup, undefined, client(setup.server, sink), 50, plainLines);
  const before = setup.relay.securityStats().refused.bad_handshake;
  // The server sees the mismatch unless the client, which detects it too, hangs up
  // first: then all the server sees is a broken handshake (docs/security.md).
  await waitFor(() => {
    const { refused } = setup.relay.securityStats();
    return refused.plaintext_peer > 0 || refused.bad_handshake > before;
  }, "a refused plaintext peer");
  await waitFor(() => plainLines.some((line) => line.includes("requires CURVE")), "notice");
  await sleep(300);
  assert.equal(wrong.received() + plain.received(), 0);
  assert.equal(setup.relay.securityStats().refused.bad_handshake, badHandshakes);
  await plain.close();
  await setup.stop();
});

Deno.test("curve: removing a key from the directory refuses the next connection", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const setup = curveRelay(dir);
    const sink = writeKeyPair(`${dir}/sink`);
    const source = writeKeyPair(`${dir}/source`);
    const first = await deliver(
      setup,
      client(setup.server, source),
      client(setup.server, sink),
      10,
    );
    await waitFor(() => first.received() === 10, "10 events");
    await first.close();
    Deno.removeSync(`${dir}/source`);
    const second = await deliver(
      setup,
      client(setup.server, source),
      client(setup.server, sink),
      10,
    );
    await waitFor(() => setup.relay.securityStats().refused.unknown_key > 0, "a refusal");
    await sleep(300);
    assert.equal(second.received(), 0);
    await second.close();
    await setup.stop();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("curve: a source may bind as a CURVE server and a sink connect straight to it", async () => {
  const server = generateKeyPair();
  const source = await Emitter.open({
    endpoints: "@tcp://127.0.0.1:*",
    curve: { secretKey: server.secretKey },
  });
  const collector = await Collector.open({
    endpoints: `>${source.boundEndpoint()}`,
    curve: client(server),
  });
  await source.ready();
  for (let n = 0; n < 100; n++) source.emit("app.direct", { n });
  let received = 0;
  for await (const batch of collector.batches()) {
    received += batch.events.length;
    if (received === 100) break;
  }
  assert.equal(received, 100);
  await source.close();
  await collector.close();
});

Deno.test("warnPerFrameLimit: a network bind on a libzmq that caps frames only is warned about once", () => {
  const lines: string[] = [];
  const loopback = [{ bind: true, address: "tcp://127.0.0.1:5555" }];
  const network = [
    { bind: true, address: "tcp://0.0.0.0:5555" },
    { bind: true, address: "tcp://[::]:5556" },
    { bind: false, address: "tcp://10.0.0.1:5555" },
  ];
  warnPerFrameLimit("router", loopback, (line) => lines.push(line));
  assert.equal(lines.length, 0);
  warnPerFrameLimit("router", network, (line) => lines.push(line));
  const lib = loadLibzmq();
  if (lib.boundsWholeMessages) assert.equal(lines.length, 0);
  else {
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /^router: warning: libzmq \S+ \(.+\) caps each frame, not whole messages/,
    );
  }
  // Debian's libzmq is stock: the limit is the patch's alone.
  if (lib.path.includes("-linux-gnu/")) assert.equal(lib.boundsWholeMessages, false);
});

Deno.test("curve: a watch refused by the server says so in .refused, for the waiting notice to hold back (audit #16)", async () => {
  const dir = Deno.makeTempDirSync();
  const context = new ZmqContext();
  const setup = curveRelay(dir);
  const socket = context.socket(SocketType.XPUB);
  socket.configure({ lingerMs: 0 });
  const lines: string[] = [];
  const endpoints = parseEndpoints(setup.upstream);
  const watch = attachSecurely(context, socket, endpoints, client(setup.server), (line) => {
    lines.push(line);
  })!;
  try {
    assert.equal(watch.refused, false);
    await waitFor(() => lines.some((line) => line.includes("refused this key")), "the notice");
    assert.equal(watch.refused, true);
  } finally {
    watch.close();
    socket.close();
    await context.terminate();
    await setup.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("curve: a chained relay is a client upstream and a server downstream; a refusal upstream is told, not counted as its own (audit #2)", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const upper = curveRelay(dir);
    const middleKeys = writeKeyPair(`${dir}/middle`);
    const warnings: string[] = [];
    const refusals: Refusal[] = [];
    // Upstream `>` as a client of the upper relay, downstream `@` as a server with its own key.
    const middle = new Relay({
      upstream: upper.downstream,
      downstream: "@tcp://127.0.0.1:*",
      curve: { secretKey: middleKeys.secretKey, serverKey: upper.server.publicKey },
      warn: (line) => warnings.push(line),
      onRefused: (refusal) => refusals.push(refusal),
    });
    const running = middle.run({ message: () => true, subscription: (_on, p) => [p] });
    const setup = { ...upper, downstream: `>${middle.boundEndpoints().downstream}` };
    const source = writeKeyPair(`${dir}/source`);
    const run = await deliver(
      setup,
      client(upper.server, source),
      client({ publicKey: middleKeys.publicKey, secretKey: middleKeys.secretKey }),
      300,
    );
    await waitFor(() => run.received() === 300, "300 events across both CURVE links");
    await run.close();
    assert.equal(warnings.length, 0, warnings.join("\n"));
    // The upper relay forgets the middle one's key: its next connection is refused,
    // which the middle relay reports as a client would.
    Deno.removeSync(`${dir}/middle`);
    Deno.removeSync(`${dir}/middle_secret`);
    await middle.close();
    await running;
    const again = new Relay({
      upstream: upper.downstream,
      downstream: "@tcp://127.0.0.1:*",
      curve: { secretKey: middleKeys.secretKey, serverKey: upper.server.publicKey },
      warn: (line) => warnings.push(line),
      onRefused: (refusal) => refusals.push(refusal),
    });
    const runningAgain = again.run({ message: () => true, subscription: (_on, p) => [p] });
    await waitFor(() => warnings.some((line) => /refused this key/.test(line)), "the refusal told");
    assert.deepEqual(again.securityStats().refused, {
      unknown_key: 0,
      bad_handshake: 0,
      plaintext_peer: 0,
    });
    assert.deepEqual(refusals, []);
    await again.close();
    await runningAgain;
    await upper.stop();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("curve: one server key per connecting endpoint lets a relay and an emitter reach servers with key pairs of their own", async () => {
  const east = curveRelay();
  const west = curveRelay();
  const centralKeys = generateKeyPair();
  const central = new Relay({
    upstream: `${east.downstream},${west.downstream}`,
    downstream: "@tcp://127.0.0.1:*",
    curve: {
      secretKey: centralKeys.secretKey,
      serverKey: [east.server.publicKey, west.server.publicKey],
    },
  });
  const running = central.run({ message: () => true, subscription: (_on, p) => [p] });
  const lines: string[] = [];
  const collector = await Collector.open({
    endpoints: `>${central.boundEndpoints().downstream}`,
    curve: client(centralKeys),
    onHandshakeFailure: (line) => lines.push(line),
  });
  const seen: number[] = [];
  const reading = (async () => {
    for await (const batch of collector.batches()) {
      for (const event of batch.events) seen.push(event.n as number);
    }
  })();
  // One emitter, both regional relays, each with its own server key.
  const emitter = await Emitter.open({
    endpoints: [east.upstream, west.upstream],
    curve: { ...client(east.server), serverKey: [east.server.publicKey, west.server.publicKey] },
    closeTimeoutMs: 1500,
    onHandshakeFailure: (line) => lines.push(line),
  });
  try {
    // Probes until the collector's subscription has reached the emitter through both regions.
    for (let probe = -1; east.messages === 0 || west.messages === 0; probe--) {
      emitter.emit("app.curve", { n: probe });
      await emitter.flush();
      await sleep(20);
    }
    const probes = seen.length;
    for (let n = 0; n < 200; n++) emitter.emit("app.curve", { n });
    // Each event reaches the central relay through both regions, decrypted by each key: the
    // collector delivers one copy and counts the other as a duplicate.
    const duplicatesBefore = collector.stats().duplicates;
    await waitFor(() => seen.length === probes + 200, "200 events");
    await waitFor(
      () => collector.stats().duplicates - duplicatesBefore >= 200,
      "200 second copies",
    );
    assert.deepEqual(seen.slice(probes), [...Array(200).keys()]);
    assert.equal(collector.stats().lost, 0);
    assert.deepEqual(lines, []);
  } finally {
    await emitter.close();
    await collector.close();
    await reading;
    await central.close();
    await running;
    await east.stop();
    await west.stop();
  }
});

Deno.test("curve: server keys that do not pair with the connecting endpoints are a usage error that names no key", () => {
  const mine = generateKeyPair();
  const keys = [generateKeyPair().publicKey, generateKeyPair().publicKey];
  assert.throws(
    () =>
      new Relay({
        upstream: ">tcp://127.0.0.1:1,>tcp://127.0.0.1:2,>tcp://127.0.0.1:3",
        downstream: "@tcp://127.0.0.1:*",
        curve: { secretKey: mine.secretKey, serverKey: keys },
      }),
    (error: Error) => {
      assert.match(error.message, /^2 server keys \(--curve-server\) for 3 endpoints that connect/);
      for (const key of [...keys, mine.secretKey]) assert.ok(!error.message.includes(key));
      return true;
    },
  );
});
