/**
 * eventstorm: event aggregation and storage on ZeroMQ.
 *
 * Imported, it is the public API of `@eventstorm/core`: the event model,
 * {@linkcode Emitter}, {@linkcode Collector}, their options and stats, and the
 * CURVE key helpers. Run, it is the `eventstorm` command line:
 * `deno run -A jsr:@eventstorm/eventstorm router`.
 *
 * @example Emit an event to a router
 * ```ts
 * import { Emitter } from "@eventstorm/eventstorm";
 *
 * const emitter = await Emitter.open({ endpoints: ">tcp://127.0.0.1:5555" });
 * emitter.emit("app.start", { version: "1.0" });
 * await emitter.close();
 * ```
 *
 * @module
 */
import { runCommand } from "@eventstorm/core/cli";
import { main } from "./cli.ts";

export * from "@eventstorm/core";

if (import.meta.main) await runCommand(() => main(Deno.args));
