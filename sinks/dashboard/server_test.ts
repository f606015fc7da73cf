import assert from "node:assert/strict";
import { DashboardServer, isLoopback } from "./server.ts";
import { FUZZ_SEED, LineFuzzer, withSeed } from "../../tests/fuzz.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "0123456789abcdef0123";

/** One raw HTTP/1.1 request, for headers fetch and WebSocket would not send; returns the status. */
async function rawStatus(port: number, lines: string[]): Promise<number> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await connection.write(new TextEncoder().encode([...lines, "", ""].join("\r\n")));
    const buffer = new Uint8Array(4096);
    const read = await connection.read(buffer);
    const head = new TextDecoder().decode(buffer.subarray(0, read ?? 0));
    return Number(head.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
  } finally {
    connection.close();
  }
}

function upgradeLines(port: number, path: string, extra: string[] = []): string[] {
  return [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    ...extra,
  ];
}

function firstMessage(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.onmessage = (message) => {
      resolve(String(message.data));
      socket.close();
    };
    socket.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
  });
}

Deno.test("isLoopback", () => {
  for (const name of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) {
    assert.ok(isLoopback(name), name);
  }
  for (const name of ["0.0.0.0", "::", "192.168.1.10", "example.org", "128.0.0.1"]) {
    assert.ok(!isLoopback(name), name);
  }
});

Deno.test(
  "server without token: page, assets, state, hello, and what it refuses",
  opts,
  async () => {
    const server = DashboardServer.listen({ port: 0, hello: () => '{"type":"hello","n":1}' });
    try {
      const base = server.url;
      const page = await fetch(base);
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type")!, /^text\/html/);
      assert.match(page.headers.get("content-security-policy")!, /script-src 'self'/);
      assert.equal(page.headers.get("x-content-type-options"), "nosniff");
      assert.match(await page.text(), /<script type="module" src="app.js"/);
      const uplot = await fetch(new URL("vendor/uplot-1.6.32/uPlot.iife.min.js", base));
      assert.equal(uplot.status, 200);
      assert.match(await uplot.text(), /uPlot/);
      const state = await fetch(new URL("api/state", base));
      assert.deepEqual(await state.json(), { type: "hello", n: 1 });
      const missing = await fetch(new URL("nope", base));
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      const post = await fetch(base, { method: "POST", body: "x" });
      assert.equal(post.status, 405);
      await post.body?.cancel();

      assert.equal(
        await firstMessage(`ws://127.0.0.1:${server.port}/ws`),
        '{"type":"hello","n":1}',
      );
      // Another site open in the same browser may not read the stream...
      assert.equal(
        await rawStatus(
          server.port,
          upgradeLines(server.port, "/ws", ["Origin: https://evil.example"]),
        ),
        403,
      );
      // ...nor a page reached through a rebound DNS name.
      assert.equal(
        await rawStatus(server.port, [
          "GET /api/state HTTP/1.1",
          `Host: evil.example:${server.port}`,
        ]),
        421,
      );
      assert.equal(
        await rawStatus(
          server.port,
          upgradeLines(server.port, "/ws", [`Origin: http://127.0.0.1:${server.port}`]),
        ),
        101,
      );
      assert.equal(
        await rawStatus(server.port, [
          "GET /api/state HTTP/1.1",
          `Host: localhost:${server.port}`,
        ]),
        200,
      );
    } finally {
      await server.close();
    }
  },
);

Deno.test("server with token: page, state and WebSocket need it", opts, async () => {
  const server = DashboardServer.listen({ port: 0, token: TOKEN, hello: () => '{"type":"hello"}' });
  try {
    const base = server.url;
    const denied = await fetch(base);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const wrong = await fetch(`${base}?token=${TOKEN.slice(0, -1)}x`);
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const page = await fetch(`${base}?token=${TOKEN}`);
    assert.equal(page.status, 200);
    await page.body?.cancel();
    const bearer = await fetch(new URL("api/state", base), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(bearer.status, 200);
    await bearer.body?.cancel();
    const state = await fetch(new URL("api/state", base));
    assert.equal(state.status, 401);
    await state.body?.cancel();
    // Static code is public: it holds no data.
    const script = await fetch(new URL("app.js", base));
    assert.equal(script.status, 200);
    await script.body?.cancel();
    assert.equal(await rawStatus(server.port, upgradeLines(server.port, "/ws")), 401);
    assert.equal(
      await rawStatus(server.port, upgradeLines(server.port, `/ws?token=${TOKEN}`)),
      101,
    );
    assert.equal(
      await firstMessage(`ws://127.0.0.1:${server.port}/ws?token=${TOKEN}`),
      '{"type":"hello"}',
    );
  } finally {
    await server.close();
  }
});

Deno.test(
  "a hello in chunks: /api/state streams the same arrays to every request, a page gets them joined",
  opts,
  async () => {
    const encoder = new TextEncoder();
    const big = encoder.encode(`"${"x".repeat(1 << 20)}"`);
    const chunks = [encoder.encode('{"type":"hello","frames":['), big, encoder.encode(","), big];
    chunks.push(encoder.encode("]}"));
    let built = 0;
    const server = DashboardServer.listen({
      port: 0,
      hello: () => {
        built++;
        return chunks;
      },
    });
    try {
      const url = new URL("api/state", server.url);
      const responses = await Promise.all(Array.from({ length: 6 }, () => fetch(url)));
      for (const response of responses) {
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("content-type"), "application/json");
        assert.equal(Number(response.headers.get("content-length")), 2 * big.length + 29);
        const body = await response.json();
        assert.equal(body.frames.length, 2);
        assert.equal(body.frames[1].length, 1 << 20);
      }
      // Sent, not handed over: the shared arrays are whole for the next request.
      assert.equal(big.length, (1 << 20) + 2);
      assert.equal(built, 6);

      const message = await new Promise<unknown>((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
        socket.binaryType = "arraybuffer";
        socket.onmessage = (event) => {
          resolve(event.data);
          socket.close();
        };
        socket.onerror = () => reject(new Error("WebSocket failed"));
      });
      assert.ok(message instanceof ArrayBuffer, "one binary message");
      const hello = JSON.parse(new TextDecoder().decode(message));
      assert.equal(hello.type, "hello");
      assert.equal(hello.frames[0].length, 1 << 20);
      assert.equal(big.length, (1 << 20) + 2);
    } finally {
      await server.close();
    }
  },
);

Deno.test("server refuses a non-loopback address without a token", () => {
  assert.throws(
    () => DashboardServer.listen({ hostname: "0.0.0.0", port: 0, hello: () => "" }),
    /without a token/,
  );
});

Deno.test("broadcast reaches every connected page", opts, async () => {
  const server = DashboardServer.listen({ port: 0, hello: () => '{"type":"hello"}' });
  const received: string[][] = [[], []];
  const sockets = received.map((list) => {
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
    socket.onmessage = (message) => list.push(String(message.data));
    return socket;
  });
  try {
    const deadline = Date.now() + 10_000;
    while (received.some((list) => list.length === 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(server.clients, 2);
    server.broadcast('{"type":"frame"}');
    while (received.some((list) => list.length < 2) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(received, [
      ['{"type":"hello"}', '{"type":"frame"}'],
      ['{"type":"hello"}', '{"type":"frame"}'],
    ]);
  } finally {
    for (const socket of sockets) socket.close();
    await server.close();
  }
});

/** Resolves with how long until the server closed `connection` (reading what it sends). */
async function closedAfter(connection: Deno.Conn, limitMs: number): Promise<number> {
  const started = Date.now();
  const buffer = new Uint8Array(4096);
  const limit = setTimeout(() => connection.close(), limitMs);
  try {
    while ((await connection.read(buffer)) !== null) { /* the response, if any */ }
  } catch {
    // Closed by the limit above.
  } finally {
    clearTimeout(limit);
  }
  return Date.now() - started;
}

Deno.test("slow clients (slowloris) are closed after the header timeout", opts, async () => {
  const server = DashboardServer.listen({ port: 0, hello: () => "{}", headerTimeoutMs: 1000 });
  const encoder = new TextEncoder();
  const connections: Deno.Conn[] = [];
  const drips: ReturnType<typeof setInterval>[] = [];
  try {
    for (let i = 0; i < 50; i++) {
      const connection = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      await connection.write(
        encoder.encode(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`),
      );
      // A header line every 200 ms keeps the connection busy but never ends the head.
      drips.push(
        setInterval(() => connection.write(encoder.encode("X-a: b\r\n")).catch(() => {}), 200),
      );
      connections.push(connection);
    }
    // Meanwhile a normal client is served.
    const page = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(page.status, 200);
    await page.body?.cancel();
    const waits = await Promise.all(connections.map((c) => closedAfter(c, 10_000)));
    assert.ok(waits.every((ms) => ms < 5000), `closed after ${Math.max(...waits)} ms`);
  } finally {
    drips.forEach(clearInterval);
    await server.close();
  }
});

Deno.test("a WebSocket upgrade refused with 503 is closed at once", opts, async () => {
  const server = DashboardServer.listen({ port: 0, hello: () => "{}", maxClients: 1 });
  const first = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
  try {
    await new Promise((resolve) => first.onmessage = resolve);
    const connection = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await connection.write(
      new TextEncoder().encode([...upgradeLines(server.port, "/ws"), "", ""].join("\r\n")),
    );
    const buffer = new Uint8Array(4096);
    const read = await connection.read(buffer);
    assert.match(new TextDecoder().decode(buffer.subarray(0, read ?? 0)), /^HTTP\/1\.1 503 /);
    assert.ok((await closedAfter(connection, 10_000)) < 2000, "closed promptly");
  } finally {
    first.close();
    await server.close();
  }
});

Deno.test("fuzz: mutated and random request heads never stop the server", opts, async () => {
  const server = DashboardServer.listen({
    port: 0,
    hello: () => "{}",
    token: TOKEN,
    headerTimeoutMs: 1000,
  });
  const fuzzer = new LineFuzzer(FUZZ_SEED);
  const samples = [
    ...upgradeLines(server.port, `/ws?token=${TOKEN}`),
    `GET /state?token=${TOKEN} HTTP/1.1`,
    `HEAD /app.js HTTP/1.1`,
    `Authorization: Bearer ${TOKEN}`,
    "Content-Length: 5",
    "Transfer-Encoding: chunked",
    `Host: 127.0.0.1:${server.port}`,
  ];
  try {
    await withSeed(async () => {
      for (let i = 0; i < 200; i++) {
        const lines = Array.from({ length: 1 + fuzzer.int(6) }, () => fuzzer.line(samples));
        const connection = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
        try {
          await connection.write(new TextEncoder().encode([...lines, "", ""].join("\r\n")));
          // An answer, a close, or (a head that upgraded, a body awaited) a wait: no matter.
          await closedAfter(connection, 200);
        } finally {
          try {
            connection.close();
          } catch {
            // Closed by the server.
          }
        }
      }
    });
    const page = await fetch(`http://127.0.0.1:${server.port}/`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(page.status, 200);
    await page.body?.cancel();
  } finally {
    await server.close();
  }
});
