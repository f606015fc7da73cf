/**
 * The edge agent: one process and one TOML config per host, running any number
 * of inputs (nginx, postfix, sshd, syslog, metrics, demo), each with its own
 * stream, checkpoint and stats; SIGHUP reloads the config.
 *
 * @example
 * ```ts
 * import { parseConfig } from "@eventstorm/agent";
 * const config = parseConfig('[inputs.m]\ntype = "metrics"\ninterval = "10s"\n', "agent.toml");
 * console.log(config.inputs[0].type); // metrics
 * ```
 *
 * @module
 */
export * from "./config.ts";
export * from "./agent.ts";
export * from "./inputs.ts";
