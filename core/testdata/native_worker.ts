/**
 * For native_test.ts: fills 64 bytes of the asked kind with 0xab and
 * posts their address, then waits to be terminated.
 *
 * @module
 */
import { allocateNative } from "../native.ts";

self.onmessage = (event: MessageEvent<"native" | "v8">) => {
  const bytes = event.data === "native"
    ? allocateNative(64).bytes
    : new Uint8Array(new ArrayBuffer(64));
  bytes.fill(0xab);
  self.postMessage(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
};
