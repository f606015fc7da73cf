/**
 * The nginx module's test and benchmark share this: building ngx_http_eventstorm_module
 * with its build.sh (cached), and running the real nginx of scripts/nginx.sh with it
 * loaded, on loopback ports.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildCache } from "./helpers.ts";

/** The repository's root directory. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));
const NGINX_SCRIPT = join(ROOT, "scripts", "nginx.sh");
const decoder = new TextDecoder();

async function run(command: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  return {
    ok: out.success,
    text: (decoder.decode(out.stdout) + decoder.decode(out.stderr)).trim(),
  };
}

/**
 * Installs nginx and the build's packages and builds the module into a temporary
 * directory. Returns the `.so` path, or an error message when something is missing.
 *
 * @example
 * ```ts ignore
 * const built = await buildModule();
 * if ("error" in built) throw new Error(built.error);
 * ```
 */
export async function buildModule(): Promise<{ so: string } | { error: string }> {
  try {
    const install = await run("bash", [NGINX_SCRIPT, "install"]);
    if (!install.ok) return { error: `scripts/nginx.sh install: ${install.text}` };
    // Beside build.sh's own cache, not in a new temp dir each run: the module is
    // loaded again by every nginx (re)start of the test, so it lives as long as the file.
    const cache = buildCache("ESTORM_NGINX_CACHE", "eventstorm-nginx-module");
    const out = join(cache, "lib");
    await Deno.mkdir(out, { recursive: true });
    const build = await run("bash", [join(ROOT, "sources/nginx/module/build.sh"), out]);
    if (!build.ok) return { error: `sources/nginx/module/build.sh: ${build.text}` };
    return { so: join(out, "ngx_http_eventstorm_module.so") };
  } catch (error) {
    return {
      error: `cannot build the nginx module: ${error instanceof Error ? error.message : error}`,
    };
  }
}

/** What goes into the generated nginx.conf (see scripts/nginx.sh, `start`). */
export interface NginxOptions {
  /** Directives before `events` (load_module). */
  main?: string;
  /** Directives at the top of `http`. */
  http?: string;
  /** Directives of the front server. */
  server?: string;
  /** worker_processes; default 1. */
  workers?: number;
}

/** A running nginx of scripts/nginx.sh. */
export interface Nginx {
  dir: string;
  port: number;
  signal(command: "reload" | "reopen"): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts nginx (scripts/nginx.sh start) in a new temporary directory.
 *
 * @example
 * ```ts ignore
 * const nginx = await startNginx({ main: `load_module ${so};`, server: "eventstorm on;" });
 * await nginx.stop();
 * ```
 */
export async function startNginx(
  options: NginxOptions,
  port: number,
  backend: number,
): Promise<Nginx> {
  const dir = await Deno.makeTempDir({ prefix: "nginx_module_" });
  const script = async (...args: string[]) => {
    const out = await new Deno.Command("bash", {
      args: [NGINX_SCRIPT, ...args],
      env: {
        NGINX_MAIN_CONF: options.main ?? "",
        NGINX_HTTP_CONF: options.http ?? "",
        NGINX_SERVER_CONF: options.server ?? "",
        NGINX_WORKERS: String(options.workers ?? 1),
      },
      stderr: "piped",
    }).output();
    if (!out.success) {
      let log = "";
      try {
        log = await Deno.readTextFile(join(dir, "error.log"));
      } catch { /* none yet */ }
      throw new Error(`scripts/nginx.sh ${args[0]}: ${decoder.decode(out.stderr).trim()}\n${log}`);
    }
  };
  await script("start", dir, String(port), String(backend));
  return {
    dir,
    port,
    signal: (command) => script(command, dir),
    stop: async () => {
      await script("stop", dir);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** One HTTP/1.1 exchange over a raw socket (so headers may hold any byte). */
export async function rawRequest(
  port: number,
  head: Uint8Array | string,
  body: Uint8Array = new Uint8Array(),
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const bytes = typeof head === "string" ? new TextEncoder().encode(head) : head;
    const all = new Uint8Array(bytes.length + body.length);
    all.set(bytes);
    all.set(body, bytes.length);
    let written = 0;
    while (written < all.length) written += await conn.write(all.subarray(written));
    let response = "";
    const buffer = new Uint8Array(16384);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      response += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(response);
    return match ? Number(match[1]) : 0;
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}
