/**
 * eventstorm: the public event and transport primitives (see `@eventstorm/core`).
 *
 * @module
 */
export * from "./core/mod.ts";
