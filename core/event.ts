/**
 * The event model: a flat BSON document with three envelope fields.
 *
 * @module
 */

/**
 * One event. `type` doubles as the ZeroMQ topic; `time` and `host` say when and
 * where it happened; every other field belongs to the event itself and is flat.
 *
 * @example
 * ```ts
 * import type { Event } from "@eventstorm/core";
 * const hit: Event = { type: "http.hit", time: new Date(), host: "web1", status: 200 };
 * ```
 */
export interface Event {
  /** Dotted lower-case type, also the ZeroMQ topic (`http.hit`). */
  type: string;
  /** When the event happened. */
  time: Date;
  /** The host the event is about. */
  host: string;
  /** Optional identity; sinks use it to make replays idempotent. */
  _id?: unknown;
  /** The event's own fields. */
  [field: string]: unknown;
}

/** Fields of an event other than the envelope, as passed to `Emitter.emit`.
 *
 * @example
 * ```ts
 * import type { EventFields } from "@eventstorm/core";
 * const fields: EventFields = { status: 200, path: "/" };
 * ```
 */
export type EventFields = Record<string, unknown>;

/**
 * Dotted lower-case topic: segments of `[a-z0-9_-]` joined by single dots.
 * A topic is at most 255 bytes so that it fits any subscription table.
 */
const TYPE_PATTERN = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

/** Longest accepted event type in bytes.
 *
 * @example
 * ```ts
 * import { MAX_TYPE_LENGTH } from "@eventstorm/core";
 * console.log(MAX_TYPE_LENGTH); // 255
 * ```
 */
export const MAX_TYPE_LENGTH = 255;

/**
 * Whether `type` is a valid event type (and so a valid topic).
 *
 * @example
 * ```ts
 * import { isValidType } from "@eventstorm/core";
 * isValidType("http.hit"); // true
 * isValidType("HTTP Hit"); // false
 * ```
 */
export function isValidType(type: unknown): type is string {
  if (typeof type !== "string") return false;
  // Every event is checked and a stream has few types: remember the last answer.
  if (type === lastValidType) return true;
  if (type.length > MAX_TYPE_LENGTH || !TYPE_PATTERN.test(type)) return false;
  lastValidType = type;
  return true;
}

let lastValidType: string | undefined;

/**
 * Why a document is not a valid event, or `undefined` when it is one.
 *
 * @example
 * ```ts
 * import { envelopeProblem } from "@eventstorm/core";
 * envelopeProblem({ type: "x", time: new Date(), host: "h" }); // undefined
 * envelopeProblem({ type: "x" }); // "time must be a date"
 * ```
 */
export function envelopeProblem(doc: Record<string, unknown>): string | undefined {
  if (!isValidType(doc.type)) return "type must be a dotted lower-case string";
  if (!(doc.time instanceof Date) || Number.isNaN(doc.time.getTime())) {
    return "time must be a date";
  }
  if (typeof doc.host !== "string") return "host must be a string";
  return undefined;
}

/**
 * Whether a decoded document has a valid envelope.
 *
 * @example
 * ```ts
 * import { isEvent } from "@eventstorm/core";
 * isEvent({ type: "x", time: new Date(), host: "h" }); // true
 * ```
 */
export function isEvent(doc: Record<string, unknown>): doc is Event {
  return envelopeProblem(doc) === undefined;
}

let cachedHostname: string | undefined;

/**
 * This machine's host name, read once.
 *
 * @example
 * ```ts
 * import { localHostname } from "@eventstorm/core";
 * console.log(localHostname());
 * ```
 */
export function localHostname(): string {
  if (cachedHostname === undefined) {
    try {
      cachedHostname = Deno.hostname();
    } catch {
      cachedHostname = "localhost";
    }
  }
  return cachedHostname;
}

/** Options of {@linkcode makeEvent}. */
export interface MakeEventOptions {
  /** Host when `fields` has none; defaults to this machine's name. */
  host?: string;
  /** Time when `fields` has none; defaults to now. */
  time?: Date;
}

/**
 * Builds an event from a type and its fields, filling `time` and `host` when the
 * fields lack them. Throws a `TypeError` when the result is not a valid event.
 *
 * @example
 * ```ts
 * import { makeEvent } from "@eventstorm/core";
 * const e = makeEvent("ssh.login", { user: "root", result: "failed" }, { host: "bastion" });
 * ```
 */
export function makeEvent(
  type: string,
  fields: EventFields,
  options: MakeEventOptions = {},
): Event {
  const event = {
    ...fields,
    type,
    time: fields.time instanceof Date ? fields.time : (options.time ?? new Date()),
    host: typeof fields.host === "string" ? fields.host : (options.host ?? localHostname()),
  } as Event;
  const problem = envelopeProblem(event);
  if (problem) throw new TypeError(`invalid event: ${problem}`);
  return event;
}
