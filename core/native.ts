/**
 * What native code must keep after the isolate that started it is gone. A
 * worker, or a test module that failed before it stopped what it started, is
 * torn down while libzmq's I/O threads still run and a `nonblocking` FFI call
 * (`zmq_poll`, `poll(2)`) still waits on one of Deno's threads. Two things go
 * with the isolate and crash the process later, somewhere unrelated:
 *
 * - buffers V8 owns, which the waiting call still reads and writes: memory
 *   from `calloc` is freed only when its owner says so;
 * - the libraries the isolate opened, which Deno closes: libzmq's threads then
 *   run unmapped code. A library opened again with `RTLD_NODELETE` stays.
 *
 * @module
 */

const SYMBOLS = {
  calloc: { parameters: ["usize", "usize"], result: "pointer" },
  free: { parameters: ["pointer"], result: "void" },
  dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
} as const;

const RTLD_LAZY = 0x1;
const RTLD_NODELETE = 0x1000;

/** The C library's file name on this system, or undefined where there is none to open. */
const LIBC_PATH = Deno.build.os === "linux"
  ? "libc.so.6"
  : Deno.build.os === "darwin"
  ? "libSystem.B.dylib"
  : undefined;

/**
 * The C library with `symbols`, or null where it cannot be opened: the one
 * place that knows its name on each system. Open it once per symbol table and
 * keep the handle; the loader shares the library itself.
 *
 * @example
 * ```ts
 * import { openLibc } from "./native.ts";
 * const libc = openLibc({ getpid: { parameters: [], result: "i32" } });
 * console.log(libc?.symbols.getpid() === Deno.pid); // true
 * ```
 */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S> | null {
  if (LIBC_PATH === undefined) return null;
  try {
    return Deno.dlopen(LIBC_PATH, symbols);
  } catch {
    return null;
  }
}

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

function open(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (libc === undefined) libc = openLibc(SYMBOLS);
  return libc;
}

/** Zeroed bytes outside V8's heap, and the way to give them back. */
export interface NativeBytes {
  /** The memory; valid until `free()`. */
  readonly bytes: Uint8Array;
  /** Returns the memory; call only when no call can still be using it. */
  free(): void;
}

/**
 * Keeps the shared object at `path` (opened already by `Deno.dlopen`) loaded for
 * the life of the process, whatever Deno closes. Returns whether it could.
 *
 * @example
 * ```ts ignore
 * const lib = Deno.dlopen(path, symbols);
 * pinLibrary(path);
 * ```
 */
export function pinLibrary(path: string): boolean {
  const c = open();
  if (c === null || Deno.build.os !== "linux") return false;
  const name = new TextEncoder().encode(`${path}\0`);
  return c.symbols.dlopen(name, RTLD_LAZY | RTLD_NODELETE) !== null;
}

/**
 * Allocates `size` zeroed bytes that outlive the isolate (see the module
 * comment): for the arguments of `nonblocking` FFI calls. Where no C library can be opened, the bytes are V8's and the
 * protection is lost, but not the function.
 *
 * @example
 * ```ts
 * import { allocateNative } from "./native.ts";
 * const memory = allocateNative(16);
 * memory.bytes[0] = 1;
 * memory.free();
 * ```
 */
export function allocateNative(size: number): NativeBytes {
  const c = open();
  const pointer = c?.symbols.calloc(1n, BigInt(Math.max(size, 1))) ?? null;
  if (c === null || pointer === null) {
    return { bytes: new Uint8Array(size), free: () => {} };
  }
  let freed = false;
  return {
    bytes: new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pointer, size)),
    free: () => {
      if (freed) return;
      freed = true;
      c.symbols.free(pointer);
    },
  };
}
