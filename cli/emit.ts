/**
 * `eventstorm emit`: JSON lines on stdin become events on the wire.
 *
 * @module
 */
import { Emitter, type Event, isValidType, localHostname } from "@eventstorm/core";
import {
  type Command,
  commandCurve,
  CURVE_CLIENT_FLAGS,
  endpointsFlag,
  type FlagSpec,
  helpText,
  parseFlags,
  shutdownSignal,
  TO_FLAG,
  UsageError,
  waitingNotice,
  warnUnresolvableHosts,
} from "@eventstorm/core/cli";
import { readLines } from "@eventstorm/core/internal";
import { fromJsonLine } from "@eventstorm/core/protocol";

const EMIT_FLAGS = {
  to: TO_FLAG,
  ...CURVE_CLIENT_FLAGS,
  type: { type: "string", value: "TYPE", help: 'event type for lines that have no "type"' },
  host: {
    type: "string",
    value: "NAME",
    help: 'host for lines that have no "host" [default: this machine]',
  },
} as const satisfies Record<string, FlagSpec>;

/** The `eventstorm emit` command line. */
export const command: Command<typeof EMIT_FLAGS> = {
  name: "eventstorm emit",
  summary: "send JSON lines from stdin as events",
  flags: EMIT_FLAGS,
  epilog: `Each line is a JSON object. "time" may be an ISO string, epoch milliseconds or
{"$date": ...}; it and "host" are filled in when absent. Bad lines are counted
and reported, never sent.

Exit code: 0; 1 when stdin ended but events were dropped: not delivered before
the close timeout (also those libzmq still held for a receiver that took
nothing more: "unconfirmed"), or larger than one event may be (1 MiB encoded), or
nested deeper than 100 levels; each is counted and the lines after
it still go out. Ctrl-C or SIGTERM exits 0 after reporting what was sent and
dropped.

Examples:
  echo '{"type":"app.deploy","version":"1.2"}' | eventstorm emit
  tail -F app.jsonl | eventstorm emit --type app.log`,
  main: emitMain,
};

/** Turns one parsed JSON object into an event, or says why it cannot be one. */
export function eventFromJson(
  document: Record<string, unknown>,
  defaults: { type?: string; host: string; now: Date },
): Event | string {
  const type = document.type ?? defaults.type;
  if (type === undefined) return 'no "type" and no --type';
  if (!isValidType(type)) return `invalid type ${JSON.stringify(type)}`;
  let time = document.time ?? defaults.now;
  if (typeof time === "string" || typeof time === "number") time = new Date(time);
  if (!(time instanceof Date) || Number.isNaN(time.getTime())) {
    return `invalid time ${JSON.stringify(document.time)}`;
  }
  const host = document.host ?? defaults.host;
  if (typeof host !== "string") return '"host" must be a string';
  return { ...document, type, time, host };
}

/** Runs `eventstorm emit`; resolves with the exit code. */
async function emitMain(
  args: string[],
  stdin: ReadableStream<Uint8Array> = Deno.stdin.readable,
): Promise<number> {
  const parsed = parseFlags(args, command);
  if (parsed.help) {
    console.log(helpText(command));
    return 0;
  }
  const defaultType = parsed.values.type;
  if (defaultType !== undefined && !isValidType(defaultType)) {
    throw new UsageError(`--type '${defaultType}' is not a dotted lower-case event type`);
  }
  const host = parsed.values.host ?? localHostname();
  const to = endpointsFlag(parsed.values, "to");
  // A refused handshake (unknown key, wrong server key, CURVE on one side only)
  // is what leaves events unsent then, not an absent subscriber: the summary says so.
  let refused = false;
  const emitter = await Emitter.open({
    endpoints: to,
    host,
    curve: commandCurve("emit", parsed.values, to),
    onWaiting: waitingNotice("emit", to),
    onHandshakeFailure: (line) => {
      refused = true;
      console.error(`eventstorm: ${line}`);
    },
  });
  warnUnresolvableHosts("emit", to);
  const signal = shutdownSignal();
  let invalid = 0;
  let lineNumber = 0;
  const reader = readLines(stdin)[Symbol.asyncIterator]();
  const aborted = new Promise<IteratorResult<string>>((resolve) =>
    signal.addEventListener("abort", () => resolve({ done: true, value: undefined }), {
      once: true,
    })
  );
  while (true) {
    const next = await Promise.race([reader.next(), aborted]);
    if (next.done) break;
    lineNumber++;
    const line = next.value.trim();
    if (line === "") continue;
    let event: Event | string;
    try {
      event = eventFromJson(fromJsonLine(line), { type: defaultType, host, now: new Date() });
    } catch (error) {
      event = error instanceof Error ? error.message : String(error);
    }
    if (typeof event === "string") {
      invalid++;
      if (invalid <= 10) console.error(`emit: line ${lineNumber} skipped: ${event}`);
      continue;
    }
    emitter.send(event);
    await emitter.ready(signal);
  }
  await emitter.close();
  const stats = emitter.stats();
  const dropped = stats.dropped + stats.oversized + stats.unencodable;
  const reasons = [
    [
      stats.dropped,
      refused
        ? "the server refused the handshake, as reported above"
        : "nobody subscribed before the close timeout",
    ],
    [stats.oversized, "too large"],
    [stats.unencodable, "not encodable: nested too deep or an invalid date"],
  ].filter(([count]) => (count as number) > 0)
    .map(([count, why], _, all) => all.length === 1 ? why : `${count} ${why}`);
  // Sent but maybe never out of the process: no receiver can count these (it never
  // saw their indexes), so this line is the only place they show.
  const unconfirmed = stats.unconfirmed > 0
    ? `, up to ${stats.unconfirmed} of those sent unconfirmed (the receiver took nothing more before the close timeout)`
    : "";
  console.error(
    `emit: ${stats.eventsSent} events sent in ${stats.messages} messages, ${invalid} invalid lines, ` +
      `${dropped} dropped${reasons.length ? ` (${reasons.join(", ")})` : ""}${unconfirmed}`,
  );
  // A script piping a file in learns from the exit code that it did not all go;
  // a person stopping it on purpose has just read the count.
  return (dropped > 0 || stats.unconfirmed > 0) && !signal.aborted ? 1 : 0;
}
