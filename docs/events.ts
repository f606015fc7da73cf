/**
 * The event catalogue: every event type eventstorm emits, each field with its
 * BSON type and meaning, and which component emits it. This module is the one
 * source of truth; `docs/events.md` is generated from it
 * (`deno run -A docs/events.ts > docs/events.md`) and tests/catalogue_test.ts
 * checks both that the page is up to date and that what the real sources emit
 * matches.
 *
 * @module
 */

/**
 * BSON type of a field as eventstorm's codec writes it. `integer`: a whole
 * number, int32 when it fits, else a double (exact below 2^53). `number`: a
 * double, written as int32 when its value is integral (a reader accepts both).
 */
export type FieldType =
  | "string"
  | "integer"
  | "number"
  | "bool"
  | "date"
  | "array of number or null"
  | "array of recipient";

/** One field of an event type. */
export interface FieldSpec {
  name: string;
  type: FieldType;
  meaning: string;
  /** Present in every event of the type (else only when known). */
  always?: boolean;
}

/** One event type. */
export interface EventSpec {
  /** The type, or a pattern with `<source>` for one type per source. */
  type: string;
  emittedBy: string;
  summary: string;
  fields: FieldSpec[];
  /** Other fields may appear (said where in `summary`), with types as listed there. */
  open?: boolean;
}

const envelope: FieldSpec[] = [
  { name: "type", type: "string", meaning: "the event type, equal to the topic", always: true },
  { name: "time", type: "date", meaning: "when the event happened (UTC, ms)", always: true },
  { name: "host", type: "string", meaning: "the host the event is about", always: true },
];

const f = (name: string, type: FieldType, meaning: string, always = false): FieldSpec =>
  always ? { name, type, meaning, always } : { name, type, meaning };

/** Fields of one element of `smtp.transaction`'s `recipients`. */
export const RECIPIENT_FIELDS: FieldSpec[] = [
  f("to", "string", "recipient after aliasing", true),
  f("orig_to", "string", "recipient as given, when Postfix logged it"),
  f("relay", "string", "next hop of the last attempt"),
  f("delay", "number", "seconds from arrival to the last attempt"),
  f("delays", "string", "`a/b/c/d` breakdown of the last attempt's delay"),
  f("dsn", "string", "enhanced status code of the last attempt"),
  f("status", "string", "last status: `sent`, `deferred`, `bounced`, `expired`, …", true),
  f("reply", "string", "text in parentheses of the last attempt"),
  f("queued_as", "string", "next queue id when handed on (content filter, forwarding)"),
  f("attempts", "integer", "delivery attempts logged for this recipient", true),
  f("time", "date", "time of the last attempt", true),
];

/** Every event type eventstorm emits. */
export const CATALOGUE: EventSpec[] = [
  {
    type: "http.hit",
    emittedBy: "source nginx (one per access-log line), source demo",
    summary: "One HTTP request. The fields are the variables of the nginx `log_format` (nginx's " +
      "`combined` plus `$request_time $upstream_response_time` are listed); every other " +
      "variable becomes a field of its own name with the type sources/nginx/README.md gives.",
    open: true,
    fields: [
      f("remote_addr", "string", "client address"),
      f("remote_user", "string", "HTTP basic-auth user (absent for `-`)"),
      f("request", "string", "the request line as logged"),
      f("method", "string", "request method, from the request line"),
      f("path", "string", "path without the query, from the request line"),
      f("query", "string", "query string without `?`, when there is one"),
      f("protocol", "string", "`HTTP/1.1`, `HTTP/2.0`, … from the request line"),
      f("status", "integer", "response status", true),
      f("body_bytes_sent", "integer", "response body bytes"),
      f("http_referer", "string", "Referer header (absent for `-`)"),
      f("http_user_agent", "string", "User-Agent header"),
      f("request_time", "number", "seconds from the first byte read to the last byte sent"),
      f("upstream_response_time", "number", "seconds the upstreams took, summed"),
      f(
        "upstream_response_time_list",
        "array of number or null",
        "one entry per upstream tried, when more than one (`null` for `-`)",
      ),
    ],
  },
  {
    type: "smtp.transaction",
    emittedBy: "source postfix (one per message, when it leaves the queue or times out)",
    summary: "One message through Postfix; `time` is its first log line.",
    fields: [
      f("queue_id", "string", "Postfix queue id", true),
      f("client", "string", "`name[ip]` of the SMTP client"),
      f("client_name", "string", "client host name"),
      f("client_ip", "string", "client address"),
      f("client_port", "integer", "client port"),
      f("helo", "string", "HELO/EHLO name"),
      f("sasl_method", "string", "SASL mechanism of an authenticated client"),
      f("sasl_username", "string", "SASL user"),
      f("sasl_sender", "string", "SASL sender"),
      f("uid", "integer", "local user id (mail submitted by pickup)"),
      f("message_id", "string", "Message-ID header"),
      f("from", "string", "envelope sender"),
      f("size", "integer", "message size in bytes"),
      f("nrcpt", "integer", "number of recipients Postfix announced"),
      f("recipients", "array of recipient", "one document per recipient (below)"),
      f("parent_queue_id", "string", "on a bounce or delay notice: the message it is about"),
      f("notification", "string", "kind of notice this message is (bounce, delay, …)"),
      f("bounce_queue_id", "string", "on a message that bounced: the notice's queue id"),
      f("notice_queue_id", "string", "queue id of another notice about this message"),
      f("previous_queue_id", "string", "queue id before re-injection after a content filter"),
      f("end_time", "date", "when the message left the queue"),
      f("partial", "bool", "its start is not in the log"),
      f("incomplete", "bool", "sent on a timeout or at the end of input, not on removal"),
      f("expired", "bool", "Postfix gave up on it"),
      f("discarded", "bool", "a DISCARD action dropped it"),
      f("hold", "bool", "a HOLD action put it on hold"),
    ],
  },
  {
    type: "smtp.reject",
    emittedBy: "source postfix (one per refusal)",
    summary: "A refusal by smtpd or cleanup (`NOQUEUE: reject: …` or with a queue id).",
    fields: [
      f("action", "string", "`reject`, `discard`, `hold`, …", true),
      f("stage", "string", "SMTP stage: `RCPT`, `DATA`, `CONNECT`, …"),
      f("queue_id", "string", "queue id when the message had one"),
      f("client", "string", "`name[ip]` of the SMTP client"),
      f("client_name", "string", "client host name"),
      f("client_ip", "string", "client address"),
      f("code", "integer", "SMTP reply code"),
      f("dsn", "string", "enhanced status code"),
      f("reply", "string", "reply text"),
      f("from", "string", "envelope sender"),
      f("to", "string", "recipient"),
      f("proto", "string", "`SMTP` or `ESMTP`"),
      f("helo", "string", "HELO/EHLO name"),
    ],
  },
  {
    type: "smtp.deferred",
    emittedBy: "source postfix (one per deferred delivery attempt)",
    summary: "A delivery attempt that Postfix will retry.",
    fields: [
      f("queue_id", "string", "Postfix queue id", true),
      f("from", "string", "envelope sender"),
      f("to", "string", "recipient", true),
      f("orig_to", "string", "recipient as given"),
      f("relay", "string", "next hop"),
      f("delay", "number", "seconds since arrival"),
      f("delays", "string", "`a/b/c/d` breakdown of the delay"),
      f("dsn", "string", "enhanced status code"),
      f("reply", "string", "why it was deferred"),
      f("attempts", "integer", "attempts for this recipient so far"),
    ],
  },
  {
    type: "ssh.login",
    emittedBy: "source sshd (one per login decision or probe), source demo",
    summary: "A login decision of sshd.",
    fields: [
      f("result", "string", "`accepted`, `failed`, `invalid_user` or `not_allowed`", true),
      f("user", "string", "the account asked for (may be empty)", true),
      f("address", "string", "client address", true),
      f("port", "integer", "client port"),
      f("method", "string", "`password`, `publickey`, `keyboard-interactive`, …"),
      f("submethod", "string", "the part after `/` in `keyboard-interactive/pam`"),
      f("protocol", "string", "`ssh2`"),
      f("invalid_user", "bool", "the account does not exist"),
      f("key_type", "string", "key type of a public-key login (`RSA`, `ED25519`, …)"),
      f("key_fingerprint", "string", "key fingerprint (`SHA256:…`)"),
      f("reason", "string", "why the login was not allowed"),
      f("repeated", "integer", "attempts the line stands for (`message repeated N times`)"),
      f("pid", "integer", "sshd process id"),
    ],
  },
  {
    type: "host.cpu",
    emittedBy: "source metrics (every interval), source demo",
    summary: "CPU use over the last interval, in percent of all CPUs.",
    fields: [
      f("busy_percent", "number", "100 minus idle and iowait", true),
      f("user_percent", "number", "user time"),
      f("nice_percent", "number", "niced user time"),
      f("system_percent", "number", "kernel time"),
      f("iowait_percent", "number", "idle waiting for I/O"),
      f("irq_percent", "number", "hardware interrupts"),
      f("softirq_percent", "number", "software interrupts"),
      f("steal_percent", "number", "stolen by the hypervisor"),
      f("idle_percent", "number", "idle"),
      f("cpus", "integer", "number of CPUs"),
    ],
  },
  {
    type: "host.memory",
    emittedBy: "source metrics (every interval), source demo",
    summary: "Memory and swap (Linux /proc/meminfo).",
    fields: [
      f("total_bytes", "integer", "physical memory", true),
      f("used_bytes", "integer", "total minus available", true),
      f("used_percent", "number", "used of total", true),
      f("available_bytes", "integer", "MemAvailable"),
      f("free_bytes", "integer", "MemFree"),
      f("buffers_bytes", "integer", "Buffers"),
      f("cached_bytes", "integer", "Cached"),
      f("swap_total_bytes", "integer", "swap size"),
      f("swap_free_bytes", "integer", "free swap"),
      f("swap_used_bytes", "integer", "used swap"),
      f("swap_used_percent", "number", "used of swap (0 without swap)"),
    ],
  },
  {
    type: "host.disk",
    emittedBy: "source metrics (every interval, one per mounted file system)",
    summary: "Space of one mounted file system.",
    fields: [
      f("mount", "string", "mount point", true),
      f("fs", "string", "file system type"),
      f("device", "string", "device"),
      f("total_bytes", "integer", "size"),
      f("free_bytes", "integer", "free, root's reserve included"),
      f("available_bytes", "integer", "free for unprivileged users"),
      f("used_bytes", "integer", "total minus free"),
      f("used_percent", "number", "used of what users can have (as df shows)", true),
      f("inodes_total", "integer", "inodes"),
      f("inodes_free", "integer", "free inodes"),
      f("inodes_used_percent", "number", "used inodes"),
      f("read_only", "bool", "mounted read-only"),
    ],
  },
  {
    type: "host.load",
    emittedBy: "source metrics (every interval)",
    summary: "Load averages and processes (/proc/loadavg).",
    fields: [
      f("load1", "number", "1-minute load average", true),
      f("load5", "number", "5-minute load average"),
      f("load15", "number", "15-minute load average"),
      f("running", "integer", "runnable scheduling entities"),
      f("procs", "integer", "scheduling entities in total"),
    ],
  },
  {
    type: "host.net",
    emittedBy: "source metrics (every interval, one per interface)",
    summary: "Traffic of one network interface over the last interval (/proc/net/dev).",
    fields: [
      f("interface", "string", "interface name", true),
      f("interval_s", "number", "seconds the rates are over"),
      ...["rx", "tx"].flatMap((dir) => {
        const what = dir === "rx" ? "received" : "sent";
        return [
          f(`${dir}_bytes_per_s`, "number", `bytes ${what} per second`),
          f(`${dir}_packets_per_s`, "number", `packets ${what} per second`),
          f(`${dir}_errors`, "integer", `${what.replace("sent", "send")} errors in the interval`),
          f(`${dir}_drops`, "integer", `packets dropped (${what}) in the interval`),
          f(`${dir}_bytes_total`, "integer", `bytes ${what} since boot`),
          f(`${dir}_packets_total`, "integer", `packets ${what} since boot`),
          f(`${dir}_errors_total`, "integer", `errors (${what}) since boot`),
          f(`${dir}_drops_total`, "integer", `drops (${what}) since boot`),
        ];
      }),
    ],
  },
  {
    type: "<source>.unparsed",
    emittedBy: "sources nginx, postfix, sshd, syslog with `--unparsed` (`nginx.unparsed`, …)",
    summary: "A log line the source's parser does not understand; `time` is when it was read.",
    fields: [
      f("line", "string", "the line, without its newline", true),
      f(
        "path",
        "string",
        "the file it came from; syslog: the `--listen` address it came in on, as bound " +
          "(a port 0 replaced by the port picked)",
        true,
      ),
    ],
  },
  {
    type: "eventstorm.stats",
    emittedBy:
      "the router, every source and sink and the agent's inputs, every `--stats-interval`, " +
      "where `--stats-to` says (the router: on its own sinks side); docs/specs/stats.md",
    summary: "A component's counters. Besides the fields listed, every counter of the " +
      "component's stats line is a field of its own (`integer`, since the component started); " +
      "the stats line prints them under the same names.",
    open: true,
    fields: [
      f(
        "component",
        "string",
        "which: `router`, `sink-store`, `source-nginx`, `agent-web`, …",
        true,
      ),
      f("interval_ms", "integer", "milliseconds since the previous stats event", true),
    ],
  },
];

const UNPARSED = /^[a-z0-9_-]+\.unparsed$/;

/**
 * The catalogue entry of an event type, or undefined for a type eventstorm does
 * not emit.
 *
 * @example
 * ```ts
 * import { specOf } from "./events.ts";
 * specOf("http.hit")?.emittedBy; // "source nginx (one per access-log line), source demo"
 * ```
 */
export function specOf(type: string): EventSpec | undefined {
  if (UNPARSED.test(type)) return CATALOGUE.find((spec) => spec.type === "<source>.unparsed");
  return CATALOGUE.find((spec) => spec.type === type);
}

function typeOf(value: unknown): FieldType | undefined {
  if (typeof value === "string") return "string";
  if (typeof value === "boolean") return "bool";
  if (value instanceof Date) return "date";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  if (Array.isArray(value)) {
    if (value.every((item) => item === null || typeof item === "number")) {
      return "array of number or null";
    }
    if (value.every((item) => item !== null && typeof item === "object")) {
      return "array of recipient";
    }
  }
  return undefined;
}

function checkFields(
  record: Record<string, unknown>,
  fields: FieldSpec[],
  open: boolean,
  where: string,
): string[] {
  const problems: string[] = [];
  for (const field of fields) {
    if (field.always && !(field.name in record)) problems.push(`${where}: no ${field.name}`);
  }
  for (const [name, value] of Object.entries(record)) {
    const field = fields.find((candidate) => candidate.name === name);
    if (field === undefined) {
      if (!open) problems.push(`${where}: field ${name} is not in the catalogue`);
      continue;
    }
    const actual = typeOf(value);
    // An integral value is a valid `number` (int32 on the wire).
    const fits = actual === field.type || (field.type === "number" && actual === "integer");
    if (!fits) problems.push(`${where}: ${name} is ${actual ?? typeof value}, not ${field.type}`);
    if (fits && field.type === "array of recipient") {
      for (const [i, item] of (value as Record<string, unknown>[]).entries()) {
        problems.push(...checkFields(item, RECIPIENT_FIELDS, false, `${where}.${name}[${i}]`));
      }
    }
  }
  return problems;
}

/**
 * What is wrong with a decoded event against the catalogue: an unknown type, a
 * field missing, unknown or of another BSON type. Empty when it matches.
 *
 * @example
 * ```ts
 * import { catalogueProblems } from "./events.ts";
 * catalogueProblems({ type: "ssh.login", time: new Date(), host: "h", result: "failed", user: "", address: "::1" }); // []
 * ```
 */
export function catalogueProblems(event: Record<string, unknown>): string[] {
  const type = String(event.type);
  const spec = specOf(type);
  if (spec === undefined) return [`${type}: not in the catalogue`];
  const { _id: _, ...rest } = event;
  return checkFields(rest, [...envelope, ...spec.fields], spec.open === true, type);
}

function table(fields: FieldSpec[]): string {
  const rows = fields.map((field) =>
    `| \`${field.name}\` | ${field.type} | ${
      field.always ? "always" : "when known"
    } | ${field.meaning} |`
  );
  return ["| field | BSON type | present | meaning |", "| --- | --- | --- | --- |", ...rows]
    .join("\n");
}

/**
 * docs/events.md, made from the catalogue.
 *
 * @example
 * ```ts
 * import { catalogueMarkdown } from "./events.ts";
 * catalogueMarkdown().startsWith("# Event catalogue"); // true
 * ```
 */
export function catalogueMarkdown(): string {
  const parts = [
    "# Event catalogue",
    "<!-- Generated by `deno run -A docs/events.ts > docs/events.md` from docs/events.ts; " +
    "do not edit. -->",
    "Every event type eventstorm emits, with each field's BSON type and meaning and the " +
    "component that emits it. The dashboard and the sinks rely on these names; " +
    "`tests/catalogue_test.ts` runs the real sources and checks that what they emit matches. " +
    "The wire format is [protocol.md](protocol.md); the JSON form of events is its " +
    '"JSON form of events" section.',
    "Every event has the envelope of protocol v1:\n\n" + table(envelope) + "\n\n" +
    'and may carry `_id` (any BSON type; see protocol.md, "Stored events and `_id`").',
    "BSON types: `integer` is a whole number, written as int32 when it fits and as a double " +
    "beyond (exact below 2^53); `number` is a double, written as int32 when its value is " +
    "integral, so a reader MUST accept both for either. Fields marked *when known* are " +
    "absent, never null, when the log line or the system does not say.",
    "Topics beginning with `eventstorm.` are reserved for eventstorm itself.",
  ];
  for (const spec of CATALOGUE) {
    parts.push(`## \`${spec.type}\``);
    parts.push(`${spec.summary}\n\nEmitted by: ${spec.emittedBy}.`);
    parts.push(table(spec.fields));
    if (spec.type === "smtp.transaction") {
      parts.push("Each element of `recipients` is a document:\n\n" + table(RECIPIENT_FIELDS));
    }
  }
  return parts.join("\n\n") + "\n";
}

if (import.meta.main) {
  const text = catalogueMarkdown();
  await Deno.stdout.write(new TextEncoder().encode(text));
}
