/**
 * UNSTABLE: pieces eventstorm's own packages share that are not part of the
 * public API. They change without notice between versions; do not import this
 * module from outside the eventstorm repository.
 *
 * It exists because JSR packages cannot import another package's files by
 * relative path (`deno publish` reports `relative-package-import`), so the
 * router, the demo source, the sinks and the CLI reach these through this
 * subpath instead.
 *
 * @example
 * ```ts
 * import { mulberry32 } from "@eventstorm/core/internal";
 * const random = mulberry32(42);
 * console.log(random() < 1);
 * ```
 *
 * @module
 */
export {
  LIBZMQ_CAP_FACTOR,
  MAX_PENDING_SUBSCRIPTIONS,
  type Refusal,
  Relay,
  type RelayHooks,
  type RelayOptions,
  type RelaySecurityStats,
} from "../relay.ts";
export { MessageBuilder } from "../message.ts";
export { mulberry32 } from "../random.ts";
export { setField } from "../fields.ts";
export { readLines } from "../lines.ts";
export { Turns } from "../turns.ts";
export { sleep } from "../sleep.ts";
export { acceptRetrying } from "../accept.ts";
export { removeRange, sameRanges } from "../ranges.ts";
export { type CurveKeys, curveKeys } from "../curve/options.ts";
export { type EventEnvelope, EventTranscoder, writeDecimal } from "../bson_json.ts";
export { writeInt32, writeInt64 } from "../plain_bson.ts";
export { allocateNative, type NativeBytes, openLibc } from "../native.ts";
export { expandGlobs, type ExpandGlobsOptions, globToRegExp } from "../tail/mod.ts";
