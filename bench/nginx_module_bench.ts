/**
 * ngx_http_eventstorm_module's cost: Debian's nginx serving a small static file
 * (ab, keep-alive) with logging off, with `access_log` to a file (`combined`), and with
 * the module on (access_log off, events to the project's router and a collector counting
 * them), in the same run, rounds interleaved; best round of each. Prints the module's
 * overhead against access_log as a ratio (target: ≤ 5%). With two cores or more it also
 * runs access_log and the module with nginx and ab on core 0 and the router and its
 * collector on core 1 (taskset): the receiving side on another host, as deployed, whose
 * work then is not taken from nginx's core.
 *
 *   deno run -A bench/nginx_module_bench.ts [--requests N] [--rounds N] [--concurrency N]
 *
 * @module
 */
import { benchArgs } from "./args.ts";
import { join } from "node:path";
import { freePort } from "../tests/helpers.ts";
import { startCountingRouter } from "./counting_router.ts";
import { cpuSecondsOf } from "./memory.ts";
import { buildModule, type Nginx, type NginxOptions, startNginx } from "../tests/nginx_module.ts";
import { verdict } from "./verdict.ts";

const args = benchArgs(
  "deno run -A bench/nginx_module_bench.ts [--requests N] [--rounds N] [--concurrency N]",
  {
    strict: false, // `deno task bench` hands every benchmark the flags of all
    options: {
      requests: { type: "string", default: "30000" },
      rounds: { type: "string", default: "3" },
      concurrency: { type: "string", default: "8" },
    },
  },
);
const requests = Number(args.values.requests);

const rounds = Math.max(1, Number(args.values.rounds));
const concurrency = Number(args.values.concurrency);
if (!Number.isInteger(requests) || requests < 1 || !Number.isInteger(concurrency)) {
  console.error("--requests and --concurrency must be positive whole numbers");
  Deno.exit(2);
}

const built = await buildModule();
if ("error" in built) {
  console.error(`nginx module bench: ${built.error}`);
  Deno.exit(1);
}
const decoder = new TextDecoder();
const files = await Deno.makeTempDir({ prefix: "nginx_module_bench_" });
await Deno.writeTextFile(join(files, "small.txt"), "a small static file\n".repeat(8));

// Events go through the router to a collector that counts them from the message headers
// without decoding (a tap decoding every event took 14% of a core from nginx and ab).
const router = await startCountingRouter(["http."]);

const STATIC = `location = /small.txt { root ${files}; }`;
const variants = {
  "logging off": { server: `access_log off; ${STATIC}` },
  "access_log to a file": { server: `access_log ${files}/access.log combined; ${STATIC}` },
  "eventstorm module": {
    main: `load_module ${built.so};`,
    http: `eventstorm_to ${router.sources};`,
    server: `access_log off; eventstorm on; ${STATIC}`,
  },
  // The module's own cost in nginx, without the router and collector sharing the CPUs: no
  // subscriber, so events are encoded and held (then dropped and counted), never sent.
  "eventstorm module, no router": {
    main: `load_module ${built.so};`,
    http: `eventstorm_to tcp://127.0.0.1:${freePort()};`,
    server: `access_log off; eventstorm on; ${STATIC}`,
  },
  "access_log, one core": {
    server: `access_log ${files}/access.log combined; ${STATIC}`,
    pinned: true,
  },
  "eventstorm module, one core, router on the other": {
    main: `load_module ${built.so};`,
    http: `eventstorm_to ${router.sources};`,
    server: `access_log off; eventstorm on; ${STATIC}`,
    pinned: true,
  },
};
type Name = keyof typeof variants;
const optionsOf = (name: Name): NginxOptions & { pinned?: boolean } => variants[name];
const ALL_CORES = `0-${navigator.hardwareConcurrency - 1}`;
const canPin = navigator.hardwareConcurrency >= 2 &&
  (await new Deno.Command("taskset", { args: ["-V"], stdout: "null", stderr: "null" }).output()
    .then((out) => out.success, () => false));
const names = (Object.keys(variants) as Name[]).filter((name) => canPin || !optionsOf(name).pinned);

/** Sets the CPUs every thread of each process may run on. */
async function pin(pids: number[], cpus: string): Promise<void> {
  for (const pid of pids) {
    const out = await new Deno.Command("taskset", {
      args: ["-a", "-p", "-c", cpus, String(pid)],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`taskset ${pid}: ${decoder.decode(out.stderr)}`);
  }
}

/** The nginx in DIR: its master and workers. */
async function nginxPids(dir: string): Promise<number[]> {
  const master = (await Deno.readTextFile(join(dir, "nginx.pid"))).trim();
  const children = (await Deno.readTextFile(`/proc/${master}/task/${master}/children`)).trim();
  return [master, ...children.split(/\s+/).filter(Boolean)].map(Number);
}
const best = new Map<Name, number>();
// Worker CPU per request: steadier than requests/s on a shared machine.
const cpu = new Map<Name, number>();

/** CPU seconds the workers of the nginx in DIR used so far (/proc, whole processes). */
async function workerCpu(dir: string): Promise<number> {
  const master = (await Deno.readTextFile(join(dir, "nginx.pid"))).trim();
  const children = (await Deno.readTextFile(`/proc/${master}/task/${master}/children`)).trim();
  let seconds = 0;
  for (const pid of children.split(/\s+/).filter(Boolean)) seconds += await cpuSecondsOf(pid);
  return seconds;
}

async function ab(port: number, cpus: string): Promise<number> {
  const out = await new Deno.Command(canPin ? "taskset" : "ab", {
    args: [
      ...(canPin ? ["-c", cpus, "ab"] : []),
      "-q",
      "-k",
      "-n",
      String(requests),
      "-c",
      String(concurrency),
      `http://127.0.0.1:${port}/small.txt`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(out.stdout);
  const failed = Number(/Failed requests:\s+(\d+)/.exec(text)?.[1] ?? NaN);
  const rate = Number(/Requests per second:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  if (!out.success || failed !== 0 || !(rate > 0)) {
    throw new Error(`ab failed: ${text}${decoder.decode(out.stderr)}`);
  }
  return rate;
}

try {
  for (let round = 1; round <= rounds; round++) {
    for (const name of names) {
      let nginx: Nginx | undefined;
      const pinned = optionsOf(name).pinned === true;
      try {
        if (canPin) await pin(router.pids, pinned ? "1" : ALL_CORES);
        nginx = await startNginx(variants[name], freePort(), freePort());
        if (pinned) await pin(await nginxPids(nginx.dir), "0");
        const cpus = pinned ? "0" : ALL_CORES;
        await ab(nginx.port, cpus); // warm-up: connections, page cache, the router's subscription
        const cpuBefore = await workerCpu(nginx.dir);
        const rate = await ab(nginx.port, cpus);
        const cpuPerRequest = ((await workerCpu(nginx.dir)) - cpuBefore) / requests * 1e6;
        console.log(
          `round ${round}: ${name}: ${Math.round(rate).toLocaleString("en-US")} requests/s, ` +
            `worker CPU ${cpuPerRequest.toFixed(1)} µs/request`,
        );
        best.set(name, Math.max(best.get(name) ?? 0, rate));
        cpu.set(name, Math.min(cpu.get(name) ?? Infinity, cpuPerRequest));
      } finally {
        await nginx?.stop();
      }
    }
  }
  const off = best.get("logging off")!, file = best.get("access_log to a file")!;
  const module = best.get("eventstorm module")!;
  const alone = best.get("eventstorm module, no router")!;
  const fmt = (rate: number) => Math.round(rate).toLocaleString("en-US");
  console.log(
    `nginx, small static file, best of ${rounds}: off ${fmt(off)} requests/s, access_log ${
      fmt(file)
    }, module ${fmt(module)}`,
  );
  const overhead = file / module - 1;
  console.log(
    `module vs access_log: ${(module / file).toFixed(3)}× the requests/s, overhead ${
      (overhead * 100).toFixed(1)
    }% (target ≤ 5%: ${verdict(overhead <= 0.05)}); vs logging off ${(module / off).toFixed(3)}×`,
  );
  console.log(
    `module without router and collector on the same cores vs access_log: ${
      (alone / file).toFixed(3)
    }× (overhead ${((file / alone - 1) * 100).toFixed(1)}%; target ≤ 5%: ${
      verdict(file / alone - 1 <= 0.05)
    })`,
  );
  if (canPin) {
    const fileAlone = best.get("access_log, one core")!;
    const moduleAlone = best.get("eventstorm module, one core, router on the other")!;
    const apart = fileAlone / moduleAlone - 1;
    console.log(
      `nginx and ab on one core, the router and its collector on the other (as on another ` +
        `host): access_log ${fmt(fileAlone)} requests/s, module ${fmt(moduleAlone)}; module vs ` +
        `access_log ${(moduleAlone / fileAlone).toFixed(3)}× (overhead ${
          (apart * 100).toFixed(1)
        }%; target ≤ 5%: ${verdict(apart <= 0.05)}); worker CPU per request ${
          cpu.get("access_log, one core")!.toFixed(1)
        } µs and ${cpu.get("eventstorm module, one core, router on the other")!.toFixed(1)} µs`,
    );
  } else console.log("one-core placement skipped: it needs two cores and taskset");
  const c = (name: Name) => cpu.get(name)!;
  console.log(
    `worker CPU per request, best of ${rounds}: off ${c("logging off").toFixed(1)} µs, ` +
      `access_log ${c("access_log to a file").toFixed(1)} µs, module ${
        c("eventstorm module").toFixed(1)
      } µs (${(c("eventstorm module") / c("access_log to a file")).toFixed(3)}× access_log's)`,
  );
  // Every request of the module's rounds (warm-up and measured) is one http.hit.
  const moduleVariants = names.filter((name) => optionsOf(name).http?.includes(router.sources));
  const expected = rounds * moduleVariants.length * 2 * requests;
  await router.waitFor(expected, 10_000);
  console.log(
    `http.hit received through the router: ${router.received()} of ${expected}, lost ${router.lost()}`,
  );
} finally {
  await router.stop();
}
