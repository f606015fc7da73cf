/**
 * The nginx source end to end against a real nginx on loopback: every request made
 * arrives at a collector exactly once with the right fields, across a logrotate-style
 * rename + `nginx -s reopen`, a copytruncate, a graceful restart of the source and a
 * `kill -9` of it. nginx comes from scripts/nginx.sh; without it the test is skipped,
 * or fails under CI=true.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Collector, type Event } from "@eventstorm/core";
import { freePort, waitFor } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = join(ROOT, "scripts", "nginx.sh");
const MAIN = join(ROOT, "sources", "nginx", "main.ts");
const CI = Deno.env.get("CI") === "true";
const HOST = "nginx-real-test";
const AGENT = 'eventstorm-test/1 "quoted" \\ agent';

async function installNginx(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("bash", { args: [SCRIPT, "install"], stderr: "piped" })
      .output();
    return out.success
      ? undefined
      : `scripts/nginx.sh install failed: ${new TextDecoder().decode(out.stderr).trim()}`;
  } catch (error) {
    return `cannot run scripts/nginx.sh: ${error instanceof Error ? error.message : error}`;
  }
}

const unavailable = await installNginx();
if (unavailable && !CI) console.warn(`skipping real nginx test: ${unavailable}`);

async function nginxScript(...args: string[]): Promise<void> {
  const out = await new Deno.Command("bash", { args: [SCRIPT, ...args], stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`scripts/nginx.sh ${args[0]}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** The source as a child process, its stderr kept for failure messages. */
class SourceProcess {
  readonly child: Deno.ChildProcess;
  stderr = "";
  readonly #drained: Promise<void>;

  constructor(args: string[]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.#drained = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) this.stderr += decoder.decode(chunk);
    })();
  }

  async stop(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
    const status = await this.child.status;
    await this.#drained;
    return status;
  }
}

type Kind = "page" | "api" | "multi" | "missing" | "post" | "teapot";
const KINDS: Kind[] = ["page", "api", "multi", "missing", "post", "teapot"];

interface Expected {
  id: string;
  kind: Kind;
  method: string;
  path: string;
  status: number;
  bodyBytes: number;
}

Deno.test({
  name: "nginx source delivers every real request once across rotation and restarts",
  ignore: unavailable !== undefined && !CI,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (unavailable) throw new Error(`nginx is required under CI: ${unavailable}`);
    const dir = await Deno.makeTempDir({ prefix: "nginx_real_" });
    const port = freePort();
    const backend = freePort();
    const log = join(dir, "access.log");
    const run = crypto.randomUUID().slice(0, 8);
    const expected = new Map<string, Expected>();
    const received: Event[] = [];
    let collector: Collector | undefined;
    let source: SourceProcess | undefined;
    let receiving: Promise<void> | undefined;
    try {
      await nginxScript("start", dir, String(port), String(backend));
      collector = await Collector.open({
        endpoints: "@tcp://127.0.0.1:*",
        topics: ["http."],
      });
      const events = collector.events();
      receiving = (async () => {
        for await (const event of events) received.push(event);
      })();

      const sourceArgs = [
        "--file",
        log,
        "--from-start",
        "--nginx-conf",
        join(dir, "nginx.conf"),
        "--format-name",
        "eventstorm",
        "--to",
        collector.boundEndpoint(),
        "--checkpoint",
        join(dir, "checkpoint.json"),
        "--host",
        HOST,
      ];
      source = new SourceProcess(sourceArgs);

      let sequence = 0;
      const request = async (kind: Kind): Promise<void> => {
        const id = `${run}-${sequence++}`;
        const path = kind === "page"
          ? `/page/${id}`
          : kind === "api" || kind === "post"
          ? `/api/${id}`
          : kind === "multi"
          ? `/multi/${id}`
          : kind === "missing"
          ? `/missing/${id}`
          : "/api/teapot";
        const method = kind === "post" ? "POST" : "GET";
        const response = await fetch(`http://127.0.0.1:${port}${path}?id=${id}`, {
          method,
          headers: { "user-agent": AGENT },
          body: kind === "post" ? "x".repeat(500) : undefined,
        });
        const body = new Uint8Array(await response.arrayBuffer());
        expected.set(id, {
          id,
          kind,
          method,
          path,
          status: response.status,
          bodyBytes: body.length,
        });
      };
      const traffic = async (count: number): Promise<void> => {
        for (let done = 0; done < count; done += 8) {
          const batch = [];
          for (let k = done; k < Math.min(count, done + 8); k++) {
            batch.push(request(KINDS[(sequence + k) % KINDS.length]));
          }
          await Promise.all(batch);
        }
      };
      const arrived = () => new Set(received.map((event) => idOf(event))).size;
      const waitAll = (what: string) =>
        waitFor(
          () => arrived() >= expected.size,
          `${what}: ${expected.size} requests, ${arrived()} arrived\n${source?.stderr ?? ""}`,
          60_000,
          50,
        );

      await traffic(200);
      await waitAll("first traffic");

      // logrotate's default: rename, then `postrotate` tells nginx to reopen. Requests
      // between the two still go to the renamed file.
      await Deno.rename(log, `${log}.1`);
      await traffic(60);
      await nginxScript("reopen", dir);
      await traffic(200);
      await waitAll("after rename + reopen");

      // A graceful restart: the checkpoint carries the position, lines written while
      // the source is down are read when it is back.
      const graceful = await source.stop("SIGTERM");
      assert.equal(graceful.code, 0, `source exit on SIGTERM\n${source.stderr}`);
      await traffic(120);
      source = new SourceProcess(sourceArgs);
      await traffic(120);
      await waitAll("after graceful restart");

      // kill -9 loses the in-memory state: lines after the last checkpoint are read
      // again, and the collector must drop them as replays.
      await traffic(100);
      await source.stop("SIGKILL");
      await traffic(100);
      source = new SourceProcess(sourceArgs);
      await traffic(100);
      await waitAll("after kill -9 restart");

      // copytruncate: copy, then truncate in place. Lines nginx writes between the copy
      // and the truncation are lost by logrotate itself, so traffic pauses meanwhile.
      await Deno.copyFile(log, `${log}.2`);
      await Deno.truncate(log, 0);
      await traffic(200);
      await waitAll("after copytruncate");

      const stopped = await source.stop("SIGTERM");
      assert.equal(stopped.code, 0, `source exit on SIGTERM\n${source.stderr}`);
      source = undefined;

      // Exactly once, with the right fields.
      const byId = new Map<string, Event[]>();
      for (const event of received) {
        const id = idOf(event);
        assert.ok(id !== undefined, `event without a test id: ${JSON.stringify(event)}`);
        byId.set(id, [...(byId.get(id) ?? []), event]);
      }
      const duplicated = [...byId].filter(([, list]) => list.length > 1).map(([id]) => id);
      assert.deepEqual(duplicated, [], "requests delivered more than once");
      const missing = [...expected.keys()].filter((id) => !byId.has(id));
      assert.deepEqual(missing, [], "requests never delivered");
      assert.equal(received.length, expected.size);

      let multiRetried = 0;
      for (const [id, want] of expected) {
        const event = byId.get(id)![0];
        const where = `request ${id} (${want.kind}): ${JSON.stringify(event)}`;
        assert.equal(event.type, "http.hit", where);
        assert.equal(event.host, HOST, where);
        assert.ok(event.time instanceof Date, where);
        assert.ok(Math.abs(event.time.getTime() - Date.now()) < 10 * 60_000, where);
        assert.equal(event.remote_addr, "127.0.0.1", where);
        assert.equal(event.method, want.method, where);
        assert.equal(event.path, want.path, where);
        assert.equal(event.query, `id=${id}`, where);
        assert.equal(event.protocol, "HTTP/1.1", where);
        assert.equal(event.request, `${want.method} ${want.path}?id=${id} HTTP/1.1`, where);
        assert.equal(event.status, want.status, where);
        assert.equal(event.body_bytes_sent, want.bodyBytes, where);
        assert.equal(event.http_user_agent, AGENT, where);
        assert.equal("http_referer" in event, false, where);
        assert.equal(typeof event.request_time, "number", where);
        assert.ok((event.bytes_sent as number) > want.bodyBytes, where);
        assert.ok((event.request_length as number) > (want.kind === "post" ? 500 : 0), where);
        assert.ok(Number.isInteger(event.connection), where);
        const proxied = want.kind === "api" || want.kind === "post" || want.kind === "multi" ||
          want.kind === "teapot";
        if (proxied) {
          assert.equal(event.upstream_status, want.status, where);
          assert.equal(typeof event.upstream_response_time, "number", where);
        } else {
          assert.equal("upstream_status" in event, false, where);
          assert.equal("upstream_response_time" in event, false, where);
        }
        if (want.kind === "multi" && event.upstream_status_list !== undefined) {
          assert.deepEqual(event.upstream_status_list, [502, 200], where);
          assert.equal((event.upstream_response_time_list as unknown[]).length, 2, where);
          multiRetried++;
        }
        if (want.kind === "teapot") assert.equal(want.status, 418, where);
        if (want.kind === "missing") assert.equal(want.status, 404, where);
      }
      // /multi/ requests that tried the dead upstream first carry lists.
      assert.ok(multiRetried > 0, "no request tried two upstreams");
      const stats = collector.stats();
      assert.equal(stats.lost, 0, `collector counted losses: ${JSON.stringify(stats)}`);
    } finally {
      if (source) await source.stop("SIGKILL");
      await collector?.close();
      await receiving?.catch(() => {});
      await nginxScript("stop", dir).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

function idOf(event: Event): string | undefined {
  const query = event.query;
  return typeof query === "string" && query.startsWith("id=") ? query.slice(3) : undefined;
}
