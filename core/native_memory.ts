/**
 * Memory for the arguments of `nonblocking` FFI calls. Such a call runs on one of
 * Deno's worker threads and can outlive the isolate that made it: a worker, or a
 * test module that failed before it stopped what it started, is torn down while a
 * `zmq_poll` or `poll(2)` still waits. A buffer V8 owns is freed with the
 * isolate, and the call then reads and writes freed memory: the process crashes
 * later, somewhere unrelated. Memory from `calloc` is freed only when its owner
 * says so, so a forgotten wait leaks a few bytes instead.
 *
 * @module
 */

const SYMBOLS = {
  calloc: { parameters: ["usize", "usize"], result: "pointer" },
  free: { parameters: ["pointer"], result: "void" },
} as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

function open(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (libc !== undefined) return libc;
  const path = Deno.build.os === "linux"
    ? "libc.so.6"
    : Deno.build.os === "darwin"
    ? "libSystem.B.dylib"
    : undefined;
  try {
    libc = path === undefined ? null : Deno.dlopen(path, SYMBOLS);
  } catch {
    libc = null;
  }
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
 * Allocates `size` zeroed bytes that outlive the isolate (see the module
 * comment). Where no C library can be opened, the bytes are V8's and the
 * protection is lost, but not the function.
 *
 * @example
 * ```ts
 * import { allocateNative } from "./native_memory.ts";
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
