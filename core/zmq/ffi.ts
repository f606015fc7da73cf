/**
 * libzmq through Deno FFI. npm `zeromq` misbehaves under Deno's Node-API layer (a
 * receive pending before a peer connects never wakes, `receiveTimeout` and `Proxy`
 * segfault), while the C API called directly is reliable and twice as fast, so the
 * transport calls the C API. Every call that can block (`zmq_poll` with a timeout,
 * `zmq_ctx_term`) runs `nonblocking` on Deno's worker pool; everything else is a
 * cheap synchronous call made only with `ZMQ_DONTWAIT`.
 *
 * @module
 */
import { pinLibrary } from "../native.ts";

const SYMBOLS = {
  zmq_version: { parameters: ["buffer", "buffer", "buffer"], result: "void" },
  zmq_ctx_new: { parameters: [], result: "pointer" },
  zmq_ctx_set: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  zmq_ctx_shutdown: { parameters: ["pointer"], result: "i32" },
  zmq_ctx_term: { parameters: ["pointer"], result: "i32", nonblocking: true },
  zmq_socket: { parameters: ["pointer", "i32"], result: "pointer" },
  zmq_close: { parameters: ["pointer"], result: "i32" },
  zmq_setsockopt: { parameters: ["pointer", "i32", "buffer", "usize"], result: "i32" },
  zmq_getsockopt: { parameters: ["pointer", "i32", "buffer", "buffer"], result: "i32" },
  zmq_bind: { parameters: ["pointer", "buffer"], result: "i32" },
  zmq_connect: { parameters: ["pointer", "buffer"], result: "i32" },
  zmq_send: { parameters: ["pointer", "buffer", "usize", "i32"], result: "i32" },
  zmq_recv: { parameters: ["pointer", "buffer", "usize", "i32"], result: "i32" },
  zmq_poll: { parameters: ["buffer", "i32", "i64"], result: "i32", nonblocking: true },
  zmq_poll_now: { name: "zmq_poll", parameters: ["buffer", "i32", "i64"], result: "i32" },
  zmq_msg_init: { parameters: ["buffer"], result: "i32" },
  zmq_msg_recv: { parameters: ["buffer", "pointer", "i32"], result: "i32" },
  zmq_msg_send: { parameters: ["buffer", "pointer", "i32"], result: "i32" },
  zmq_msg_data: { parameters: ["buffer"], result: "pointer" },
  zmq_msg_more: { parameters: ["buffer"], result: "i32" },
  zmq_msg_gets: { parameters: ["buffer", "buffer"], result: "pointer" },
  zmq_msg_copy: { parameters: ["buffer", "buffer"], result: "i32" },
  zmq_msg_close: { parameters: ["buffer"], result: "i32" },
  zmq_errno: { parameters: [], result: "i32" },
  zmq_strerror: { parameters: ["i32"], result: "pointer" },
  // Optional: a libzmq built without CURVE, or an addon that does not export them,
  // still loads, and the security features say what is missing instead.
  zmq_has: { parameters: ["buffer"], result: "i32", optional: true },
  zmq_curve_keypair: { parameters: ["buffer", "buffer"], result: "i32", optional: true },
  zmq_curve_public: { parameters: ["buffer", "buffer"], result: "i32", optional: true },
  zmq_socket_monitor: { parameters: ["pointer", "buffer", "i32"], result: "i32", optional: true },
  // Only in a libzmq built by scripts/libzmq.sh: ZMQ_MAXMSGSIZE bounds whole messages.
  zmq_eventstorm_whole_message_limit: { parameters: [], result: "i32", optional: true },
} as const;

/** The loaded libzmq: its symbols and where it came from. */
export interface LibZmq {
  /** The C functions. */
  symbols: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
  /** Path of the shared object that was loaded. */
  path: string;
  /** libzmq version as `major.minor.patch`. */
  version: string;
  /**
   * Whether `ZMQ_MAXMSGSIZE` bounds a whole multipart message (a libzmq built by
   * scripts/libzmq.sh) rather than each frame alone (stock libzmq).
   */
  boundsWholeMessages: boolean;
}

let loaded: LibZmq | undefined;

/**
 * Candidate paths for libzmq, in order: `EVENTSTORM_LIBZMQ`, the build of
 * scripts/libzmq.sh in /usr/local/lib/eventstorm, the system library, then the
 * copy of libzmq that npm `zeromq` links into its `addon.node` (its `zmq_*`
 * symbols are exported, so no system package is needed).
 *
 * @example
 * ```ts
 * import { libzmqCandidates } from "./ffi.ts";
 * console.log(libzmqCandidates());
 * ```
 */
export function libzmqCandidates(): string[] {
  return [...candidatePaths()];
}

/**
 * The candidates of {@linkcode libzmqCandidates}, the npm ones looked for only
 * when the others were tried: finding them loads Node's module resolver, a tenth
 * of a command's start-up.
 */
function* candidatePaths(): Generator<string> {
  const fromEnv = Deno.env.get("EVENTSTORM_LIBZMQ");
  if (fromEnv) {
    yield fromEnv;
    return;
  }
  const candidates: string[] = [];
  if (Deno.build.os === "darwin") {
    candidates.push("/opt/homebrew/lib/libzmq.5.dylib", "/usr/local/lib/libzmq.5.dylib");
  } else if (Deno.build.os === "windows") {
    candidates.push("libzmq.dll");
  } else {
    candidates.push(
      // Where scripts/libzmq.sh's build goes to be used by every eventstorm process.
      "/usr/local/lib/eventstorm/libzmq.so.5",
      `/usr/lib/${Deno.build.arch}-linux-gnu/libzmq.so.5`,
      "/usr/lib64/libzmq.so.5",
      "/usr/lib/libzmq.so.5",
      "/usr/local/lib/libzmq.so.5",
    );
  }
  yield* candidates;
  yield* npmAddonCandidates();
}

function npmAddonCandidates(): string[] {
  let packageDir: string;
  try {
    const { createRequire } = process.getBuiltinModule("node:module");
    const require = createRequire(import.meta.url);
    packageDir = require.resolve("zeromq/package.json").replace(/package\.json$/, "");
  } catch {
    return [];
  }
  const os = Deno.build.os === "darwin"
    ? "darwin"
    : Deno.build.os === "windows"
    ? "win32"
    : "linux";
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "x64";
  const dir = `${packageDir}build/${os}/${arch}/node`;
  const found: string[] = [];
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory && !entry.name.startsWith("musl")) {
        found.push(`${dir}/${entry.name}/addon.node`);
      }
    }
  } catch {
    return [];
  }
  return found.sort().reverse();
}

/**
 * Loads libzmq once (from the first candidate that opens, or from `path`).
 * Throws with the list of places tried when none opens.
 *
 * @example
 * ```ts
 * import { loadLibzmq } from "./ffi.ts";
 * console.log(loadLibzmq().version);
 * ```
 */
export function loadLibzmq(path?: string): LibZmq {
  if (loaded && (path === undefined || loaded.path === path)) return loaded;
  const tried: string[] = [];
  for (const candidate of path ? [path] : candidatePaths()) {
    try {
      const lib = openLibrary(candidate);
      const parts = [new Int32Array(1), new Int32Array(1), new Int32Array(1)];
      lib.symbols.zmq_version(parts[0], parts[1], parts[2]);
      const result = {
        symbols: lib.symbols,
        path: candidate,
        version: parts.map((p) => p[0]).join("."),
        boundsWholeMessages: lib.symbols.zmq_eventstorm_whole_message_limit?.() === 1,
      };
      if (!path) loaded = result;
      return result;
    } catch (error) {
      tried.push(`${candidate} (${error instanceof Error ? error.message.split("\n")[0] : error})`);
    }
  }
  throw new Error(
    `cannot load libzmq: install libzmq5 or set EVENTSTORM_LIBZMQ; tried ${tried.join("; ")}`,
  );
}

/**
 * Opens a shared object. Inside a `deno compile` binary an included file lives in
 * a virtual file system that the dynamic loader cannot see, so on failure a
 * readable file is copied to a temporary path and opened from there.
 */
function openLibrary(path: string): Deno.DynamicLibrary<typeof SYMBOLS> {
  try {
    return pinned(Deno.dlopen(path, SYMBOLS), path);
  } catch (error) {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(path);
    } catch {
      throw error;
    }
    const copy = Deno.makeTempFileSync({ prefix: "eventstorm-libzmq-", suffix: ".so" });
    try {
      Deno.writeFileSync(copy, bytes);
      return pinned(Deno.dlopen(copy, SYMBOLS), copy);
    } catch {
      // The copy was only a way round a path dlopen cannot map; its failure is
      // not the news, the original one is.
      throw error;
    } finally {
      // Once mapped the file is no longer needed; either way it must not pile up.
      Deno.removeSync(copy);
    }
  }
}

/**
 * libzmq stays loaded once opened: its I/O threads outlive any isolate that
 * leaves a context running (see `native.ts`), and unloading it under them
 * crashes the process.
 */
function pinned(
  library: Deno.DynamicLibrary<typeof SYMBOLS>,
  path: string,
): Deno.DynamicLibrary<typeof SYMBOLS> {
  pinLibrary(path);
  return library;
}

/** The text of a libzmq error number.
 *
 * @example
 * ```ts
 * import { loadLibzmq } from "./ffi.ts";
 * import { zmqErrorText } from "./ffi.ts";
 * zmqErrorText(loadLibzmq(), 11); // "Resource temporarily unavailable"
 * ```
 */
export function zmqErrorText(lib: LibZmq, errno: number): string {
  const pointer = lib.symbols.zmq_strerror(errno);
  return pointer ? Deno.UnsafePointerView.getCString(pointer) : `errno ${errno}`;
}
