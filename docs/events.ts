/**
 * The event catalogue: every event type eventstorm emits, each field with its BSON
 * type and meaning, and who emits it. The one source of truth for
 * docs/events.md (`deno run -A docs/events.ts` rewrites it) and for
 * tests/catalogue_test.ts, which checks what the real sources emit against it.
 *
 * @module
 */

/**
 * A field's BSON type, as written on the wire:
 * - `number`: int32 when the value is a whole number that fits, double otherwise
 *   (what a JavaScript number becomes); other senders may use int64 for large
 *   whole numbers, and receivers take all three.
 * - `int32`: always a whole number that fits 32 bits (other senders: int32 or int64).
 * - `array<…>`: an array of the given element type.
 */
export type FieldType =
  | "string"
  | "date"
  | "bool"
  | "int32"
  | "number"
  | "array<number|null>"
  | "array<document>";

/** One field of an event type. */
export interface FieldSpec {
  /** BSON type. */
  type: FieldType;
  /** Whether every event of the type has it (the envelope always does). */
  always?: boolean;
  /** What it means. */
  doc: string;
  /** For `array<document>`: the element's fields. */
  elements?: Record<string, FieldSpec>;
}

/** One event type. */
export interface EventSpec {
  /** What one event stands for. */
  summary: string;
  /** The components that emit it. */
  emittedBy: string[];
  /** Its own fields (the envelope `type`, `time`, `host` is implied). */
  fields: Record<string, FieldSpec>;
  /** Whether other fields may appear (named by the text below). */
  openFields?: string;
}

const text = (doc: string, always = false): FieldSpec => ({ type: "string", doc, always });
const num = (doc: string, always = false): FieldSpec => ({ type: "number", doc, always });
const int = (doc: string, always = false): FieldSpec => ({ type: "int32", doc, always });

const percent = (what: string, always = false) => num(`${what}, percent of the interval`, always);

/** Fields every event has. */
export const ENVELOPE: Record<string, FieldSpec> = {
  type: text("the event type, equal to the topic", true),
  time: { type: "date", doc: "when it happened", always: true },
  host: text("the host it is about", true),
};

/** The catalogue, by event type. */
export const CATALOGUE: Record<string, EventSpec> = {
  "http.hit": {
    summary: "one HTTP request served by nginx",
    emittedBy: ["source nginx", "source demo", "source syslog", "nginx module", "Ruby Rack"],
    fields: {
      remote_addr: text("client address"),
      remote_user: text("user from HTTP basic authentication"),
      request: text("the request line as logged"),
      method: text("request method"),
      path: text("request path, without the query"),
      query: text("query string without the '?'"),
      protocol: text("HTTP version, e.g. HTTP/1.1"),
      status: int("response status"),
      body_bytes_sent: num("response body bytes"),
      http_referer: text("Referer header"),
      http_user_agent: text("User-Agent header"),
      request_time: num("seconds from the first request byte to the log write"),
      upstream_response_time: num("seconds spent waiting for upstreams (sum over tries)"),
      vhost: text("the virtual host ($host; the envelope host is the machine)"),
      request_id: text("nginx's request id"),
    },
    openFields: "any other nginx variable of the log_format, named after it " +
      "(lower case, no $; whole-number variables as numbers, per-upstream lists summed)",
  },
  "smtp.transaction": {
    summary: "one message through Postfix, from arrival to its last delivery attempt",
    emittedBy: ["source postfix", "source syslog", "source journald"],
    fields: {
      queue_id: text("Postfix queue id", true),
      client: text("client as logged, name[address]"),
      client_ip: text("client address"),
      client_name: text("client host name"),
      sasl_method: text("SASL mechanism of an authenticated submission"),
      sasl_username: text("SASL user"),
      message_id: text("Message-ID header"),
      from: text("envelope sender"),
      size: num("message size in bytes"),
      nrcpt: int("number of recipients qmgr announced"),
      uid: int("local sender's uid (pickup)"),
      recipients: {
        type: "array<document>",
        doc: "one entry per recipient, its final status",
        elements: {
          to: text("recipient", true),
          orig_to: text("recipient before aliasing"),
          relay: text("where it went"),
          delay: num("seconds from arrival to this attempt"),
          delays: text("Postfix's a/b/c/d delay breakdown"),
          dsn: text("DSN code"),
          status: text("sent, deferred, bounced, expired…", true),
          reply: text("the remote server's reply"),
          attempts: int("delivery attempts"),
          time: { type: "date", doc: "time of the final attempt" },
        },
      },
      end_time: { type: "date", doc: "when the queue file was removed" },
      parent_queue_id: text("the message this one is a notification about"),
      notification: text("kind of notification (bounce, delay…)"),
      bounce_queue_id: text("queue id of the bounce this message caused"),
      incomplete: { type: "bool", doc: "true when the log ended before the message did" },
    },
  },
  "smtp.reject": {
    summary: "a message or connection Postfix refused before queueing",
    emittedBy: ["source postfix", "source syslog", "source journald"],
    fields: {
      action: text("reject, discard, warn…", true),
      stage: text("SMTP stage: CONNECT, HELO, MAIL, RCPT, DATA, END-OF-MESSAGE"),
      reply: text("the reply text"),
      client: text("client as logged"),
      client_ip: text("client address"),
      client_name: text("client host name"),
      code: int("SMTP reply code"),
      dsn: text("DSN code"),
      from: text("envelope sender"),
      to: text("recipient"),
      proto: text("SMTP or ESMTP"),
      helo: text("HELO name"),
    },
  },
  "smtp.deferred": {
    summary: "a delivery attempt that will be retried",
    emittedBy: ["source postfix", "source syslog", "source journald"],
    fields: {
      queue_id: text("Postfix queue id", true),
      from: text("envelope sender"),
      to: text("recipient"),
      relay: text("where the attempt went"),
      delay: num("seconds since arrival"),
      delays: text("Postfix's a/b/c/d delay breakdown"),
      dsn: text("DSN code"),
      reply: text("why it was deferred"),
      attempts: int("attempts so far"),
    },
  },
  "ssh.login": {
    summary: "one sshd login decision",
    emittedBy: ["source sshd", "source demo", "source syslog", "source journald"],
    fields: {
      result: text("accepted, failed or invalid_user", true),
      user: text("user name tried"),
      address: text("client address"),
      port: int("client port"),
      method: text("password, publickey, keyboard-interactive…"),
      protocol: text("ssh2"),
      key_type: text("public key type (publickey logins)"),
      key_fingerprint: text("public key fingerprint"),
      pid: int("sshd process id"),
      invalid_user: { type: "bool", doc: "the user does not exist" },
    },
  },
  "host.cpu": {
    summary: "CPU use over the sampling interval",
    emittedBy: ["source metrics", "source demo"],
    fields: {
      busy_percent: percent("time not idle", true),
      user_percent: percent("user time"),
      nice_percent: percent("niced user time"),
      system_percent: percent("kernel time"),
      iowait_percent: percent("waiting for I/O"),
      irq_percent: percent("hardware interrupts"),
      softirq_percent: percent("software interrupts"),
      steal_percent: percent("stolen by the hypervisor"),
      idle_percent: percent("idle"),
      cores: int("logical CPUs"),
      cpus: int("logical CPUs (same as cores)"),
    },
  },
  "host.memory": {
    summary: "memory and swap use",
    emittedBy: ["source metrics", "source demo"],
    fields: {
      total_bytes: num("physical memory", true),
      used_bytes: num("used (total minus available)", true),
      used_percent: num("used, percent of total", true),
      available_bytes: num("available to new programs"),
      free_bytes: num("unused"),
      buffers_bytes: num("kernel buffers"),
      cached_bytes: num("page cache"),
      swap_total_bytes: num("swap size"),
      swap_free_bytes: num("swap unused"),
      swap_used_bytes: num("swap used"),
      swap_used_percent: num("swap used, percent"),
    },
  },
  "host.disk": {
    summary: "one mounted file system",
    emittedBy: ["source metrics"],
    fields: {
      mount: text("mount point", true),
      fs: text("file system type"),
      device: text("device"),
      total_bytes: num("size", true),
      free_bytes: num("free"),
      available_bytes: num("free for unprivileged users"),
      used_bytes: num("used"),
      used_percent: num("used, percent of size"),
      inodes_total: num("inodes"),
      inodes_free: num("free inodes"),
      inodes_used_percent: num("inodes used, percent"),
      read_only: { type: "bool", doc: "mounted read-only" },
    },
  },
  "host.load": {
    summary: "load averages and process counts",
    emittedBy: ["source metrics"],
    fields: {
      load1: num("1-minute load average", true),
      load5: num("5-minute load average", true),
      load15: num("15-minute load average", true),
      running: int("runnable processes"),
      procs: int("processes"),
    },
  },
  "host.net": {
    summary: "one network interface over the sampling interval",
    emittedBy: ["source metrics"],
    fields: {
      interface: text("interface name", true),
      interval_s: num("seconds the rates cover"),
      rx_bytes_per_s: num("bytes received per second"),
      tx_bytes_per_s: num("bytes sent per second"),
      rx_packets_per_s: num("packets received per second"),
      tx_packets_per_s: num("packets sent per second"),
      rx_errors: num("receive errors in the interval"),
      tx_errors: num("send errors in the interval"),
      rx_drops: num("receive drops in the interval"),
      tx_drops: num("send drops in the interval"),
      rx_bytes_total: num("bytes received since boot"),
      tx_bytes_total: num("bytes sent since boot"),
      rx_packets_total: num("packets received since boot"),
      tx_packets_total: num("packets sent since boot"),
      rx_errors_total: num("receive errors since boot"),
      tx_errors_total: num("send errors since boot"),
      rx_drops_total: num("receive drops since boot"),
      tx_drops_total: num("send drops since boot"),
    },
  },
  "eventstorm.stats": {
    summary: "a component's counters, published every --stats-interval",
    emittedBy: ["router", "every sink", "nginx module"],
    fields: {
      component: text("router, sink-store, sink-mongodb, …", true),
      interval_ms: num("the stats interval"),
    },
    openFields: "the component's counters as numbers, named as in its stats line " +
      "(router: events_in, events_out, lost, duplicates, malformed, malformed_<reason>, " +
      "refused, refused_<reason>, …; sinks: received, stored, dropped, lost_on_wire, …)",
  },
};

function row(name: string, spec: FieldSpec): string {
  return `| \`${name}\` | ${spec.type} | ${spec.always ? "always" : ""} | ${spec.doc} |`;
}

/** The text of docs/events.md. */
export function catalogueMarkdown(): string {
  const lines = [
    "# Event catalogue",
    "",
    "Every event type eventstorm emits, its fields, their BSON types, and who emits it. Made from",
    "[`events.ts`](events.ts) (`deno run -A docs/events.ts`); `tests/catalogue_test.ts` runs the",
    "real sources and checks every event they emit against it. The dashboard and the sinks rely on",
    "these names.",
    "",
    "Every event has the envelope `type` (string, equal to the topic), `time` (UTC datetime) and",
    "`host` (string). Types: `number` is int32 when the value is a whole number that fits, double",
    "otherwise (other senders may use int64 for large whole numbers; receivers take all three);",
    "`int32` is always a whole number (int32, or int64 from other senders). A field that is not",
    "`always` is absent when the source does not know it (e.g. nginx logged `-`).",
    "",
  ];
  for (const [type, spec] of Object.entries(CATALOGUE)) {
    lines.push(`## \`${type}\``, "", `${spec.summary}. Emitted by: ${spec.emittedBy.join(", ")}.`);
    lines.push("", "| field | BSON type | present | meaning |", "| --- | --- | --- | --- |");
    for (const [name, field] of Object.entries(spec.fields)) {
      lines.push(row(name, field));
      for (const [element, elementSpec] of Object.entries(field.elements ?? {})) {
        lines.push(row(`${name}[].${element}`, elementSpec));
      }
    }
    if (spec.openFields) lines.push("", `Other fields: ${spec.openFields}.`);
    lines.push("");
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const path = new URL("events.md", import.meta.url).pathname;
  Deno.writeTextFileSync(path, catalogueMarkdown());
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", path] }).output();
}
