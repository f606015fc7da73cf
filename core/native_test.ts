import assert from "node:assert/strict";
import { allocateNative } from "./native.ts";

/** Fills 64 bytes in a worker, terminates it, churns the heap, and reads them back. */
async function bytesAfterTermination(kind: "native" | "v8"): Promise<Uint8Array> {
  const worker = new Worker(new URL("./testdata/native_worker.ts", import.meta.url), {
    type: "module",
  });
  const address = await new Promise<bigint | number>((resolve) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.postMessage(kind);
  });
  worker.terminate();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const churn = Array.from({ length: 10_000 }, () => new Uint8Array(new ArrayBuffer(64)));
  assert.equal(churn.length, 10_000);
  const copy = new Uint8Array(64);
  Deno.UnsafePointerView.copyInto(Deno.UnsafePointer.create(BigInt(address))!, copy);
  return copy;
}

Deno.test("native memory: zeroed, writable, freed once", () => {
  const memory = allocateNative(24);
  assert.equal(memory.bytes.length, 24);
  assert.ok(memory.bytes.every((byte) => byte === 0));
  memory.bytes.fill(7);
  assert.equal(new DataView(memory.bytes.buffer).getUint8(23), 7);
  memory.free();
  memory.free();
});

Deno.test("native memory outlives the isolate that allocated it; V8's does not", async () => {
  // What a nonblocking zmq_poll still waiting in a torn-down test module relies on.
  assert.ok((await bytesAfterTermination("native")).every((byte) => byte === 0xab));
  // The control: without it this test could not tell the two apart.
  assert.ok(!(await bytesAfterTermination("v8")).every((byte) => byte === 0xab));
});

Deno.test("a worker that leaves a libzmq context and a poll running does not crash the process", async () => {
  // Without the pin, Deno unloads libzmq with the worker and the context's I/O
  // thread runs unmapped code: the process dies of SIGSEGV (exit 139).
  const script = new URL("./testdata/abandoned_context.ts", import.meta.url);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script.pathname, "1500"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  assert.equal(code, 0, text.decode(stderr));
  assert.equal(text.decode(stdout).trim(), "survived");
});
