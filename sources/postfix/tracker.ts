/**
 * Follows each Postfix message by queue id, from smtpd/pickup through cleanup,
 * qmgr and the delivery agents to `removed`, and emits one `smtp.transaction` per
 * message, plus `smtp.reject` and `smtp.deferred` as they happen.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import { type LineContext, type LineParser, SyslogParser } from "@eventstorm/core/source";
import {
  type ClientRecord,
  type DeliveryRecord,
  type NotificationRecord,
  parsePostfixMessage,
  postfixDaemon,
  type RejectRecord,
} from "./postfix_parser.ts";

/** One recipient of an open message, as kept in the tracker's state. */
export interface RecipientState {
  /** Recipient after aliasing. */
  to: string;
  /** Recipient as given, when Postfix logged it. */
  orig_to?: string;
  /** Next hop of the last attempt. */
  relay?: string;
  /** Seconds from arrival to the last attempt. */
  delay?: number;
  /** `a/b/c/d` of the last attempt. */
  delays?: string;
  /** Enhanced status code of the last attempt. */
  dsn?: string;
  /** Last status: `sent`, `deferred`, `bounced`, `expired`, ... */
  status: string;
  /** Text in parentheses of the last attempt. */
  reply?: string;
  /** Next queue id when handed on (content filter, forwarding). */
  queued_as?: string;
  /** Delivery attempts logged for this recipient. */
  attempts: number;
  /** Epoch ms of the last attempt. */
  time: number;
}

/** One open message, as kept in the tracker's state (JSON-serialisable). */
export interface MessageState {
  /** The queue id. */
  queue_id: string;
  /** Host that logged the message. */
  host: string;
  /** Epoch ms of the first line seen. */
  first: number;
  /** Epoch ms of the latest line seen. */
  last: number;
  /** Whether the line that created the message (client=, uid=, cleanup) was seen. */
  started: boolean;
  /** Whether the first line seen was from the middle of the message's life. */
  partial?: boolean;
  /** Whether qmgr has the message (`from=..., nrcpt=... (queue active)`). */
  queued?: boolean;
  /**
   * Whether qmgr removed the message, which Postfix made itself, before the line
   * naming the message it belongs to: it waits for that line (see NOTICE_WAIT).
   */
  removed?: boolean;
  /** Transaction fields gathered so far (`client`, `helo`, `from`, `size`, ...). */
  fields: Record<string, string | number | boolean>;
  /** Recipients by delivery attempt order. */
  recipients: RecipientState[];
}

/** An smtpd session between `connect` and `disconnect`. */
export interface SessionState {
  /** `host pid` of the smtpd process. */
  key: string;
  /** Client fields of the connection. */
  fields: Record<string, string | number>;
  /** Epoch ms of the latest line. */
  last: number;
}

/** What {@linkcode PostfixTracker.snapshot} returns. */
export interface PostfixTrackerState {
  /** Format version of this state. */
  version: 1;
  /** Latest log time seen and the wall time it was read at (epoch ms). */
  clock: [number, number];
  /** Open messages. */
  messages: MessageState[];
  /** Open smtpd sessions. */
  sessions: SessionState[];
}

/** Options of {@linkcode PostfixTracker}. */
export interface PostfixTrackerOptions {
  /**
   * Log-time milliseconds without a line about a message after which it is emitted
   * with `incomplete: true`. Default one hour.
   */
  timeout?: number;
  /**
   * Like `timeout`, for messages queued with deferred recipients, which Postfix
   * retries for up to `maximal_queue_lifetime`. Default five days.
   */
  deferredTimeout?: number;
  /** Most messages kept open; the oldest beyond it is emitted incomplete. Default 100,000. */
  maxOpen?: number;
  /**
   * Most smtpd sessions kept (a `connect from` whose `disconnect from` is not in the
   * log yet); the oldest beyond it is forgotten. A host runs at most
   * `default_process_limit` (100) smtpd processes, so only lost lines get near the
   * default, 10,000: without a bound they would be kept for `timeout`.
   */
  maxSessions?: number;
  /** Whether BSD timestamps are UTC rather than local time. */
  utc?: boolean;
}

const SWEEP_EVERY = 60_000;

/**
 * Log-time milliseconds a message Postfix made itself (a bounce or delay notice, a
 * forwarded copy) waits after its `removed` for the line that names its parent.
 * The bounce daemon logs `sender non-delivery notification: ID` only once the
 * notice is queued, and qmgr may deliver and remove the notice before that line
 * reaches the log; holding it briefly keeps it one transaction, with its link.
 */
const NOTICE_WAIT = 10_000;

/**
 * `line` in memory of its own. A reader cuts lines out of a large decoded chunk, and
 * V8 keeps the whole chunk alive behind any substring of it: an open message, kept
 * for hours or (deferred) days, would otherwise hold its chunk, up to 256 KiB each.
 */
function ownCopy(line: string): string {
  // V8 copies substrings shorter than 13 characters anyway; the concatenation is
  // flattened into a new string, of which `slice` keeps only that copy alive.
  return line.length < 13 ? line : (" " + line).slice(1);
}

/**
 * A {@linkcode LineParser} for Postfix logs (mail.log, the journal, `maillog_file`).
 *
 * Events:
 * - `smtp.transaction`, one per message when it is removed from the queue (or
 *   dropped by a timeout or `end()`, then with `incomplete: true`), `time` being
 *   its first line. Fields when known: `queue_id`, `client`, `client_name`,
 *   `client_ip`, `client_port`, `helo`, `sasl_method`, `sasl_username`,
 *   `sasl_sender`, `uid` (pickup), `message_id`, `from`, `size`, `nrcpt`,
 *   `recipients` (an array of `{to, orig_to, relay, delay, delays, dsn, status,
 *   reply, queued_as, attempts, time}`, `status` being the last one: `sent`,
 *   `deferred`, `bounced`, `expired`...), `parent_queue_id` and `notification`
 *   (on a bounce or delay notice: the message it is about), `bounce_queue_id` (on
 *   the message that bounced), `notice_queue_id` (other notices),
 *   `previous_queue_id` (re-injected after a content filter), `end_time`, and the
 *   flags `partial` (its start is not in the log), `incomplete`, `expired`,
 *   `discarded`, `hold`. A message Postfix made itself (a notice, a forwarded
 *   copy) may be removed before the line naming its parent is logged; it is
 *   emitted when that line comes, or 10 s of log time after its removal.
 * - `smtp.reject`, one per refusal (`NOQUEUE: reject: ...`, or with `queue_id`):
 *   `action`, `stage`, `client`, `client_name`, `client_ip`, `code`, `dsn`,
 *   `reply`, `from`, `to`, `proto`, `helo`.
 * - `smtp.deferred`, one per deferred delivery attempt: `queue_id`, `from`, `to`,
 *   `orig_to`, `relay`, `delay`, `delays`, `dsn`, `reply`, `attempts`.
 *
 * Lines of other programs and Postfix lines that say nothing about a message
 * return `[]`; only lines without a syslog header return `undefined`.
 *
 * @example
 * ```ts
 * import { PostfixTracker } from "@eventstorm/source-postfix";
 * const tracker = new PostfixTracker({ utc: true });
 * const ctx = { path: "mail.log", host: "mx", readAt: new Date("2026-11-24T00:00:00Z") };
 * for (
 *   const line of [
 *     "Nov 23 10:00:00 mx postfix/smtpd[1]: 4A1B2C3D4E: client=a.example[192.0.2.1]",
 *     "Nov 23 10:00:00 mx postfix/qmgr[2]: 4A1B2C3D4E: from=<a@a.example>, size=900, nrcpt=1 (queue active)",
 *     "Nov 23 10:00:01 mx postfix/local[3]: 4A1B2C3D4E: to=<b@mx>, relay=local, delay=1, delays=0.5/0/0/0.5, dsn=2.0.0, status=sent (delivered to mailbox)",
 *     "Nov 23 10:00:01 mx postfix/qmgr[2]: 4A1B2C3D4E: removed",
 *   ]
 * ) {
 *   for (const event of tracker.parse(line, ctx) ?? []) console.log(event.type, event.recipients);
 * }
 * ```
 */
export class PostfixTracker implements LineParser<PostfixTrackerState> {
  #syslog: SyslogParser;
  #timeout: number;
  #deferredTimeout: number;
  #maxOpen: number;
  #maxSessions: number;
  #messages = new Map<string, MessageState>();
  /** Removed messages waiting for their parent's line, oldest first. */
  #held = new Map<string, MessageState>();
  #sessions = new Map<string, SessionState>();
  #recipientIndex = new WeakMap<MessageState, Map<string, RecipientState>>();
  #clockLog = 0;
  #clockWall = 0;
  #nextSweep = 0;

  /** Creates a tracker; see {@linkcode PostfixTrackerOptions}. */
  constructor(options: PostfixTrackerOptions = {}) {
    this.#syslog = new SyslogParser({ utc: options.utc });
    this.#timeout = options.timeout ?? 3_600_000;
    this.#deferredTimeout = options.deferredTimeout ?? 5 * 86_400_000;
    this.#maxOpen = options.maxOpen ?? 100_000;
    this.#maxSessions = options.maxSessions ?? 10_000;
  }

  /** Number of messages currently open. */
  get openCount(): number {
    return this.#messages.size;
  }

  /** Events from one log line; see the class documentation. */
  parse(line: string, context: LineContext): Event[] | undefined {
    const header = this.#syslog.parse(ownCopy(line), context.readAt);
    if (header === undefined) return undefined;
    const daemon = postfixDaemon(header.program);
    if (daemon === undefined) return [];
    const record = parsePostfixMessage(daemon, header.message);
    const time = header.time.getTime();
    const out: Event[] = [];
    if (time > this.#clockLog) {
      this.#clockLog = time;
      this.#clockWall = context.readAt.getTime();
      if (this.#held.size > 0) this.#release(time, out);
      if (time >= this.#nextSweep) {
        this.#sweep(time, out);
        this.#nextSweep = time + SWEEP_EVERY;
      }
    }
    if (record === undefined) return out;
    const host = header.host || context.host;
    const sessionKey = `${host} ${header.pid ?? header.program}`;
    switch (record.kind) {
      case "connect": {
        const { kind: _, ...fields } = record;
        // Deleted first so that a reused pid's session is the newest in the map's order.
        this.#sessions.delete(sessionKey);
        this.#sessions.set(sessionKey, { key: sessionKey, fields, last: time });
        if (this.#sessions.size > this.#maxSessions) {
          this.#sessions.delete(this.#sessions.keys().next().value!);
        }
        break;
      }
      case "disconnect":
        this.#sessions.delete(sessionKey);
        break;
      case "client":
        this.#onClient(record, host, time, sessionKey, out);
        break;
      case "pickup": {
        const message = this.#start(record.queue_id, host, time, out);
        if (record.uid !== undefined) message.fields.uid = record.uid;
        if (message.fields.from === undefined) message.fields.from = record.from;
        break;
      }
      case "message-id": {
        let message = this.#messages.get(`${host} ${record.queue_id}`);
        if (message !== undefined && message.fields.message_id !== undefined) {
          // The id is being reused: the old message's end was not logged.
          out.push(this.#finish(message, true));
          message = undefined;
        }
        message ??= this.#open(record.queue_id, host, time, false);
        message.started = true;
        message.last = time;
        message.fields.message_id = record.message_id;
        break;
      }
      case "queued": {
        const message = this.#get(record.queue_id, host, time);
        message.queued = true;
        message.fields.from = record.from;
        if (record.size !== undefined) message.fields.size = record.size;
        if (record.nrcpt !== undefined) message.fields.nrcpt = record.nrcpt;
        break;
      }
      case "expired": {
        const message = this.#get(record.queue_id, host, time);
        message.fields.from = record.from;
        message.fields.expired = true;
        for (const recipient of message.recipients) {
          if (recipient.status === "deferred") recipient.status = "expired";
        }
        break;
      }
      case "delivery":
        this.#onDelivery(record, host, time, out);
        break;
      case "removed": {
        const message = this.#get(record.queue_id, host, time);
        if (madeByPostfix(message)) {
          message.removed = true;
          this.#held.set(`${host} ${record.queue_id}`, message);
        } else {
          out.push(this.#finish(message, false));
        }
        break;
      }
      case "notification":
        this.#onNotification(record, host, time, out);
        break;
      case "reject":
        this.#onReject(record, host, time, sessionKey, daemon, out);
        break;
      case "note": {
        const message = record.queue_id === undefined
          ? undefined
          : this.#messages.get(`${host} ${record.queue_id}`);
        if (message !== undefined) {
          message.last = time;
          if (record.helo !== undefined) message.fields.helo = record.helo;
          if (record.action === "discard") message.fields.discarded = true;
          if (record.action === "hold") message.fields.hold = true;
        } else if (record.helo !== undefined) {
          const session = this.#sessions.get(sessionKey);
          if (session) session.fields.helo = record.helo;
        }
        break;
      }
    }
    return out;
  }

  /**
   * Emits messages idle for longer than the timeout. The log's clock is the latest
   * line's time advanced by the wall time since that line was read, so a replay of
   * an old file is judged by its own timeline and a quiet log still times out.
   */
  tick(now: Date): Event[] {
    if (this.#clockLog === 0) return [];
    const logNow = this.#clockLog + Math.max(0, now.getTime() - this.#clockWall);
    const out: Event[] = [];
    this.#release(logNow, out);
    this.#sweep(logNow, out);
    return out;
  }

  /**
   * Emits every open message with `incomplete: true` (those already removed and
   * waiting for their parent's line, complete) and forgets all state.
   */
  end(): Event[] {
    const out: Event[] = [];
    for (const message of [...this.#messages.values()]) out.push(this.#finish(message, true));
    this.#sessions.clear();
    return out;
  }

  /** The open messages and sessions, for a checkpoint. */
  snapshot(): PostfixTrackerState {
    return structuredClone({
      version: 1 as const,
      clock: [this.#clockLog, this.#clockWall] as [number, number],
      messages: [...this.#messages.values()],
      sessions: [...this.#sessions.values()],
    });
  }

  /**
   * Restores what {@linkcode PostfixTracker.snapshot} saved. Malformed entries are
   * skipped (a checkpoint from another version starts with less state, not a crash).
   */
  restore(state: PostfixTrackerState): void {
    this.#messages.clear();
    this.#held.clear();
    this.#sessions.clear();
    if (state === null || typeof state !== "object" || state.version !== 1) return;
    if (Array.isArray(state.clock) && state.clock.every(Number.isFinite)) {
      [this.#clockLog, this.#clockWall] = state.clock;
    }
    for (const message of Array.isArray(state.messages) ? state.messages : []) {
      if (
        message && typeof message.queue_id === "string" && typeof message.host === "string" &&
        Number.isFinite(message.first) && Number.isFinite(message.last) &&
        Array.isArray(message.recipients) && message.fields && typeof message.fields === "object"
      ) {
        this.#messages.set(`${message.host} ${message.queue_id}`, structuredClone(message));
      }
    }
    const held = [...this.#messages].filter(([, message]) => message.removed === true);
    for (const [key, message] of held.sort(([, a], [, b]) => a.last - b.last)) {
      this.#held.set(key, message);
    }
    for (const session of Array.isArray(state.sessions) ? state.sessions : []) {
      if (session && typeof session.key === "string" && session.fields) {
        this.#sessions.set(session.key, structuredClone(session));
      }
    }
  }

  #onClient(
    record: ClientRecord,
    host: string,
    time: number,
    sessionKey: string,
    out: Event[],
  ): void {
    const message = this.#start(record.queue_id, host, time, out);
    const { kind: _, queue_id: __, ...fields } = record;
    Object.assign(message.fields, fields);
    const session = this.#sessions.get(sessionKey);
    if (session !== undefined && session.fields.client_ip === record.client_ip) {
      session.last = time;
      if (session.fields.helo !== undefined) message.fields.helo = session.fields.helo;
    }
  }

  #onDelivery(record: DeliveryRecord, host: string, time: number, out: Event[]): void {
    const message = this.#get(record.queue_id, host, time);
    const recipient = this.#recipient(message, record.to, record.orig_to, time);
    recipient.status = record.status;
    recipient.attempts++;
    recipient.time = time;
    if (record.relay !== undefined) recipient.relay = record.relay;
    if (record.delay !== undefined) recipient.delay = record.delay;
    if (record.delays !== undefined) recipient.delays = record.delays;
    if (record.dsn !== undefined) recipient.dsn = record.dsn;
    if (record.reply !== undefined) recipient.reply = record.reply;
    if (record.queued_as !== undefined) {
      recipient.queued_as = record.queued_as;
      // Link only a message this host already has open: "queued as" in a reply from
      // another server names that server's queue.
      const next = this.#messages.get(`${host} ${record.queued_as}`);
      if (next !== undefined && next !== message) {
        next.fields.previous_queue_id = record.queue_id;
        if (next.removed) out.push(this.#finish(next, false));
      }
    }
    if (record.status === "deferred") {
      const event: Event = {
        type: "smtp.deferred",
        time: new Date(time),
        host,
        queue_id: record.queue_id,
      };
      if (message.fields.from !== undefined) event.from = message.fields.from;
      copyDefined(event, recipient, DEFERRED_FIELDS);
      out.push(event);
    }
  }

  #onNotification(record: NotificationRecord, host: string, time: number, out: Event[]): void {
    const parent = this.#get(record.queue_id, host, time);
    const childKey = `${host} ${record.child_queue_id}`;
    let child = this.#messages.get(childKey);
    if (child === undefined) {
      child = this.#open(record.child_queue_id, host, time, false);
      child.started = true;
    }
    child.fields.parent_queue_id = record.queue_id;
    child.fields.notification = record.notice;
    if (record.notice.endsWith("non-delivery")) {
      parent.fields.bounce_queue_id = record.child_queue_id;
    } else {
      parent.fields.notice_queue_id = record.child_queue_id;
    }
    if (child.removed) out.push(this.#finish(child, false));
  }

  #onReject(
    record: RejectRecord,
    host: string,
    time: number,
    sessionKey: string,
    daemon: string,
    out: Event[],
  ): void {
    const event: Event = { type: "smtp.reject", time: new Date(time), host };
    const { kind: _, ...fields } = record;
    Object.assign(event, fields);
    out.push(event);
    const session = this.#sessions.get(sessionKey);
    if (session !== undefined && record.helo !== undefined) session.fields.helo = record.helo;
    if (record.queue_id === undefined) return;
    const key = `${host} ${record.queue_id}`;
    const message = this.#messages.get(key);
    if (message === undefined) return;
    message.last = time;
    if (record.helo !== undefined) message.fields.helo = record.helo;
    // Refused after DATA or by a content check: the queue file is deleted without
    // a `removed` line, and the smtp.reject above is the message's whole story.
    const stage = record.stage;
    if (
      daemon === "cleanup" || stage === "DATA" || stage === "END-OF-MESSAGE" ||
      stage.charCodeAt(0) >= 97
    ) {
      this.#messages.delete(key);
    }
  }

  /** A line that creates a message: a new one, or the id is being reused. */
  #start(queueId: string, host: string, time: number, out: Event[]): MessageState {
    const existing = this.#messages.get(`${host} ${queueId}`);
    if (existing !== undefined) {
      const progressed = existing.started &&
        (existing.queued || existing.recipients.length > 0 ||
          existing.fields.client !== undefined || existing.fields.uid !== undefined);
      if (!progressed && !existing.partial) {
        existing.started = true;
        existing.last = time;
        return existing;
      }
      out.push(this.#finish(existing, true));
    }
    const message = this.#open(queueId, host, time, false);
    message.started = true;
    return message;
  }

  /** The open message for a line from the middle of its life, created partial if new. */
  #get(queueId: string, host: string, time: number): MessageState {
    const message = this.#messages.get(`${host} ${queueId}`);
    if (message !== undefined) {
      message.last = time;
      return message;
    }
    return this.#open(queueId, host, time, true);
  }

  #open(queueId: string, host: string, time: number, partial: boolean): MessageState {
    const message: MessageState = {
      queue_id: queueId,
      host,
      first: time,
      last: time,
      started: false,
      fields: {},
      recipients: [],
    };
    if (partial) message.partial = true;
    this.#messages.set(`${host} ${queueId}`, message);
    return message;
  }

  #recipient(
    message: MessageState,
    to: string,
    origTo: string | undefined,
    time: number,
  ): RecipientState {
    const list = message.recipients;
    let found: RecipientState | undefined;
    if (list.length > 16) {
      let index = this.#recipientIndex.get(message);
      if (index === undefined || index.size !== list.length) {
        index = new Map(list.map((r) => [`${r.to}\n${r.orig_to ?? ""}`, r]));
        this.#recipientIndex.set(message, index);
      }
      found = index.get(`${to}\n${origTo ?? ""}`);
    } else {
      found = list.find((r) => r.to === to && r.orig_to === origTo);
    }
    if (found !== undefined) return found;
    const recipient: RecipientState = { to, status: "", attempts: 0, time };
    if (origTo !== undefined) recipient.orig_to = origTo;
    list.push(recipient);
    const index = this.#recipientIndex.get(message);
    if (index !== undefined) index.set(`${to}\n${origTo ?? ""}`, recipient);
    return recipient;
  }

  /** Emits removed messages whose wait for their parent's line is over at `logNow`. */
  #release(logNow: number, out: Event[]): void {
    for (const message of this.#held.values()) {
      if (logNow - message.last <= NOTICE_WAIT) break;
      out.push(this.#finish(message, false));
    }
  }

  /** Emits and forgets `message`; one that was removed is never incomplete. */
  #finish(message: MessageState, incomplete: boolean): Event {
    const key = `${message.host} ${message.queue_id}`;
    this.#messages.delete(key);
    if (message.removed) {
      this.#held.delete(key);
      incomplete = false;
    }
    const event: Event = {
      type: "smtp.transaction",
      time: new Date(message.first),
      host: message.host,
      queue_id: message.queue_id,
      ...message.fields,
      recipients: message.recipients.map((r) => {
        const out: Record<string, unknown> = { to: r.to };
        copyDefined(out, r, RECIPIENT_FIELDS);
        out.time = new Date(r.time);
        return out;
      }),
      end_time: new Date(message.last),
    };
    if (message.partial) event.partial = true;
    if (incomplete) event.incomplete = true;
    return event;
  }

  #sweep(logNow: number, out: Event[]): void {
    // Runs every minute of log time over every open message, deferred ones
    // included for days: the cheap test first. (A Map may lose the entry being
    // visited, which #finish does, without disturbing the iteration.)
    const shortest = Math.min(this.#timeout, this.#deferredTimeout);
    for (const message of this.#messages.values()) {
      const idle = logNow - message.last;
      if (idle <= shortest) continue;
      const waiting = message.queued && message.recipients.some((r) => r.status === "deferred");
      if (idle > (waiting ? this.#deferredTimeout : this.#timeout)) {
        out.push(this.#finish(message, true));
      }
    }
    while (this.#messages.size > this.#maxOpen) {
      const oldest = this.#messages.values().next().value!;
      out.push(this.#finish(oldest, true));
    }
    for (const [key, session] of this.#sessions) {
      if (logNow - session.last > this.#timeout) this.#sessions.delete(key);
    }
  }
}

/**
 * Whether Postfix made `message` itself (a notice, a forwarded copy: no client, no
 * pickup) and the line linking it to its parent has not been seen yet.
 */
function madeByPostfix(message: MessageState): boolean {
  const fields = message.fields;
  return message.started && !message.partial && fields.client === undefined &&
    fields.uid === undefined && fields.parent_queue_id === undefined &&
    fields.previous_queue_id === undefined;
}

const RECIPIENT_FIELDS = [
  "orig_to",
  "relay",
  "delay",
  "delays",
  "dsn",
  "status",
  "reply",
  "queued_as",
  "attempts",
] as const;

const DEFERRED_FIELDS = [
  "to",
  "orig_to",
  "relay",
  "delay",
  "delays",
  "dsn",
  "reply",
  "attempts",
] as const;

function copyDefined<T extends object>(
  target: Record<string, unknown>,
  source: T,
  keys: readonly (keyof T & string)[],
): void {
  for (const key of keys) {
    const value = source[key];
    if (value !== undefined) target[key] = value;
  }
}
