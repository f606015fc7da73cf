import assert from "node:assert/strict";
import { parseListenAddress, SyslogListeners } from "./listener.ts";
import { DatagramReceiver } from "./datagram.ts";
import { waitFor } from "../../tests/wait.ts";

Deno.test("listen addresses: udp, tcp, IPv6 and unix; anything else is a one-line error", () => {
  assert.deepEqual(parseListenAddress("udp://127.0.0.1:5514").port, 5514);
  assert.equal(parseListenAddress("tcp://[::1]:601").hostname, "::1");
  assert.equal(
    parseListenAddress("unix:///run/eventstorm/syslog.sock").path,
    "/run/eventstorm/syslog.sock",
  );
  assert.throws(() => parseListenAddress("http://x:1"), /expected udp/);
  assert.throws(() => parseListenAddress("udp://x:70000"), /port out of range/);
});

Deno.test("a burst of 5000 UDP datagrams is received whole (large kernel buffer)", async () => {
  const got: string[] = [];
  const listeners = await SyslogListeners.open(
    [parseListenAddress("udp://127.0.0.1:0")],
    (m) => got.push(new TextDecoder().decode(m)),
  );
  try {
    const port = listeners.boundPorts.get("udp://127.0.0.1:0")!;
    assert.ok(port > 0);
    assert.deepEqual(listeners.bound, [`udp://127.0.0.1:${port}`], "what the source prints");
    const sender = new Deno.Command("python3", {
      args: [
        "-c",
        `import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
for i in range(5000): s.sendto(b'<13>Dec  3 06:00:00 h app: %d\\n' % i, ('127.0.0.1', ${port}))`,
      ],
    });
    assert.ok((await sender.output()).success);
    await waitFor(() => got.length >= 5000, `5000 datagrams, got ${got.length}`, 10_000);
    assert.equal(got[4999], "<13>Dec  3 06:00:00 h app: 4999");
  } finally {
    await listeners.close();
  }
});

Deno.test("TCP and Unix stream listeners frame what they receive", async () => {
  const dir = await Deno.makeTempDir();
  const got: string[] = [];
  const listeners = await SyslogListeners.open(
    [parseListenAddress("tcp://127.0.0.1:0"), parseListenAddress(`unix-stream://${dir}/s.sock`)],
    (m, via) => got.push(`${via.split(":")[0]} ${new TextDecoder().decode(m)}`),
  );
  try {
    const tcp = await Deno.connect({
      hostname: "127.0.0.1",
      port: listeners.boundPorts.get("tcp://127.0.0.1:0")!,
    });
    await tcp.write(new TextEncoder().encode("5 <13>a<13>b\n"));
    tcp.close();
    const unix = await Deno.connect({ transport: "unix", path: `${dir}/s.sock` });
    await unix.write(new TextEncoder().encode("<13>c\n"));
    unix.close();
    await waitFor(() => got.length >= 3, `3 messages, got ${got}`, 5000);
    assert.deepEqual(got.sort(), ["tcp <13>a", "tcp <13>b", "unix-stream <13>c"]);
  } finally {
    await listeners.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a Unix datagram listener takes what syslog(3) clients send, as /dev/log does", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/log.sock`;
  const got: string[] = [];
  const listeners = await SyslogListeners.open(
    [parseListenAddress(`unix://${path}`)],
    (m, via) => got.push(`${via.split(":")[0]} ${new TextDecoder().decode(m)}`),
  );
  try {
    // Other users' daemons (nginx workers) must be able to send.
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o666);
    // util-linux logger, datagrams only: what nginx's syslog:server=unix: sends too.
    for (const text of ["one", "two"]) {
      const logger = new Deno.Command("logger", {
        args: ["--udp", "--socket", path, "--rfc3164", "--tag", "app", text],
      });
      assert.ok((await logger.output()).success, "logger could not send");
    }
    await waitFor(() => got.length >= 2, `2 datagrams, got ${got}`, 5000);
    assert.match(got[0], /^unix <\d+>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ app(\[\d+\])?: one$/);
    assert.match(got[1], / app(\[\d+\])?: two$/);
    assert.equal(listeners.stats.datagrams, 2);
    // The kernel's queue for such a socket decides whether bursts fit: the operator is told.
    const queue = Number(Deno.readTextFileSync("/proc/sys/net/unix/max_dgram_qlen"));
    assert.equal(listeners.warnings.length, queue < 512 ? 1 : 0);
    if (queue < 512) assert.match(listeners.warnings[0], /net\.unix\.max_dgram_qlen/);
  } finally {
    await listeners.close();
  }
  // The socket file goes with the listener.
  assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("what a full UDP buffer drops is counted for that socket: received + dropped = sent", async () => {
  let received = 0;
  // A small buffer, and this thread kept busy while the burst arrives: most of it is dropped.
  const udp = DatagramReceiver.bindUdp("127.0.0.1", 0, () => received++, { bufferBytes: 4096 });
  try {
    const sent = 2000;
    const sender = new Deno.Command("python3", {
      args: [
        "-c",
        `import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
for i in range(${sent}): s.sendto(b'<13>Dec  3 06:00:00 h app: %d' % i, ('127.0.0.1', ${udp.port}))`,
      ],
    }).spawn();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
    assert.ok((await sender.status).success);
    await waitFor(
      () => received + udp.kernelDrops() >= sent,
      `received ${received} + dropped ${udp.kernelDrops()} of ${sent}`,
      10_000,
    );
    assert.ok(udp.kernelDrops() > 0, "nothing was dropped: the test did not fill the buffer");
    assert.equal(received + udp.kernelDrops(), sent);
  } finally {
    await udp.close();
  }
});

Deno.test("a Unix listen path that holds anything but a socket is refused, never removed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/notes.txt`, "keep");
    for (const scheme of ["unix", "unix-stream"]) {
      await assert.rejects(
        SyslogListeners.open([parseListenAddress(`${scheme}://${dir}/notes.txt`)], () => {}),
        /cannot listen on/,
      );
      assert.equal(await Deno.readTextFile(`${dir}/notes.txt`), "keep", scheme);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a Unix socket another listener holds is refused as in use and left to it; a stale one is replaced (audit #5)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const scheme of ["unix", "unix-stream"]) {
      const path = `${dir}/${scheme}.sock`;
      const got: string[] = [];
      const first = await SyslogListeners.open(
        [parseListenAddress(`${scheme}://${path}`)],
        (m) => got.push(new TextDecoder().decode(m)),
      );
      try {
        await assert.rejects(
          SyslogListeners.open([parseListenAddress(`${scheme}://${path}`)], () => {}),
          (error: Error) => {
            assert.match(error.message, /cannot listen on .*: .* is in use by another process/);
            return true;
          },
        );
        // Still the first one's: it still receives.
        assert.ok(Deno.lstatSync(path).isSocket, `${scheme}: the socket file was removed`);
        if (scheme === "unix") {
          const logger = new Deno.Command("logger", {
            args: ["--udp", "--socket", path, "--rfc3164", "--tag", "app", "still"],
          });
          assert.ok((await logger.output()).success, "logger could not send");
        } else {
          const conn = await Deno.connect({ transport: "unix", path });
          await conn.write(new TextEncoder().encode("<13>still\n"));
          conn.close();
        }
        await waitFor(() => got.some((line) => line.includes("still")), `${scheme}: a message`);
      } finally {
        await first.close();
      }
    }
    // A socket file nobody holds (a process that died without removing it) is taken over.
    const stale = `${dir}/stale.sock`;
    await (DatagramReceiver.bindUnix(stale, () => {})).close();
    assert.ok(Deno.lstatSync(stale).isSocket);
    const again = await SyslogListeners.open([parseListenAddress(`unix://${stale}`)], () => {});
    await again.close();
    // A missing directory says so.
    await assert.rejects(
      SyslogListeners.open([parseListenAddress(`unix://${dir}/no/such/log`)], () => {}),
      /cannot bind unix .*\/no\/such\/log: no such directory/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("too long and bad frames are counted while the connection stays open, as rsyslog keeps it (audit)", async () => {
  const got: string[] = [];
  const listeners = await SyslogListeners.open(
    [parseListenAddress("tcp://127.0.0.1:0")],
    (m) => got.push(new TextDecoder().decode(m)),
    256,
  );
  const tcp = await Deno.connect({
    hostname: "127.0.0.1",
    port: listeners.boundPorts.get("tcp://127.0.0.1:0")!,
  });
  try {
    await tcp.write(
      new TextEncoder().encode(
        `0 <13>x\n12345678901 <13>y\n<13>${"a".repeat(300)}\n<13>ok\n`,
      ),
    );
    await waitFor(() => got.includes("<13>ok"), `the last message, got ${got.length}`, 5000);
    assert.equal(listeners.stats.badFrames, 2);
    assert.equal(listeners.stats.tooLong, 1);
    assert.deepEqual(got, [`<13>${"a".repeat(252)}`, "<13>ok"]);
  } finally {
    tcp.close();
    await listeners.close();
  }
  // Counted once, not again when the connection ends.
  assert.equal(listeners.stats.badFrames, 2);
  assert.equal(listeners.stats.tooLong, 1);
});
