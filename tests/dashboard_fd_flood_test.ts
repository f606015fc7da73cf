import assert from "node:assert/strict";
import { cliWithFdLimit, waitFor } from "./helpers.ts";

Deno.test("a flood of connections past the file descriptor limit does not leave the dashboard deaf once it ends", async () => {
  const dashboard = cliWithFdLimit(150, [
    ...["sink", "dashboard", "--listen", "127.0.0.1:0"],
    ...["--token", "0123456789abcdef", "--from", ">tcp://127.0.0.1:1"],
    ...["--stats-interval", "0s", "--stats-to", "none"],
  ]);
  const conns: Deno.Conn[] = [];
  try {
    const address = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=\w+)/;
    await waitFor(() => address.test(dashboard.stdout()), "the dashboard's address");
    const url = address.exec(dashboard.stdout())![1];
    const port = Number(new URL(url).port);
    for (let i = 0; i < 200; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await dashboard.said(
      /cannot accept connections .*; retrying/,
      "the dashboard says it is out of fds",
    );
    for (const conn of conns.splice(0)) conn.close();
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = await fetch(url).then(async (page) => {
        await page.body?.cancel();
        return page.status;
      }, () => 0);
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(status, 200, dashboard.stderr());
  } finally {
    for (const conn of conns) conn.close();
    dashboard.child.kill("SIGTERM");
  }
  const { code, stderr } = await dashboard.finish();
  assert.equal(code, 0, stderr);
});
