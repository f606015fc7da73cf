/**
 * ngx_http_eventstorm_module in Debian's own nginx (loaded with load_module, built by
 * sources/nginx/module/build.sh): every request arrives once at a tap and in the store,
 * with the same fields as the `nginx` log source reading nginx's own access log of the
 * same requests; reloads under load lose nothing that is not counted; an endpoint that
 * does not resolve or a router that is down neither fails nor stalls requests.
 * Without nginx or the build tools the tests are skipped, or fail under CI=true.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { EJSON } from "bson";
import type { Event } from "@eventstorm/core";
import { EventStore, queryEvents } from "@eventstorm/sink-store";
import { COMBINED_FORMAT, nginxParser } from "@eventstorm/source-nginx";
import {
  cli,
  DEAD_PORT,
  finish,
  freePort,
  startRouterProcess,
  tempDir,
  waitFor,
} from "./helpers.ts";
import {
  buildModule,
  type Nginx,
  type NginxOptions,
  rawRequest,
  ROOT,
  startNginx,
} from "./nginx_module.ts";

const CI = Deno.env.get("CI") === "true";
const built = await buildModule();
const unavailable = "error" in built ? built.error : undefined;
if (unavailable && !CI) console.warn(`skipping nginx module tests: ${unavailable}`);
const so = "so" in built ? built.so : "";
const opts = {
  ignore: unavailable !== undefined && !CI,
  sanitizeOps: false,
  sanitizeResources: false,
};
const encoder = new TextEncoder();

/** The format nginx's own access log is written in for the differential test. */
const DIFF_FORMAT = `${COMBINED_FORMAT} $request_time "$upstream_response_time" $host $request_id`;

/** `eventstorm tap` printing every event as a JSON line; `events()` parses what came. */
function tap(from: string) {
  const child = cli(["tap", "--from", from]);
  let text = "";
  const pump = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  const errors = new Response(child.stderr).text();
  return {
    // Only whole lines: the last one may still be arriving. The tap writes every int64
    // as {"$numberLong": …} (docs/protocol.md 2.9): relaxed EJSON makes them numbers.
    events: (): Record<string, unknown>[] =>
      text.split("\n").slice(0, -1).filter((line) => line.startsWith("{")).map((line) =>
        EJSON.parse(line, { relaxed: true })
      ),
    stop: async () => {
      try {
        child.kill("SIGINT");
      } catch { /* exited */ }
      await child.status;
      await pump;
      return await errors;
    },
  };
}

/**
 * Requests /warmup until the tap has an http.hit: pub/sub delivers only to the
 * subscribers present, so a test's own requests come after this.
 */
async function untilTapSubscribed(t: ReturnType<typeof tap>, port: number): Promise<void> {
  await waitFor(async () => {
    await (await fetch(`http://127.0.0.1:${port}/warmup`)).body?.cancel();
    return t.events().some((event) => event.type === "http.hit");
  }, "the tap subscribed");
}

/**
 * Runs `body` against Debian's nginx configured by `options(router's sources endpoint)`,
 * with a fresh router and a tap on it; stops nginx, the tap and the router after.
 */
async function withModule(
  options: (to: string) => NginxOptions,
  body: (nginx: Nginx, t: ReturnType<typeof tap>) => Promise<void>,
): Promise<void> {
  const r = await startRouterProcess();
  const t = tap(r.sinks);
  let nginx: Nginx | undefined;
  try {
    nginx = await startNginx(options(r.sources), freePort(), freePort());
    await body(nginx, t);
  } finally {
    await nginx?.stop();
    await t.stop();
    await r.stop();
  }
}

/** `eventstorm sink store` into DB, subscribed to http.hit. */
function store(from: string, db: string) {
  const child = cli([
    ...["sink", "store", "--db", db, "--from", from, "--topic", "http.hit"],
    ...["--stats-interval", "1s", "--stats-to", "none"],
  ]);
  let stderr = "";
  const drain = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  return {
    stderr: () => stderr,
    events: (): Event[] => {
      try {
        const opened = EventStore.open(db, { readOnly: true });
        try {
          return queryEvents(opened, { type: "http.hit" });
        } finally {
          opened.close();
        }
      } catch {
        return [];
      }
    },
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* stopped already */ }
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await drain;
    },
  };
}

function moduleConf(to: string, extra = "") {
  return {
    main: `load_module ${so};`,
    http: `eventstorm_to ${to};\n    eventstorm_stats_interval 500ms;\n    ${extra}`,
  };
}

/** Requests of every shape the default fields cover, each with a distinct id in its path. */
function requestFor(i: number, run: string): { head: Uint8Array; body?: Uint8Array } {
  const id = `${run}-${i}`;
  const agents: (string | Uint8Array)[] = [
    "curl/8.0",
    'agent "quoted" \\ back',
    "caf\u00e9 \u2713 agent",
    new Uint8Array([0x62, 0x61, 0x64, 0xff, 0xfe, 0x01]),
    "",
  ];
  const kind = i % 6;
  const path = kind === 0
    ? `/page/${id}?q=${i}&x=%20y`
    : kind === 1
    ? `/api/${id}`
    : kind === 2
    ? `/multi/${id}`
    : kind === 3
    ? `/missing/${id}`
    : kind === 4
    ? `/api/teapot?id=${id}`
    : `/page/${id}`;
  const method = kind === 5 ? "POST" : "GET";
  const lines: (string | Uint8Array)[] = [`${method} ${path} HTTP/1.1\r\nHost: front\r\n`];
  lines.push("User-Agent: ", agents[i % agents.length], "\r\n");
  if (i % 3 === 0) lines.push(`Referer: http://example.com/from/${i}\r\n`);
  if (i % 4 === 0) lines.push(`Authorization: Basic ${btoa(`user${i}:pw`)}\r\n`);
  const body = kind === 5 ? encoder.encode(`body ${id}`) : undefined;
  if (body) lines.push(`Content-Length: ${body.length}\r\n`);
  lines.push("Connection: close\r\n\r\n");
  const parts = lines.map((part) => typeof part === "string" ? encoder.encode(part) : part);
  const head = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) head.set(part, at), at += part.length;
  return { head, body };
}

/** Events keyed by request_id, time to whole seconds (the log's $time_local). */
function byRequestId(events: Record<string, unknown>[]): Map<string, Record<string, unknown>> {
  const map = new Map<string, Record<string, unknown>>();
  for (const event of events) {
    const { time, host: _host, _id, ...fields } = event;
    const millis = time instanceof Date ? time.getTime() : Date.parse(String(time));
    map.set(String(event.request_id), { ...fields, second: Math.floor(millis / 1000) });
  }
  return map;
}

Deno.test({
  name:
    "nginx module: N requests give N http.hit at a tap and in the store, equal to the log source's",
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    const r = await startRouterProcess();
    await using temp = await tempDir({ prefix: "nginx_module_store_" });
    const dir = temp.path;
    const t = tap(r.sinks);
    const s = store(r.sinks, join(dir, "events.db"));
    let nginx: Nginx | undefined;
    try {
      const diffLog = join(dir, "diff.log");
      nginx = await startNginx(
        {
          ...moduleConf(
            r.sources,
            `log_format diff '${DIFF_FORMAT}';\n    access_log ${diffLog} diff;`,
          ),
          server: "eventstorm on;",
          workers: 2,
        },
        freePort(),
        freePort(),
      );
      const N = 240;
      const run = crypto.randomUUID().slice(0, 8);
      // Pub/sub delivers to the subscribers present: first make sure both are.
      const received = () => Number([...s.stderr().matchAll(/received (\d+),/g)].at(-1)?.[1] ?? 0);
      let warmups = 0;
      await waitFor(
        async () => {
          const status = await rawRequest(
            nginx!.port,
            `GET /warmup/${warmups++} HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n`,
          );
          assert.equal(status, 200);
          return received() > 0 && t.events().some((event) => event.type === "http.hit");
        },
        "the tap and the store sink subscribed",
        20_000,
      );
      const statuses: number[] = [];
      for (let i = 0; i < N; i++) {
        const { head, body } = requestFor(i, run);
        statuses.push(await rawRequest(nginx.port, head, body));
      }
      const unanswered = statuses.flatMap((status, i) => status > 0 ? [] : [i]);
      if (unanswered.length > 0) {
        const log = await Deno.readTextFile(join(nginx.dir, "error.log")).catch(() => "");
        assert.fail(`requests ${unanswered.join(", ")} got no response; error.log:\n${log}`);
      }
      const hits = () =>
        t.events().filter((event) =>
          event.type === "http.hit" && String(event.request).includes(run)
        );
      // The store is read after the sink has stopped: it reports what it stored first.
      const storedCount = () => Number([...s.stderr().matchAll(/stored (\d+),/g)].at(-1)?.[1] ?? 0);
      await waitFor(() => hits().length >= N && storedCount() >= N, `${N} hits`, 20_000)
        .catch((error) => {
          throw new Error(`${error.message}: tap ${hits().length}, store ${storedCount()}`);
        });
      // Then until the store's count settles (early warm-ups may have missed it).
      for (let last = -1; last !== storedCount();) {
        last = storedCount();
        await new Promise((resolve) => setTimeout(resolve, 1200));
      }
      assert.equal(hits().length, N, "exactly N http.hit at the tap");
      await s.stop();
      const stored = s.events().filter((event) => String(event.request).includes(run));
      assert.equal(stored.length, N, "exactly N http.hit in the store");
      const ids = new Set(stored.map((event) => String(event.request_id)));
      assert.equal(ids.size, N, "N distinct requests");

      // The same requests through nginx's own access_log and the `nginx` log source.
      const parser = nginxParser({ format: DIFF_FORMAT });
      const host = Deno.hostname();
      const logged: Record<string, unknown>[] = [];
      for (const line of (await Deno.readTextFile(diffLog)).split("\n")) {
        if (line === "" || line.includes("/warmup/")) continue;
        const events = parser.parse(line, { path: diffLog, host, readAt: new Date() });
        assert.ok(events, `the log source parses ${line}`);
        logged.push(...events);
      }
      assert.equal(logged.length, N);
      const fromLog = byRequestId(logged);
      const fromModule = byRequestId(stored as Record<string, unknown>[]);
      for (const [id, expected] of fromLog) {
        assert.deepEqual(fromModule.get(id), expected, `request ${id}`);
      }
      // The shapes the comparison covered, so it cannot pass on trivial events.
      const some = (test: (event: Record<string, unknown>) => boolean) =>
        [...fromModule.values()].some(test);
      assert.ok(
        some((event) => Array.isArray(event.upstream_response_time_list)),
        "upstream lists",
      );
      assert.ok(some((event) => typeof event.upstream_response_time === "number"), "upstream time");
      assert.ok(some((event) => String(event.http_user_agent).includes("\u2713")), "UTF-8 agent");
      assert.ok(some((event) => String(event.http_user_agent).includes("\\xFF")), "bytes escaped");
      assert.ok(some((event) => event.remote_user === "user0"), "remote_user");
      assert.ok(some((event) => event.status === 418 && event.query !== undefined), "query");
      assert.ok(some((event) => event.method === "POST"), "POST");
      assert.ok(some((event) => event.http_referer !== undefined), "referer");
      assert.ok(some((event) => event.vhost === "front"), "vhost");
      const stats = t.events().filter((event) => event.type === "eventstorm.stats");
      assert.ok(stats.length > 0, "workers publish eventstorm.stats");
      assert.ok(stats.every((event) => event.component === "nginx" && event.dropped === 0));
    } finally {
      await nginx?.stop();
      await s.stop();
      await t.stop();
      await r.stop();
    }
  },
});

Deno.test({
  name: "nginx module: request_id is the request's $request_id, read before the module or after",
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    await using temp = await tempDir({ prefix: "nginx_module_id_" });
    const idLog = join(temp.path, "ids.log");
    await withModule(
      (to) => ({
        ...moduleConf(
          to,
          // The access log reads $request_id after the module has.
          `log_format ids '$request_uri $request_id';\n    access_log ${idLog} ids;`,
        ),
        // /early/ reads it before the module, for a response header: nginx's own id.
        server: "eventstorm on;\n        location /early/ " +
          '{ add_header X-Request-ID $request_id always; return 200 "early\\n"; }',
      }),
      async (nginx, t) => {
        const port = nginx.port;
        const run = crypto.randomUUID().slice(0, 8);
        await untilTapSubscribed(t, port);
        const paths = Array.from(
          { length: 20 },
          (_, i) => `/${i % 2 ? "early" : "page"}/${run}-${i}`,
        );
        const headers = new Map<string, string | null>();
        for (const path of paths) {
          const response = await fetch(`http://127.0.0.1:${port}${path}`);
          await response.body?.cancel();
          assert.equal(response.status, 200, path);
          headers.set(path, response.headers.get("x-request-id"));
        }
        const hits = () => t.events().filter((event) => String(event.path).includes(run));
        await waitFor(() => hits().length === paths.length, "20 hits");
        const logged = new Map<string, string>();
        await waitFor(async () => {
          for (const line of (await Deno.readTextFile(idLog)).split("\n")) {
            const [uri, id] = line.split(" ");
            if (uri?.includes(run)) logged.set(uri, id);
          }
          return logged.size === paths.length;
        }, "the ids logged");
        for (const event of hits()) {
          const path = String(event.path);
          assert.match(String(event.request_id), /^[0-9a-f]{32}$/);
          assert.equal(event.request_id, logged.get(path), path);
          if (path.startsWith("/early/")) assert.equal(event.request_id, headers.get(path), path);
        }
        assert.equal(new Set(hits().map((event) => event.request_id)).size, paths.length);
      },
    );
  },
});

Deno.test({
  name: "nginx module: eventstorm off, eventstorm_type and eventstorm_field per location",
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    await withModule(
      (to) => ({
        ...moduleConf(to),
        server: "eventstorm on;\n" +
          '        location /quiet/ { eventstorm off; return 200 "quiet\\n"; }\n' +
          "        location /app/ { eventstorm_type app.page; " +
          "eventstorm_field page_id $arg_id; eventstorm_field scheme $scheme; " +
          'return 200 "app\\n"; }',
      }),
      async (nginx, t) => {
        const port = nginx.port;
        const run = crypto.randomUUID().slice(0, 8);
        await untilTapSubscribed(t, port);
        for (let i = 0; i < 5; i++) {
          for (const path of [`/page/${run}-${i}`, `/quiet/${run}-${i}`, `/app/${run}?id=${i}`]) {
            const response = await fetch(`http://127.0.0.1:${port}${path}`);
            await response.body?.cancel();
            if (!path.startsWith("/page/")) assert.equal(response.status, 200, path);
          }
        }
        const mine = () => t.events().filter((event) => String(event.path).includes(run));
        await waitFor(() => mine().length >= 10, "the page and app events");
        // A request after the others: once its event is in, every earlier one is too.
        await (await fetch(`http://127.0.0.1:${port}/page/${run}-last`)).body?.cancel();
        await waitFor(() => mine().some((event) => String(event.path).endsWith("-last")), "last");
        const events = mine().filter((event) => !String(event.path).endsWith("-last"));
        const pages = events.filter((event) => String(event.path).startsWith("/page/"));
        const apps = events.filter((event) => String(event.path).startsWith("/app/"));
        assert.equal(pages.length, 5);
        assert.ok(pages.every((event) => event.type === "http.hit"));
        assert.equal(events.filter((event) => String(event.path).startsWith("/quiet/")).length, 0);
        assert.equal(apps.length, 5);
        assert.ok(apps.every((event) => event.type === "app.page" && event.scheme === "http"));
        assert.deepEqual(apps.map((event) => event.page_id).sort(), ["0", "1", "2", "3", "4"]);
        assert.ok(pages.every((event) => !("page_id" in event)), "fields stay in their location");
      },
    );
  },
});

Deno.test({
  name: "nginx module: reloads under load lose no request that is not counted as dropped",
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    await withModule(
      (to) => ({
        ...moduleConf(to, "eventstorm_flush_timeout 2s;"),
        server: "eventstorm on;",
        workers: 2,
      }),
      async (nginx, t) => {
        const port = nginx.port;
        let completed = 0;
        let failed = 0;
        let loading = true;
        const loaders = Array.from({ length: 4 }, async (_, worker) => {
          for (let i = 0; loading; i++) {
            const status = await rawRequest(
              port,
              `GET /page/${worker}-${i} HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n`,
            ).catch(() => 0);
            if (status === 200) completed++;
            else failed++;
          }
        });
        for (let reload = 0; reload < 3; reload++) {
          await new Promise((resolve) => setTimeout(resolve, 700));
          await nginx.signal("reload");
        }
        await new Promise((resolve) => setTimeout(resolve, 700));
        loading = false;
        await Promise.all(loaders);
        assert.equal(failed, 0, "no request failed during the reloads");
        assert.ok(completed > 50, `load ran (${completed} requests)`);

        const account = () => {
          const events = t.events();
          const hits = events.filter((event) => event.type === "http.hit").length;
          const latest = new Map<number, Record<string, unknown>>();
          for (const event of events) {
            if (event.type === "eventstorm.stats") latest.set(Number(event.pid), event);
          }
          let dropped = 0, finals = 0;
          for (const stats of latest.values()) {
            dropped += Number(stats.dropped);
            if (stats.final) finals++;
          }
          return { hits, dropped, finals, workers: latest.size };
        };
        await waitFor(
          () => {
            const now = account();
            return now.hits + now.dropped >= completed && now.finals >= 6;
          },
          "every request accounted for, and the final stats of the 6 replaced workers",
          30_000,
        );
        const result = account();
        assert.equal(result.hits + result.dropped, completed, JSON.stringify(result));
        assert.ok(result.workers >= 8, `each worker its own stats (${result.workers})`);
        const ids = t.events().filter((event) => event.type === "http.hit").map((e) => e.path);
        assert.equal(new Set(ids).size, ids.length, "no request twice");
      },
    );
  },
});

Deno.test({
  name:
    "nginx module: binding (@), the worker after a reload retries the bind until the old one exits, and counts what it could not send",
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    const bindPort = freePort();
    const t = tap(`tcp://127.0.0.1:${bindPort}`);
    let nginx: Nginx | undefined;
    let held: Deno.TcpConn | undefined;
    try {
      nginx = await startNginx(
        { ...moduleConf(`@tcp://127.0.0.1:${bindPort}`), server: "eventstorm on;" },
        freePort(),
        freePort(),
      );
      const { port, dir } = nginx;
      const log = () => Deno.readTextFile(join(dir, "error.log")).catch(() => "");
      const run = crypto.randomUUID().slice(0, 8);
      await untilTapSubscribed(t, port).catch(async (error) => {
        throw new Error(`${error.message}; error.log:\n${await log()}`);
      });
      // A request the old worker is still reading keeps it, and its bind, after the reload.
      held = await Deno.connect({ hostname: "127.0.0.1", port });
      await held.write(encoder.encode(`GET /held/${run} HTTP/1.1\r\nHost: front\r\n`));
      await nginx.signal("reload");
      await waitFor(
        async () => (await log()).includes("Address already in use; retrying"),
        "retry",
      );
      // The new worker can come up before the old one has taken the reload and closed
      // its listening socket: until then the old one may take requests, and send them.
      await waitFor(() => workerShuttingDown(dir, port), "the old worker closing its listener");
      const N = 5;
      for (let i = 0; i < N; i++) {
        const status = await rawRequest(
          port,
          `GET /during/${run}-${i} HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n`,
        );
        assert.equal(status, 200);
      }
      await held.write(encoder.encode("Connection: close\r\n\r\n"));
      await new Response(held.readable).text();
      held = undefined;
      await waitFor(async () => /eventstorm: bound @tcp/.test(await log()), "bound again", 10_000);
      // Events flow again, from the new worker.
      await waitFor(async () => {
        await rawRequest(
          port,
          `GET /after/${run} HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n`,
        );
        return t.events().some((event) => String(event.path).startsWith(`/after/${run}`));
      }, "an event after the new bind");
      // Each request is an event at the tap (one the old worker took) or counted unbound.
      const account = () => {
        const latest = new Map<number, Record<string, unknown>>();
        for (const event of t.events()) {
          if (event.type === "eventstorm.stats") latest.set(Number(event.pid), event);
        }
        const unbound = [...latest.values()].reduce((n, stats) => n + Number(stats.unbound), 0);
        const counted = [...latest.values()].every((stats) =>
          Number(stats.dropped) >= Number(stats.unbound)
        );
        const arrived = t.events().filter((event) =>
          String(event.path).startsWith(`/during/${run}`)
        ).length;
        return { unbound, arrived, counted };
      };
      await waitFor(() => account().unbound + account().arrived === N, "the stats", 10_000)
        .catch((error) => {
          throw new Error(`${error.message}: ${JSON.stringify(account())}`);
        });
      assert.ok(account().unbound > 0, JSON.stringify(account()));
      assert.ok(account().counted, "unbound is part of dropped");
      const text = await log();
      assert.equal(text.match(/Address already in use; retrying/g)?.length, 1, "warned once");
      assert.match(text, /bound @tcp:\/\/127\.0\.0\.1:\d+ after \d+ ms; \d+ events of requests/);
    } finally {
      held?.close();
      await nginx?.stop();
      await t.stop();
    }
  },
});

/**
 * Whether one of nginx's workers is shutting down (its title says so once it has
 * taken the master's QUIT) and has closed its listening sockets: it holds none of
 * the sockets listening on `port` any more.
 */
async function workerShuttingDown(dir: string, port: number): Promise<boolean> {
  const master = Number((await Deno.readTextFile(join(dir, "nginx.pid"))).trim());
  const workers = (await Deno.readTextFile(`/proc/${master}/task/${master}/children`))
    .split(" ").filter((pid) => pid.trim() !== "");
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const listening = new Set(
    (await Deno.readTextFile("/proc/net/tcp")).split("\n").slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[1]?.endsWith(`:${hex}`) && fields[3] === "0A")
      .map((fields) => `socket:[${fields[9]}]`),
  );
  // The master keeps the socket open for the workers it starts next.
  assert.ok(listening.size > 0, `nothing listens on port ${port}`);
  for (const pid of workers) {
    try {
      if (!(await Deno.readTextFile(`/proc/${pid}/cmdline`)).includes("is shutting down")) continue;
      for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
        if (listening.has(await Deno.readLink(`/proc/${pid}/fd/${fd.name}`).catch(() => ""))) {
          return false;
        }
      }
      return true;
    } catch {
      // Gone meanwhile.
    }
  }
  return false;
}

/** Sends nginx's master QUIT and returns how long its workers took to exit (ms). */
async function workersQuit(dir: string): Promise<number> {
  const master = Number((await Deno.readTextFile(join(dir, "nginx.pid"))).trim());
  const workers = (await Deno.readTextFile(`/proc/${master}/task/${master}/children`))
    .split(" ").filter((pid) => pid.trim() !== "").map(Number);
  assert.ok(workers.length > 0, "nginx has workers");
  // Gone, or a zombie the master has not reaped yet.
  const running = async (pid: number) => {
    try {
      return !/^\d+ \(.*\) Z /.test(await Deno.readTextFile(`/proc/${pid}/stat`));
    } catch {
      return false;
    }
  };
  const started = performance.now();
  Deno.kill(master, "SIGQUIT");
  while ((await Promise.all(workers.map(running))).some(Boolean)) {
    if (performance.now() - started > 10_000) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return performance.now() - started;
}

Deno.test({
  name:
    "nginx module: an unresolvable endpoint or a router that is down neither fails nor stalls requests",
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    const cases = [["tcp://no-such-host.invalid:5555", "500ms"], [
      `tcp://127.0.0.1:${DEAD_PORT}`,
      "0",
    ]];
    for (const [to, flush] of cases) {
      const nginx = await startNginx(
        {
          ...moduleConf(to, `eventstorm_flush_timeout ${flush};`),
          server: "eventstorm on;",
          workers: 2,
        },
        freePort(),
        freePort(),
      );
      let slowest = 0;
      try {
        for (let i = 0; i < 300; i++) {
          const started = performance.now();
          const status = await rawRequest(
            nginx.port,
            `GET /page/${i} HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n`,
          );
          slowest = Math.max(slowest, performance.now() - started);
          assert.equal(status, 200, `request ${i} with ${to}`);
        }
        // A blocking send would hold a worker for seconds (libzmq's reconnect timers).
        assert.ok(slowest < 1000, `slowest request ${slowest.toFixed(0)} ms with ${to}`);
      } finally {
        // 0 is no wait: the workers, holding events nobody takes, exit at once (given to
        // libeventstorm as 0, its default, they took 2 s: a second to flush, one to close).
        const quit = flush === "0" ? await workersQuit(nginx.dir) : 0;
        const stopping = performance.now();
        await nginx.stop();
        // Exit flushes for at most eventstorm_flush_timeout, twice (events, final stats).
        const took = performance.now() - stopping;
        assert.ok(took < 5000, `nginx stopped in ${took.toFixed(0)} ms with ${to}`);
        assert.ok(quit < 1000, `workers with flush_timeout 0 exited in ${quit.toFixed(0)} ms`);
      }
    }
  },
});

/** One `nginx -t` run: directives before `events`, in `http`, in a server, after `http`. */
interface ConfCase {
  main?: string;
  http: string;
  server?: string;
  after?: string;
  /** Writes the file in Latin-1 (every character below U+0100), not UTF-8. */
  latin1?: boolean;
}

/** `nginx -t` on a configuration with the module loaded; its success and stderr. */
async function nginxTest(conf: ConfCase): Promise<{ ok: boolean; text: string }> {
  await using temp = await tempDir({ prefix: "nginx_module_conf_" });
  const dir = temp.path;
  const file = join(dir, "nginx.conf");
  const text = `load_module ${so};\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\n` +
    `${conf.main ?? ""}\nevents {}\nhttp {\n  access_log off;\n  ${conf.http}\n` +
    `  server {\n    listen 127.0.0.1:${freePort()};\n    ${conf.server ?? ""}\n  }\n}\n` +
    `${conf.after ?? ""}\n`;
  await Deno.writeFile(
    file,
    conf.latin1 ? Uint8Array.from(text, (c) => c.charCodeAt(0)) : encoder.encode(text),
  );
  const out = await new Deno.Command("nginx", {
    args: ["-t", "-q", "-p", dir, "-e", join(dir, "error.log"), "-c", file],
    stderr: "piped",
  }).output();
  return { ok: out.success, text: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name:
    "nginx module: nginx -t refuses, in one line, what every worker would: endpoints, keys, types, fields, bounds",
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    await using temp = await tempDir({ prefix: "nginx_module_conf_keys_" });
    const keys = temp.path;
    for (const name of ["router", "web"]) {
      const out = await finish(cli(["keygen", `${keys}/${name}`]));
      assert.equal(out.code, 0, out.stderr);
    }
    const key = (file: string, name: string) =>
      Deno.readTextFileSync(`${keys}/${file}`).match(new RegExp(`${name} = "(.{40})"`))![1];
    const routerKey = key("router", "public-key");
    const webKey = key("web", "public-key");
    const secretKey = key("web_secret", "secret-key");
    await Deno.copyFile(`${keys}/web_secret`, `${keys}/open_secret`);
    await Deno.chmod(`${keys}/open_secret`, 0o644);
    const to = "eventstorm_to tcp://127.0.0.1:1;";
    // The worker user must own the secret file: nginx run by root runs workers as nobody.
    const user = Deno.uid() === 0 ? "user root root;" : "";
    const curve = `eventstorm_curve_server '${routerKey}';`;
    const two = "eventstorm_to 'tcp://127.0.0.1:1, tcp://127.0.0.1:2';";

    const refused: [ConfCase, RegExp][] = [
      [{ http: "eventstorm_to nonsense;" }, /"nonsense" is not a tcp:\/\/ or ipc:\/\/ endpoint/],
      [{ http: "eventstorm_to foo://x:1;" }, /"foo:\/\/x:1" is not a tcp:\/\/ or ipc:\/\//],
      [{ http: "eventstorm_to tcp://127.0.0.1;" }, /has no port: write tcp:\/\/HOST:PORT/],
      [{ http: "eventstorm_to >tcp://h:70000;" }, /port that is not 1-65535/],
      [{ http: "eventstorm_to tcp://h:*;" }, /connects to port \*/],
      [{ http: "eventstorm_to inproc://x;" }, /inproc:\/\/, which reaches only the worker/],
      [{ http: "eventstorm_to tcp://a:1 tcp://b:2;" }, /separate endpoints with commas/],
      [{ http: "eventstorm_to 'tcp://a:1,,tcp://b:2';" }, /has an empty entry/],
      // TEST-NET-1: not an address of this machine, so no worker could bind it.
      [
        { http: "eventstorm_to @tcp://192.0.2.1:5555;" },
        /"@tcp:\/\/192.0.2.1:5555" cannot be bound: Cannot assign requested address/,
      ],
      [{ http: "eventstorm_to @ipc:///no/such/dir/s;" }, /directory does not exist/],
      // Each worker would bind the same address: wherever worker_processes is.
      [
        { http: "eventstorm_to @tcp://127.0.0.1:*;", after: "worker_processes 2;" },
        /binds \(@\), which needs worker_processes 1 \(it is 2\)/,
      ],
      [{ http: to, server: "eventstorm_type Http.Hit;" }, /not an event type/],
      [{ http: to, server: "eventstorm_type eventstorm.stats;" }, /reserved for eventstorm's own/],
      [{ http: to, server: "eventstorm_field time $msec;" }, /envelope fields/],
      [{ http: to, server: "eventstorm_field host $status;" }, /host must be a string/],
      [
        { http: to, server: "eventstorm_field caf\u00e9 yes;", latin1: true },
        /field name that is not UTF-8/,
      ],
      [{ http: `${to} eventstorm_flush_timeout 25d;` }, /must be at most 24d/],
      [{ http: `${to} eventstorm_stats_interval 30d;` }, /must be at most 24d/],
      [{ http: `${to} eventstorm_buffer 0;` }, /eventstorm_buffer" directive must be at least 1/],
      [{ http: `${to} eventstorm_curve_server notakey;` }, /is not a Z85 key/],
      [{ http: `${to} eventstorm_curve_server '${routerKey.slice(1)}~';` }, /is not a Z85 key/],
      [
        { http: `${to} ${curve} eventstorm_curve_secret '${secretKey}';` },
        /the value \(not shown\) is a Z85 key, not a file/,
      ],
      [
        { http: `${to} ${curve} eventstorm_curve_secret '${secretKey.slice(1)}';` },
        /cannot read the file given \(not shown: it looks like a key/,
      ],
      [
        { http: `${to} ${curve} eventstorm_curve_secret ${keys}/open_secret;` },
        /is not a file that only its owner can read \(chmod 600 it\)/,
      ],
      [
        { http: `${to} eventstorm_curve_secret ${keys}/web_secret;`, main: user },
        /eventstorm_curve_secret needs eventstorm_curve_server/,
      ],
      [
        { http: `eventstorm_to @tcp://127.0.0.1:*; ${curve}` },
        /are for connecting to a router: eventstorm_to binds/,
      ],
      // One server key per connecting endpoint, or one for all, as --curve-server.
      [
        { http: `${to} eventstorm_curve_server '${routerKey}' '${webKey}';` },
        /eventstorm_curve_server has 2 server keys, eventstorm_to 1 endpoint that connects: give/,
      ],
      [
        { http: `${two} eventstorm_curve_server '${routerKey}' '${webKey}' ${keys}/router;` },
        /has 3 server keys, eventstorm_to 2 endpoints that connect: give one key for all/,
      ],
      [
        { http: `${two} eventstorm_curve_server '${routerKey}' '${webKey.slice(1)}~';` },
        /the value 2 of 2 \(not shown\) is not a Z85 key/,
      ],
    ];
    if (Deno.uid() === 0) {
      // Without `user`, nginx started by root runs its workers as nobody.
      refused.push([
        { http: `${to} ${curve} eventstorm_curve_secret ${keys}/web_secret;` },
        /is not owned by the worker user/,
      ]);
    }
    const accepted: ConfCase[] = [
      // nginx splits "a, b" in two arguments: joined again, as libeventstorm reads "a, b".
      { http: "eventstorm_to tcp://127.0.0.1:1, >tcp://no-such-host.invalid:5555;" },
      { http: "eventstorm_to 'tcp://127.0.0.1:1, ipc:///tmp/eventstorm-x.sock';" },
      { http: "eventstorm_to @tcp://127.0.0.1:*;", main: "worker_processes 1;" },
      {
        http:
          `${to} eventstorm_flush_timeout 0; eventstorm_stats_interval 24d; eventstorm_buffer 1;`,
      },
      { http: to, server: "eventstorm_field host $hostname; eventstorm_field caf\u00e9 $uri;" },
      { http: `${to} ${curve} eventstorm_curve_secret ${keys}/web_secret;`, main: user },
      {
        http: `${to} eventstorm_curve_server ${keys}/router; ` +
          `eventstorm_curve_secret ${keys}/web_secret;`,
        main: user,
      },
      {
        http: `${two} eventstorm_curve_server ${keys}/router '${webKey}'; ` +
          `eventstorm_curve_secret ${keys}/web_secret;`,
        main: user,
      },
      { http: `${two} ${curve}` },
    ];
    for (const [conf, expected] of refused) {
      const { ok, text } = await nginxTest(conf);
      assert.equal(ok, false, `nginx -t accepted ${JSON.stringify(conf)}`);
      assert.match(text, expected);
      assert.equal(text.trim().split("\n").length, 2, `one line, then "test failed": ${text}`);
      assert.ok(!text.includes(secretKey.slice(1, 39)), "a secret key is never echoed");
      assert.ok(!text.includes(webKey.slice(1, 39)), "nor a server key");
    }
    for (const conf of accepted) {
      const { ok, text } = await nginxTest(conf);
      assert.ok(ok, `nginx -t refused ${JSON.stringify(conf)}: ${text}`);
    }
  },
});

Deno.test({
  name:
    "nginx module: 1,000,000 random and mutated values of every field kind give valid BSON under ASan",
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    await using temp = await tempDir({ prefix: "nginx_module_fuzz_" });
    const dir = temp.path;
    const module = join(ROOT, "sources/nginx/module");
    const flags = await new Deno.Command("pkg-config", {
      args: ["--cflags", "--libs", "libbson-1.0"],
      stdout: "piped",
    }).output();
    const compile = await new Deno.Command("cc", {
      args: [
        ...["-std=c11", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"],
        join(module, "tests/fields_fuzz.c"),
        join(module, "ngx_http_eventstorm_fields.c"),
        ...new TextDecoder().decode(flags.stdout).trim().split(/\s+/),
        ...["-lm", "-o", join(dir, "fields_fuzz")],
      ],
      stderr: "piped",
    }).output();
    assert.ok(compile.success, new TextDecoder().decode(compile.stderr));
    const run = await new Deno.Command(join(dir, "fields_fuzz"), {
      args: ["1000000"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    assert.ok(run.success, text);
    assert.match(text, /1000000 values, every document valid/);
  },
});

Deno.test({
  name:
    "nginx module: eventstorm_curve_server with one key per endpoint reaches two routers that each have their own key pair",
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    await using temp = await tempDir({ prefix: "nginx_module_two_keys_" });
    const keys = temp.path;
    for (const name of ["east", "west", "web", "tap"]) {
      const out = await finish(cli(["keygen", `${keys}/${name}`]));
      assert.equal(out.code, 0, out.stderr);
    }
    const westKey = (await Deno.readTextFile(`${keys}/west`)).match(/public-key = "(.{40})"/)![1];
    const routers = [
      await startRouterProcess(["--curve-secret", `${keys}/east_secret`]),
      await startRouterProcess(["--curve-secret", `${keys}/west_secret`]),
    ];
    const taps = ["east", "west"].map((name, i) => {
      const child = cli([
        ...["tap", "--from", routers[i].sinks, "--topic", "http.hit"],
        ...["--curve-server", `${keys}/${name}`, "--curve-secret", `${keys}/tap_secret`],
      ]);
      const tap = { child, text: "", pump: Promise.resolve() };
      tap.pump = (async () => {
        for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
          tap.text += chunk;
        }
      })();
      return tap;
    });
    let nginx: Nginx | undefined;
    try {
      nginx = await startNginx(
        {
          // The east router by its certificate file, the west one by its key.
          ...moduleConf(
            `'${routers[0].sources}, ${routers[1].sources}'`,
            `eventstorm_curve_server ${keys}/east '${westKey}';\n` +
              `    eventstorm_curve_secret ${keys}/web_secret;`,
          ),
          server: "eventstorm on;",
        },
        freePort(),
        freePort(),
      );
      const port = nginx.port;
      let sent = 0;
      await waitFor(
        async () => {
          await rawRequest(
            port,
            `GET /two/${sent++} HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n`,
          );
          return taps.every((tap) => tap.text.includes('"path":"/two/'));
        },
        "events through both routers",
        20_000,
      );
      const log = await Deno.readTextFile(join(nginx.dir, "error.log"));
      assert.ok(!log.includes(westKey), "a key never reaches the error log");
    } finally {
      await nginx?.stop();
      for (const tap of taps) {
        try {
          tap.child.kill("SIGINT");
        } catch { /* exited */ }
        await tap.child.status;
        await tap.pump;
        await tap.child.stderr.cancel().catch(() => {});
      }
      for (const router of routers) await router.stop();
    }
  },
});

Deno.test({
  name: "nginx module: CURVE keys from eventstorm keygen get events through an --allow-keys router",
  ...opts,
  async fn() {
    if (unavailable) throw new Error(`CI=true but ${unavailable}`);
    await using temp = await tempDir({ prefix: "nginx_module_keys_" });
    const keys = temp.path;
    for (const name of ["router", "web", "tap"]) {
      const out = await finish(cli(["keygen", `${keys}/${name}`]));
      assert.equal(out.code, 0, out.stderr);
    }
    await Deno.mkdir(`${keys}/allowed`);
    for (const name of ["web", "tap"]) {
      await Deno.copyFile(`${keys}/${name}`, `${keys}/allowed/${name}`);
    }
    const r = await startRouterProcess([
      ...["--curve-secret", `${keys}/router_secret`, "--allow-keys", `${keys}/allowed`],
    ]);
    const child = cli([
      ...["tap", "--from", r.sinks, "--topic", "http.hit"],
      ...["--curve-server", `${keys}/router`, "--curve-secret", `${keys}/tap_secret`],
    ]);
    let text = "";
    const pump = (async () => {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) text += chunk;
    })();
    let nginx: Nginx | undefined;
    try {
      nginx = await startNginx(
        {
          ...moduleConf(
            r.sources,
            `eventstorm_curve_server ${keys}/router;\n    eventstorm_curve_secret ${keys}/web_secret;`,
          ),
          server: "eventstorm on;",
        },
        freePort(),
        freePort(),
      );
      const port = nginx.port;
      let sent = 0;
      await waitFor(
        async () => {
          await rawRequest(
            port,
            `GET /curve/${sent++} HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n`,
          );
          return text.includes('"path":"/curve/');
        },
        "an event through CURVE",
        20_000,
      );
      const event = JSON.parse(text.split("\n").find((line) => line.includes("/curve/"))!);
      assert.equal(event.type, "http.hit");
      assert.equal(event.status, 200);
      const log = await Deno.readTextFile(join(nginx.dir, "error.log"));
      const secret = (await Deno.readTextFile(`${keys}/web_secret`))
        .match(/secret-key = "(.{40})"/)![1];
      assert.ok(!log.includes(secret), "the secret key never reaches the error log");
    } finally {
      await nginx?.stop();
      try {
        child.kill("SIGINT");
      } catch { /* exited */ }
      await child.status;
      await pump;
      await child.stderr.cancel().catch(() => {});
      await r.stop();
    }
  },
});
