/**
 * For native_test.ts: a worker leaves a libzmq context and a poll running and
 * is terminated; this process lives on for `Deno.args[0]` ms and prints
 * `survived`, unless libzmq was unloaded or the poll items freed under the
 * threads still using them.
 *
 * @module
 */
const worker = new Worker(new URL("./abandoned_context_worker.ts", import.meta.url), {
  type: "module",
});
await new Promise((resolve) => worker.onmessage = resolve);
worker.terminate();
await new Promise((resolve) => setTimeout(resolve, Number(Deno.args[0] ?? 1000)));
console.log("survived");
