import assert from "node:assert/strict";
import { EventStore, queryEvents } from "@eventstorm/sink-store";
import { cli } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "demo: generated logs → real sources → router → store and dashboard, nothing lost across rotations",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "eventstorm-demo-test-" });
    try {
      const child = cli([
        "demo",
        "--rate",
        "400",
        "--rotate",
        "3s",
        "--dir",
        dir,
        "--listen",
        "127.0.0.1:0",
        "--sources-port",
        "0",
        "--sinks-port",
        "0",
      ]);
      // Whatever goes wrong, the test ends: a demo still running at 90 s is killed.
      const watchdog = setTimeout(() => child.kill("SIGKILL"), 90_000);
      const lines: string[] = [];
      let page: { status: number; text: string } | undefined;
      const decoder = new TextDecoder();
      let rest = "";
      for await (const chunk of child.stdout) {
        const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
        rest = parts.pop()!;
        for (const line of parts) {
          lines.push(line);
          const url = line.match(/^demo: dashboard at (\S+)/)?.[1];
          if (url !== undefined) {
            const response = await fetch(url);
            page = { status: response.status, text: await response.text() };
            // Ctrl-C after a while: the demo stops its pipeline in order, losing nothing.
            setTimeout(() => child.kill("SIGINT"), 11_000);
          }
        }
      }
      const status = await child.status;
      clearTimeout(watchdog);
      const stderr = decoder.decode(
        (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
      );
      const stdout = lines.join("\n");
      assert.equal(status.code, 0, `${stdout}\n${stderr}`);
      assert.ok(page, `the dashboard URL was printed: ${stdout}`);
      assert.equal(page.status, 200);
      assert.match(page.text, /<html/i);
      assert.match(stdout, /^demo: \S+ ev\/s, \d+ events, lost 0 \| /m, "the rate line");

      const summary = stdout.match(
        /wrote (\d+) nginx, (\d+) Postfix and (\d+) sshd lines \((\d+) rotations\); the router carried (\d+) events, lost (\d+)/,
      );
      assert.ok(summary, stdout);
      const [nginxLines, , , rotations, carried, lost] = summary.slice(1).map(Number);
      assert.ok(nginxLines > 1000, `${nginxLines} nginx lines in 11 s at 400/s`);
      assert.ok(rotations >= 2, `${rotations} rotations in 11 s every 3 s`);
      // Every source agrees with what its lines make: requests, transactions, logins.
      const agree = stdout.match(
        /nginx requests (\d+) → (\d+) http\.hit ✓; Postfix transactions (\d+) → (\d+) smtp\.transaction ✓; sshd logins (\d+) → (\d+) ssh\.login ✓/,
      );
      assert.ok(agree, stdout);
      const [requests, hits, transactions, transactionEvents, logins, loginEvents] = agree.slice(1)
        .map(Number);
      assert.equal(requests, nginxLines);
      assert.equal(hits, nginxLines, "every nginx line, across rotations, became one http.hit");
      assert.ok(transactions > 0 && logins > 0, stdout);
      assert.equal(transactionEvents, transactions);
      assert.equal(loginEvents, logins);
      assert.equal(lost, 0);

      const store = EventStore.open(`${dir}/events.db`, { readOnly: true });
      try {
        assert.equal(queryEvents(store, { type: "http.hit" }).length, nginxLines);
        const types = store.types();
        for (const type of ["smtp.transaction", "ssh.login", "host.memory"]) {
          assert.ok(types.includes(type), `${type} in ${types.join(", ")}`);
        }
        assert.ok(store.count() <= carried + 10, "the store holds what the router carried");
      } finally {
        store.close();
      }
      // Checkpoints were written, so a second run with the same --dir carries on.
      for (const name of ["nginx", "postfix", "sshd"]) {
        assert.ok((await Deno.stat(`${dir}/state/${name}.json`)).isFile, name);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
