/**
 * One Postfix log message (the part after `postfix/daemon[pid]: `) as a record.
 * Stateless: {@linkcode PostfixTracker} puts the records of a message together.
 *
 * Field names are Postfix's own words (`client`, `from`, `size`, `nrcpt`, `to`,
 * `orig_to`, `relay`, `delay`, `delays`, `dsn`, `status`).
 *
 * @module
 */

/** Where an SMTP client came from, as Postfix writes `name[ip]:port`. */
export interface PostfixClient {
  /** The client as logged, like `mail.example.com[192.0.2.1]`. */
  client: string;
  /** The reverse name, or `unknown`. Absent when Postfix logged only `[ip]`. */
  client_name?: string;
  /** The address between the brackets. */
  client_ip: string;
  /** The port after `]:`, when logged (`smtpd_client_port_logging`, postscreen). */
  client_port?: number;
}

/** `connect from` / `disconnect from` of an smtpd session. */
export interface ConnectRecord extends PostfixClient {
  /** Which. */
  kind: "connect" | "disconnect";
}

/** smtpd `QID: client=...`: a message enters over SMTP. */
export interface ClientRecord extends PostfixClient {
  /** Record kind. */
  kind: "client";
  /** The queue id. */
  queue_id: string;
  /** SASL mechanism when the client authenticated. */
  sasl_method?: string;
  /** SASL login name. */
  sasl_username?: string;
  /** SASL sender (`MAIL FROM ... AUTH=`). */
  sasl_sender?: string;
}

/** pickup `QID: uid=0 from=<root>`: a message enters through `sendmail`. */
export interface PickupRecord {
  /** Record kind. */
  kind: "pickup";
  /** The queue id. */
  queue_id: string;
  /** Unix user id of the submitter. */
  uid?: number;
  /** Envelope sender as pickup saw it. */
  from: string;
}

/** cleanup `QID: message-id=<...>`. */
export interface MessageIdRecord {
  /** Record kind. */
  kind: "message-id";
  /** The queue id. */
  queue_id: string;
  /** The Message-ID header without angle brackets. */
  message_id: string;
}

/** qmgr `QID: from=<...>, size=N, nrcpt=N (queue active)`. */
export interface QueuedRecord {
  /** Record kind. */
  kind: "queued";
  /** The queue id. */
  queue_id: string;
  /** Envelope sender; empty for bounces (`from=<>`). */
  from: string;
  /** Message size in bytes. */
  size?: number;
  /** Number of recipients. */
  nrcpt?: number;
}

/** qmgr `QID: from=<...>, status=expired, returned to sender`. */
export interface ExpiredRecord {
  /** Record kind. */
  kind: "expired";
  /** The queue id. */
  queue_id: string;
  /** Envelope sender. */
  from: string;
}

/** A delivery attempt: `QID: to=<...>, relay=..., delay=..., dsn=..., status=...`. */
export interface DeliveryRecord {
  /** Record kind. */
  kind: "delivery";
  /** The queue id. */
  queue_id: string;
  /** Recipient after aliasing. */
  to: string;
  /** Recipient as given, when it differs. */
  orig_to?: string;
  /** Next hop, like `mx.example.com[192.0.2.2]:25`, `local` or `none`. */
  relay?: string;
  /** Seconds from arrival to this attempt. */
  delay?: number;
  /** `a/b/c/d`: before qmgr, in qmgr, connection setup, transmission. */
  delays?: string;
  /** Enhanced status code. */
  dsn?: string;
  /** `sent`, `deferred`, `bounced`, `expired`, `undeliverable`, ... */
  status: string;
  /** The text in parentheses after the status. */
  reply?: string;
  /** The next queue id when the message was handed on (`queued as`, `forwarded as`). */
  queued_as?: string;
}

/** qmgr or postsuper `QID: removed`. */
export interface RemovedRecord {
  /** Record kind. */
  kind: "removed";
  /** The queue id. */
  queue_id: string;
}

/** bounce `QID: sender non-delivery notification: NEWQID` and its siblings. */
export interface NotificationRecord {
  /** Record kind. */
  kind: "notification";
  /** The message the notification is about. */
  queue_id: string;
  /** The notification message's own queue id. */
  child_queue_id: string;
  /** Which notification, like `sender non-delivery` or `sender delay`. */
  notice: string;
}

/** A refusal: `NOQUEUE: reject: RCPT from ...` or `QID: reject: header ...`. */
export interface RejectRecord extends Partial<PostfixClient> {
  /** Record kind. */
  kind: "reject";
  /** Queue id when the message already had one. */
  queue_id?: string;
  /** `reject` or `milter-reject`. */
  action: string;
  /** SMTP stage (`CONNECT`, `HELO`, `MAIL`, `RCPT`, `DATA`, `END-OF-MESSAGE`) or
   * content check (`header`, `body`). */
  stage: string;
  /** SMTP reply code. */
  code?: number;
  /** Enhanced status code. */
  dsn?: string;
  /** The reply text after the codes. */
  reply: string;
  /** Envelope sender. */
  from?: string;
  /** Envelope recipient. */
  to?: string;
  /** `SMTP` or `ESMTP`. */
  proto?: string;
  /** HELO/EHLO name. */
  helo?: string;
}

/** Any other line that names a message or a HELO: `hold`, `warning: header`, `discard`, ... */
export interface NoteRecord {
  /** Record kind. */
  kind: "note";
  /** Queue id, when the line has one. */
  queue_id?: string;
  /** The action word (`hold`, `discard`, `warning`, `info`, `filter`, `reject_warning`, ...). */
  action: string;
  /** HELO name, when logged. */
  helo?: string;
}

/** What {@linkcode parsePostfixMessage} recognises. */
export type PostfixRecord =
  | ConnectRecord
  | ClientRecord
  | PickupRecord
  | MessageIdRecord
  | QueuedRecord
  | ExpiredRecord
  | DeliveryRecord
  | RemovedRecord
  | NotificationRecord
  | RejectRecord
  | NoteRecord;

/**
 * The Postfix daemon of a syslog program tag (`postfix/smtpd`,
 * `postfix/submission/smtpd`, `postfix-out/qmgr` → `smtpd`, `smtpd`, `qmgr`), or
 * `undefined` when the tag is not Postfix's.
 *
 * @example
 * ```ts
 * import { postfixDaemon } from "@eventstorm/source-postfix";
 * postfixDaemon("postfix/submission/smtpd"); // "smtpd"
 * postfixDaemon("sshd"); // undefined
 * ```
 */
export function postfixDaemon(program: string): string | undefined {
  if (!program.startsWith("postfix")) return undefined;
  const slash = program.lastIndexOf("/");
  if (slash < 0) return undefined;
  const first = program.indexOf("/");
  const c = program.charCodeAt(7);
  // `postfix/...` or `postfix-<instance>/...`, but not `postfixadmin/...`.
  if (first !== 7 && c !== 45 /* - */) return undefined;
  return program.slice(slash + 1);
}

/**
 * Parses one Postfix message. `daemon` is the last component of the program tag
 * (see {@linkcode postfixDaemon}). Returns `undefined` for lines that neither follow
 * a message nor refuse one (statistics, warnings, connection chatter).
 *
 * @example
 * ```ts
 * import { parsePostfixMessage } from "@eventstorm/source-postfix";
 * const record = parsePostfixMessage(
 *   "smtp",
 *   "59F49243F8: to=<noreply@drozta.us>, relay=none, delay=67596, delays=67596/0.01/0.09/0, dsn=4.4.1, status=deferred (connect to drozta.us[213.163.84.205]:25: Connection refused)",
 * );
 * console.log(record?.kind); // "delivery"
 * ```
 */
export function parsePostfixMessage(daemon: string, message: string): PostfixRecord | undefined {
  const colon = queueIdEnd(message);
  if (colon > 0) {
    const queueId = message.slice(0, colon);
    return parseQueued(daemon, queueId, message, colon + 2);
  }
  if (message.startsWith("NOQUEUE: ")) return parseNoQueue(message.slice(9));
  if (daemon === "smtpd" || daemon === "postscreen") {
    if (message.startsWith("connect from ")) return connectRecord("connect", message, 13);
    if (message.startsWith("disconnect from ")) return connectRecord("disconnect", message, 16);
  }
  return undefined;
}

function parseQueued(
  daemon: string,
  queueId: string,
  message: string,
  at: number,
): PostfixRecord | undefined {
  const c = message.charCodeAt(at);
  switch (c) {
    case 116: // t
      if (message.startsWith("to=<", at)) return parseDelivery(queueId, message, at);
      break;
    case 102: // f
      if (message.startsWith("from=<", at)) return parseFrom(queueId, message, at + 6);
      if (message.startsWith("filter: ", at)) return note(queueId, "filter", message, at);
      break;
    case 114: // r
      if (message.startsWith("removed", at) && message.length - at <= 8) {
        return { kind: "removed", queue_id: queueId };
      }
      if (message.startsWith("reject: ", at)) {
        return parseReject("reject", message.slice(at + 8), queueId);
      }
      if (message.startsWith("reject_warning: ", at)) {
        return note(queueId, "reject_warning", message, at);
      }
      if (message.startsWith("redirect: ", at)) return note(queueId, "redirect", message, at);
      if (message.startsWith("replace: ", at)) return note(queueId, "replace", message, at);
      break;
    case 99: // c
      if (message.startsWith("client=", at)) return parseClientLine(queueId, message, at + 7);
      break;
    case 109: // m
      if (message.startsWith("message-id=", at)) {
        return { kind: "message-id", queue_id: queueId, message_id: unbracket(message, at + 11) };
      }
      if (message.startsWith("milter-reject: ", at)) {
        return parseReject("milter-reject", message.slice(at + 15), queueId);
      }
      break;
    case 117: // u
      if (message.startsWith("uid=", at)) return parsePickup(queueId, message, at + 4);
      break;
  }
  if (daemon === "bounce") {
    const n = message.indexOf(" notification: ", at);
    const child = n > 0 ? message.slice(n + 15).trim() : "";
    if (isQueueId(child)) {
      return {
        kind: "notification",
        queue_id: queueId,
        child_queue_id: child,
        notice: message.slice(at, n),
      };
    }
  }
  for (const action of NOTE_ACTIONS) {
    if (message.startsWith(action, at) && message.charCodeAt(at + action.length) === 58) {
      return note(queueId, action, message, at);
    }
  }
  return undefined;
}

const NOTE_ACTIONS = ["hold", "discard", "warning", "info", "warn", "prepend", "bcc", "strip"];

function note(
  queueId: string | undefined,
  action: string,
  message: string,
  at: number,
): NoteRecord {
  const record: NoteRecord = { kind: "note", action };
  if (queueId !== undefined) record.queue_id = queueId;
  const helo = bracketField(message, "helo=<", at);
  if (helo !== undefined) record.helo = helo;
  return record;
}

function parseNoQueue(rest: string): PostfixRecord | undefined {
  if (rest.startsWith("reject: ")) return parseReject("reject", rest.slice(8), undefined);
  if (rest.startsWith("milter-reject: ")) {
    return parseReject("milter-reject", rest.slice(15), undefined);
  }
  const colon = rest.indexOf(": ");
  if (colon > 0 && colon < 20) return note(undefined, rest.slice(0, colon), rest, colon);
  return undefined;
}

/**
 * `STAGE from CLIENT: CODE DSN TEXT; from=<a> to=<b> proto=P helo=<h>` (smtpd,
 * postscreen with commas between the fields) or `STAGE TEXT from CLIENT; from=<a>
 * to=<b> proto=P helo=<h>: DSN TEXT` (cleanup's header/body checks).
 */
function parseReject(action: string, text: string, queueId: string | undefined): RejectRecord {
  const space = text.indexOf(" ");
  const stage = space > 0 ? text.slice(0, space) : text;
  let attrs = firstOf(text, ["; from=<", "; to=<", "; proto=", "; helo=<"]);
  if (attrs < 0) attrs = text.length;
  const head = text.slice(0, attrs);
  const tail = attrs < text.length ? text.slice(attrs + 2) : "";
  const record: RejectRecord = { kind: "reject", action, stage, reply: "" };
  if (queueId !== undefined) record.queue_id = queueId;
  const contentCheck = stage.length > 0 && stage.charCodeAt(0) >= 97; // header, body, ...
  let replyText: string;
  if (contentCheck) {
    const from = head.lastIndexOf(" from ");
    if (from > 0) {
      const client = parseClient(head, from + 6, head.length);
      if (client) Object.assign(record, client.client);
    }
    const helo = tail.indexOf("helo=<");
    const end = helo >= 0 ? tail.indexOf(">: ", helo) : tail.lastIndexOf(": ");
    replyText = end >= 0 ? tail.slice(end + (helo >= 0 ? 3 : 2)) : "";
  } else {
    const from = head.indexOf(" from ");
    replyText = "";
    if (from > 0) {
      const client = parseClient(head, from + 6, head.length);
      if (client) {
        Object.assign(record, client.client);
        const after = head.charCodeAt(client.end) === 58 ? client.end + 2 : client.end;
        replyText = head.slice(after);
      }
    }
  }
  splitReply(record, replyText);
  const fromAddr = bracketField(tail, "from=<", 0);
  if (fromAddr !== undefined) record.from = fromAddr;
  const to = bracketField(tail, "to=<", 0);
  if (to !== undefined) record.to = to;
  const proto = plainField(tail, "proto=");
  if (proto !== undefined) record.proto = proto;
  const helo = bracketField(tail, "helo=<", 0);
  if (helo !== undefined) record.helo = helo;
  return record;
}

/** `554 5.7.1 text` → code, dsn, reply (each part optional). */
function splitReply(record: RejectRecord, text: string): void {
  let p = 0;
  if (
    text.length >= 4 && isDigit(text.charCodeAt(0)) && isDigit(text.charCodeAt(1)) &&
    isDigit(text.charCodeAt(2)) && text.charCodeAt(3) === 32
  ) {
    record.code = Number(text.slice(0, 3));
    p = 4;
  }
  const space = text.indexOf(" ", p);
  const word = space < 0 ? text.slice(p) : text.slice(p, space);
  if (/^[245]\.\d{1,3}\.\d{1,3}$/.test(word)) {
    record.dsn = word;
    p = space < 0 ? text.length : space + 1;
  }
  record.reply = text.slice(p);
}

function parseDelivery(queueId: string, message: string, at: number): DeliveryRecord | undefined {
  const toEnd = message.indexOf(">, ", at + 4);
  if (toEnd < 0) return undefined;
  const record: DeliveryRecord = {
    kind: "delivery",
    queue_id: queueId,
    to: message.slice(at + 4, toEnd),
    status: "",
  };
  let p = toEnd + 3;
  while (p < message.length) {
    const eq = message.indexOf("=", p);
    if (eq < 0) break;
    const key = message.slice(p, eq);
    if (key === "status") {
      const space = message.indexOf(" ", eq + 1);
      if (space < 0) {
        record.status = message.slice(eq + 1);
      } else {
        record.status = message.slice(eq + 1, space);
        const open = message.indexOf("(", space);
        if (open >= 0) {
          const close = message.lastIndexOf(")");
          record.reply = message.slice(open + 1, close > open ? close : message.length);
          const handedOn = handedOnQueueId(record.reply);
          if (handedOn) record.queued_as = handedOn;
        }
      }
      break;
    }
    let end: number;
    let value: string;
    if (message.charCodeAt(eq + 1) === 60 /* < */) {
      end = message.indexOf(">, ", eq + 2);
      if (end < 0) break;
      value = message.slice(eq + 2, end);
      end += 1;
    } else {
      end = message.indexOf(", ", eq + 1);
      if (end < 0) end = message.length;
      value = message.slice(eq + 1, end);
    }
    switch (key) {
      case "orig_to":
        record.orig_to = value;
        break;
      case "relay":
        record.relay = value;
        break;
      case "delay":
        record.delay = Number(value);
        break;
      case "delays":
        record.delays = value;
        break;
      case "dsn":
        record.dsn = value;
        break;
    }
    p = end + 2;
  }
  if (record.status === "") return undefined;
  return record;
}

/** `250 2.0.0 Ok: queued as 4Bz2Ln0XYx` or `forwarded as 4Bz2...` in a reply. */
function handedOnQueueId(reply: string): string | undefined {
  let at = reply.lastIndexOf("queued as ");
  if (at >= 0) at += 10;
  else {
    at = reply.lastIndexOf("forwarded as ");
    if (at < 0) return undefined;
    at += 13;
  }
  let end = at;
  while (end < reply.length && isAlnum(reply.charCodeAt(end))) end++;
  const id = reply.slice(at, end);
  return isQueueId(id) ? id : undefined;
}

function parseFrom(queueId: string, message: string, at: number): PostfixRecord | undefined {
  const close = message.indexOf(">, ", at);
  if (close < 0) return undefined;
  const from = message.slice(at, close);
  const rest = close + 3;
  if (message.startsWith("status=expired", rest)) {
    return { kind: "expired", queue_id: queueId, from };
  }
  const record: QueuedRecord = { kind: "queued", queue_id: queueId, from };
  const size = numberField(message, "size=", rest);
  if (size !== undefined) record.size = size;
  const nrcpt = numberField(message, "nrcpt=", rest);
  if (nrcpt !== undefined) record.nrcpt = nrcpt;
  return record;
}

function parsePickup(queueId: string, message: string, at: number): PickupRecord {
  const space = message.indexOf(" ", at);
  const uid = Number(message.slice(at, space < 0 ? message.length : space));
  const record: PickupRecord = {
    kind: "pickup",
    queue_id: queueId,
    from: bracketField(message, "from=<", at) ?? "",
  };
  if (Number.isInteger(uid)) record.uid = uid;
  return record;
}

function parseClientLine(queueId: string, message: string, at: number): ClientRecord | undefined {
  const parsed = parseClient(message, at, message.length);
  if (!parsed) return undefined;
  const record: ClientRecord = { kind: "client", queue_id: queueId, ...parsed.client };
  if (parsed.end < message.length) {
    const method = plainField(message, "sasl_method=", parsed.end);
    if (method !== undefined) record.sasl_method = method;
    const user = plainField(message, "sasl_username=", parsed.end);
    if (user !== undefined) record.sasl_username = user;
    const sender = plainField(message, "sasl_sender=", parsed.end);
    if (sender !== undefined) record.sasl_sender = sender;
  }
  return record;
}

function connectRecord(
  kind: "connect" | "disconnect",
  message: string,
  at: number,
): ConnectRecord | undefined {
  const parsed = parseClient(message, at, message.length);
  return parsed ? { kind, ...parsed.client } : undefined;
}

/** `name[ip]` or `name[ip]:port` or `[ip]:port` at `at`; `end` is just past it. */
function parseClient(
  text: string,
  at: number,
  limit: number,
): { client: PostfixClient; end: number } | undefined {
  const open = text.indexOf("[", at);
  if (open < 0 || open >= limit) return undefined;
  const close = text.indexOf("]", open + 1);
  if (close < 0 || close >= limit) return undefined;
  let end = close + 1;
  let port: number | undefined;
  if (text.charCodeAt(end) === 58 && isDigit(text.charCodeAt(end + 1))) {
    let p = end + 1;
    while (p < limit && isDigit(text.charCodeAt(p))) p++;
    port = Number(text.slice(end + 1, p));
    end = p;
  }
  const client: PostfixClient = {
    client: text.slice(at, end),
    client_ip: text.slice(open + 1, close),
  };
  if (open > at) client.client_name = text.slice(at, open);
  if (port !== undefined) client.client_port = port;
  return { client, end };
}

/**
 * Index of the `:` after a queue id at the start of `message` (followed by a
 * space), or -1. Short ids are upper-case hex; long ids (`enable_long_queue_ids`)
 * use digits and consonants only, so words like `warning:` never match.
 */
function queueIdEnd(message: string): number {
  const limit = Math.min(message.length, 21);
  let i = 0;
  while (i < limit && isAlnum(message.charCodeAt(i))) i++;
  if (i < 5 || message.charCodeAt(i) !== 58 || message.charCodeAt(i + 1) !== 32) return -1;
  return isQueueId(message.slice(0, i)) ? i : -1;
}

/**
 * Whether `id` looks like a Postfix queue id: 5+ upper-case hex digits (short
 * form), or 10+ characters of the long form's alphabet (digits and consonants).
 *
 * @example
 * ```ts
 * import { isQueueId } from "@eventstorm/source-postfix";
 * isQueueId("59F49243F8"); // true
 * isQueueId("4VWJ2v0jF7z9sWQ"); // true
 * isQueueId("NOQUEUE"); // false
 * ```
 */
export function isQueueId(id: string): boolean {
  const n = id.length;
  if (n < 5 || n > 20) return false;
  let hex = true;
  let long = n >= 10;
  for (let i = 0; i < n; i++) {
    const c = id.charCodeAt(i);
    const digit = c >= 48 && c <= 57;
    if (!digit && !(c >= 65 && c <= 70)) hex = false;
    if (long && !digit && !LONG_ID_LETTERS.has(c)) long = false;
    if (!hex && !long) return false;
  }
  return true;
}

const LONG_ID_LETTERS = new Set(
  [..."BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"].map((ch) => ch.charCodeAt(0)),
);

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Value of `key<...>` at or after `from`, without the angle brackets. */
function bracketField(text: string, key: string, from: number): string | undefined {
  const at = text.indexOf(key, from);
  if (at < 0) return undefined;
  const start = at + key.length;
  const end = text.indexOf(">", start);
  return text.slice(start, end < 0 ? text.length : end);
}

/** Value of `key` up to the next space or comma. */
function plainField(text: string, key: string, from = 0): string | undefined {
  const at = text.indexOf(key, from);
  if (at < 0) return undefined;
  const start = at + key.length;
  let end = start;
  while (end < text.length) {
    const c = text.charCodeAt(end);
    if (c === 32 || c === 44) break;
    end++;
  }
  return text.slice(start, end);
}

function numberField(text: string, key: string, from: number): number | undefined {
  const value = plainField(text, key, from);
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** `<id>` → `id`; ids without brackets are kept whole. */
function unbracket(text: string, at: number): string {
  if (text.charCodeAt(at) !== 60) return text.slice(at).trim();
  const end = text.indexOf(">", at + 1);
  return text.slice(at + 1, end < 0 ? text.length : end);
}

function firstOf(text: string, needles: string[]): number {
  let best = -1;
  for (const needle of needles) {
    const at = text.indexOf(needle);
    if (at >= 0 && (best < 0 || at < best)) best = at;
  }
  return best;
}
