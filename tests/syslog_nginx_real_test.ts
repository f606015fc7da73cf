/**
 * The real nginx sends its access log over syslog (`access_log syslog:server=...`)
 * to `eventstorm source syslog`, over UDP and over a Unix datagram socket: N requests
 * give N `http.hit` events with the request's fields, parsed with the log_format read
 * from nginx.conf. nginx comes
 * from scripts/nginx.sh; without it the test is skipped, or fails under CI=true.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Collector, type Event } from "@eventstorm/core";
import { freePort, syslogSource, waitFor } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = join(ROOT, "scripts", "nginx.sh");
const CI = Deno.env.get("CI") === "true";

async function script(
  args: string[],
  env: Record<string, string> = {},
): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("bash", { args: [SCRIPT, ...args], env, stderr: "piped" })
      .output();
    return out.success ? undefined : new TextDecoder().decode(out.stderr).trim();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const unavailable = await script(["install"]);
if (unavailable && !CI) console.warn(`skipping real nginx syslog test: ${unavailable}`);

for (const transport of ["udp", "unix"] as const) {
  Deno.test({
    name:
      `real nginx access_log syslog (${transport}): N requests give N http.hit through source syslog`,
    ignore: unavailable !== undefined && !CI,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      if (unavailable) throw new Error(`nginx is required under CI: ${unavailable}`);
      const dir = await Deno.makeTempDir({ prefix: "syslog_nginx_" });
      const [port, backend] = [freePort(), freePort()];
      const syslogPort = freePort(); // the UDP port of the same number is as good as free
      // nginx's syslog:server=unix:PATH sends datagrams, as to /dev/log.
      const [listen, nginxSyslog] = transport === "udp"
        ? [`udp://127.0.0.1:${syslogPort}`, `127.0.0.1:${syslogPort}`]
        : [`unix://${dir}/log.sock`, `unix:${dir}/log.sock`];
      // A Unix datagram socket queues net.unix.max_dgram_qlen datagrams; nginx does not wait
      // and drops the rest. Kernels without systemd keep 10 (the source warns); systemd sets
      // 512, as here for the test's length.
      const QUEUE = "/proc/sys/net/unix/max_dgram_qlen";
      const queueBefore = transport === "unix" ? await Deno.readTextFile(QUEUE) : undefined;
      if (queueBefore !== undefined && Number(queueBefore) < 512) {
        await Deno.writeTextFile(QUEUE, "512");
      }
      const received: Event[] = [];
      const collector = await Collector.open({
        endpoints: "@tcp://127.0.0.1:*",
        topics: ["http."],
      });
      const receiving = (async () => {
        for await (const event of collector.events()) received.push(event);
      })();
      let source: Awaited<ReturnType<typeof syslogSource>> | undefined;
      try {
        const started = await script(["start", dir, String(port), String(backend)], {
          NGINX_SYSLOG: nginxSyslog,
        });
        assert.equal(started, undefined, started);
        source = await syslogSource(listen, collector.boundEndpoint(), [
          ...["--nginx-conf", join(dir, "nginx.conf"), "--format-name", "eventstorm"],
          ...["--stats-interval", "2s"],
        ]);
        const stderr = source.stderr;
        // One request first, until it arrives: the source is listening and connected.
        await waitFor(
          async () => {
            await (await fetch(`http://127.0.0.1:${port}/warmup`)).arrayBuffer();
            return received.some((e) => e.path === "/warmup");
          },
          `a first hit\n${stderr()}`,
          30_000,
          500,
        );
        const run = crypto.randomUUID().slice(0, 8);
        const n = 300;
        const statuses = new Map<string, number>();
        for (let i = 0; i < n; i += 10) {
          await Promise.all(Array.from({ length: 10 }, async (_, k) => {
            const id = `${run}-${i + k}`;
            const path = (i + k) % 3 === 0 ? `/missing/${id}` : `/page/${id}`;
            const response = await fetch(`http://127.0.0.1:${port}${path}`);
            await response.arrayBuffer();
            statuses.set(path, response.status);
          }));
        }
        const mine = () => received.filter((e) => String(e.path).includes(run));
        await waitFor(() => mine().length >= n, "every request's event", 30_000).catch((error) => {
          throw new Error(`${error.message}: ${mine().length} of ${n} arrived\n${stderr()}`);
        });
        await new Promise((resolve) => setTimeout(resolve, 500));
        const hits = mine();
        assert.equal(hits.length, n);
        assert.equal(new Set(hits.map((e) => e.path)).size, n);
        for (const hit of hits) {
          assert.equal(hit.type, "http.hit");
          assert.equal(hit.status, statuses.get(String(hit.path)));
          assert.equal(hit.method, "GET");
        }
        await source.stop();
        assert.match(
          stderr(),
          /unparsed 0, ignored 0, too long 0, bad frames 0, kernel drops 0\n$/,
        );
      } finally {
        await source?.stop("SIGKILL");
        await script(["stop", dir]);
        if (queueBefore !== undefined) await Deno.writeTextFile(QUEUE, queueBefore);
        await collector.close();
        await receiving;
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}
