/**
 * eventstorm core: the event model, the BSON codec, wire protocol v1, the ZeroMQ
 * transport (Emitter, Collector) and the mechanics every component shares.
 *
 * @example
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
export * from "./event.ts";
export * from "./codec.ts";
export * from "./bson_depth.ts";
export * from "./fields.ts";
export {
  decodeFields,
  decodeValue,
  encodeFields,
  encodeValue,
  fromJsonLine,
  toJsonLine,
} from "./json.ts";
export * from "./protocol.ts";
export * from "./sequence.ts";
export * from "./turns.ts";
export * from "./endpoint.ts";
export * from "./flags.ts";
export * from "./duration.ts";
export * from "./output.ts";
export * from "./line_parser.ts";
export * from "./emitter.ts";
export * from "./collector.ts";
export { libzmqCandidates, loadLibzmq } from "./zmq/ffi.ts";
export * from "./stats.ts";
export * from "./message.ts";
export * from "./relay.ts";
export * from "./lines.ts";
export * from "./sink.ts";
export * from "./sink_cli.ts";
export * from "./queue.ts";
export * from "./random.ts";
export * from "./print_output.ts";
export * from "./syslog.ts";
export * from "./tail.ts";
export * from "./checkpoint.ts";
export * from "./line_source.ts";
export * from "./source_cli.ts";
export {
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
export type { Certificate } from "./curve/certificate.ts";
export {
  applyCurve,
  commandCurve,
  CURVE_CLIENT_FLAGS,
  curveFromFlags,
  type CurveOptions,
  serverKeyFrom,
  warnPlaintextBinds,
} from "./curve/options.ts";
export { KeyDirectory } from "./curve/zap.ts";
export type { HandshakeFailure } from "./curve/monitor.ts";
export { type Member, memberOf, parseMember } from "./member.ts";
export * from "./stream_source.ts";
