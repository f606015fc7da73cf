import assert from "node:assert/strict";
import { cliWithFdLimit } from "./helpers.ts";

Deno.test("a flood of TCP connections past the file descriptor limit does not leave the syslog source deaf once it ends (audit)", async () => {
  const source = cliWithFdLimit(120, [
    ...["source", "syslog", "--listen", "tcp://127.0.0.1:0"],
    ...["--print", "--generic", "--stats-interval", "200ms"],
  ]);
  const conns: Deno.Conn[] = [];
  try {
    await source.said(/listening on tcp:\/\/127\.0\.0\.1:\d+/);
    const port = Number(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(source.stderr())![1]);
    for (let i = 0; i < 200; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await source.said(/cannot accept connections .*; retrying/, "the source says it is out of fds");
    for (const conn of conns.splice(0)) conn.close();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("<13>Dec  3 06:00:00 h app: after the flood\n"));
    conn.close();
    // Read once the flood's connections are gone (the stats line counts it).
    await source.said(/messages 1, /, "the message after the flood");
  } finally {
    for (const conn of conns) conn.close();
    source.child.kill("SIGTERM");
  }
  const { code, stdout, stderr } = await source.finish();
  assert.equal(code, 0, stderr);
  assert.match(stdout, /"message":"after the flood"/, stderr);
});
