/**
 * eventstorm core: what a Deno program needs to emit or collect events — the
 * event model, {@linkcode Emitter}, {@linkcode Collector}, their options and
 * stats, and the CURVE options and key helpers that secure them.
 *
 * Building blocks live in subpath exports, like denoland/std packages:
 * `@eventstorm/core/protocol` (the wire codec), `@eventstorm/core/source`
 * (line parsers, the file follower, checkpoints), `@eventstorm/core/sink` (the
 * sink runner and backend contract) and `@eventstorm/core/cli` (flags, stats
 * lines and the other command-line mechanics components share).
 *
 * @example Emit and collect
 * ```ts ignore
 * import { Collector, Emitter } from "@eventstorm/core";
 * const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:5556" });
 * const emitter = await Emitter.open({ endpoints: ">tcp://127.0.0.1:5556" });
 * emitter.emit("app.start", { version: "1.0" });
 * for await (const event of collector.events()) console.log(event);
 * ```
 *
 * @module
 */
export {
  envelopeProblem,
  type Event,
  type EventFields,
  isEvent,
  isValidType,
  localHostname,
  makeEvent,
  type MakeEventOptions,
  MAX_TYPE_LENGTH,
} from "./event.ts";
export { Emitter, type EmitterOptions, type EmitterStats } from "./emitter.ts";
export {
  Collector,
  type CollectorOptions,
  type CollectorStats,
  type EventBatch,
} from "./collector.ts";
export type { DeliveredMark, EventOutput } from "./output.ts";
export type { DropReason, WireMessage } from "./protocol.ts";
export type { StreamCounters } from "./sequence.ts";
export { ZmqContext } from "./zmq/socket.ts";
export { type Member, memberOf, parseMember } from "./member.ts";
export type { CurveOptions } from "./curve/options.ts";
export {
  type Certificate,
  certificateText,
  curveAvailable,
  generateKeyPair,
  isZ85Key,
  keyBytes,
  type KeyPair,
  parseCertificate,
  publicKeyOf,
  readCertificate,
  writeKeyPair,
} from "./curve/certificate.ts";
export { KeyDirectory } from "./curve/zap.ts";
export type { HandshakeFailure } from "./curve/monitor.ts";
