import assert from "node:assert/strict";
import { endpointsFlag, formatEndpoint, parseEndpoints, unresolvableHosts } from "./endpoint.ts";
import { UsageError } from "./flags.ts";

Deno.test("endpoint: @ binds, > and bare connect", () => {
  assert.deepEqual(parseEndpoints("@tcp://*:5555"), [{ bind: true, address: "tcp://*:5555" }]);
  assert.deepEqual(parseEndpoints(">tcp://10.0.0.1:5555"), [
    { bind: false, address: "tcp://10.0.0.1:5555" },
  ]);
  assert.deepEqual(parseEndpoints("tcp://localhost:1"), [
    { bind: false, address: "tcp://localhost:1" },
  ]);
  assert.deepEqual(parseEndpoints("@tcp://127.0.0.1:*"), [
    { bind: true, address: "tcp://127.0.0.1:*" },
  ]);
  assert.deepEqual(parseEndpoints("@tcp://[::1]:65535"), [
    { bind: true, address: "tcp://[::1]:65535" },
  ]);
  assert.deepEqual(parseEndpoints("ipc:///tmp/es.sock"), [
    { bind: false, address: "ipc:///tmp/es.sock" },
  ]);
  assert.deepEqual(parseEndpoints("@inproc://bus"), [{ bind: true, address: "inproc://bus" }]);
});

Deno.test("endpoint: commas separate several; blanks around each are trimmed", () => {
  assert.deepEqual(parseEndpoints(" @tcp://*:1 , >tcp://h:2,\ttcp://g:3 "), [
    { bind: true, address: "tcp://*:1" },
    { bind: false, address: "tcp://h:2" },
    { bind: false, address: "tcp://g:3" },
  ]);
});

Deno.test("endpoint: a bad endpoint is one clear UsageError line naming it", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    [" , ", /empty/],
    ["localhost:5555", /expected @tcp/],
    ["udp://h:1", /unsupported transport 'udp'/],
    ["tcp://h", /HOST:PORT/],
    ["tcp://h:port", /HOST:PORT/],
    ["tcp://h:0", /out of range/],
    ["tcp://h:65536", /out of range/],
    ["tcp://h:*", /port number/],
    ["tcp://*:5555", /needs a host/],
    ["@tcp://*:5555,tcp://x", /HOST:PORT/],
    // An empty entry is refused where it stands, as libeventstorm and the nginx module do.
    [
      ">tcp://h:1,,>tcp://g:2",
      /^invalid endpoint '>tcp:\/\/h:1,,>tcp:\/\/g:2': empty \(entry 2\)$/,
    ],
    [">tcp://h:1,", /: empty \(entry 2\)$/],
    [">tcp://h:1, ", /: empty \(entry 2\)$/],
    [",>tcp://h:1", /: empty \(entry 1\)$/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => parseEndpoints(text), (error: unknown) => {
      assert.ok(error instanceof UsageError, text);
      assert.match(error.message, pattern, text);
      assert.ok(!error.message.includes("\n"), text);
      return true;
    });
  }
  assert.throws(() => parseEndpoints("tcp://h:0"), /invalid endpoint 'tcp:\/\/h:0'/);
});

Deno.test("endpoint: formatEndpoint round-trips through parseEndpoints", () => {
  for (const text of ["@tcp://*:5555", ">tcp://h:1", "@ipc:///x", ">inproc://y"]) {
    const [endpoint] = parseEndpoints(text);
    assert.equal(formatEndpoint(endpoint), text);
    assert.deepEqual(parseEndpoints(formatEndpoint(endpoint)), [endpoint]);
  }
});

Deno.test("endpoint: only connecting host names are looked up; .invalid never resolves", async () => {
  assert.deepEqual(
    await unresolvableHosts([
      ">tcp://no-such-host.invalid:5555,>tcp://no-such-host.invalid:5556",
      ">tcp://localhost:5555",
      ">tcp://127.0.0.1:5555",
      ">tcp://[::1]:5555",
      "@tcp://bind-only.invalid:5555",
      "ipc:///tmp/es.sock",
    ]),
    [{ host: "no-such-host.invalid", reason: "ENOTFOUND" }],
  );
});

Deno.test("endpoint: an endpoint flag refuses inproc://, which reaches only this process", () => {
  const values = { from: [">tcp://127.0.0.1:5556", "ipc:///tmp/es.sock"] };
  assert.deepEqual(endpointsFlag(values, "from"), values.from);
  for (const text of [">inproc://x", "tcp://h:1,inproc://x"]) {
    assert.throws(
      () => endpointsFlag({ from: [text] }, "from"),
      new RegExp(`^UsageError: --from ${text}: inproc:// reaches only this process`),
    );
  }
});
