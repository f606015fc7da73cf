/**
 * `eventstorm tap`: print the events a router carries, or their rates and losses.
 *
 * @module
 */
import { formatTopTable } from "./top.ts";
import { Collector, type CollectorStats } from "@eventstorm/core";
import {
  type Command,
  commandCurve,
  CURVE_CLIENT_FLAGS,
  endpointsFlag,
  type FlagSpec,
  formatBytes,
  formatCount,
  FROM_FLAG,
  helpText,
  MIN_STATS_INTERVAL_MS,
  parseDuration,
  parseFlags,
  rate,
  shutdownSignal,
  topicFlag,
  topicPrefixesFlag,
  UsageError,
  warnUnresolvableHosts,
} from "@eventstorm/core/cli";
import { toJsonLine } from "@eventstorm/core/protocol";

const TAP_FLAGS = {
  from: FROM_FLAG,
  ...CURVE_CLIENT_FLAGS,
  topic: topicFlag("topic prefix to subscribe to"),
  stats: { type: "boolean", help: "print rate and loss lines instead of events" },
  top: { type: "boolean", help: "show a refreshing table of topics, rates and losses" },
  interval: {
    type: "string",
    value: "DURATION",
    default: "1s",
    help: "how often --stats prints (100ms to 24d)",
  },
  limit: { type: "string", value: "N", help: "exit after printing N events" },
} as const satisfies Record<string, FlagSpec>;

/** The `eventstorm tap` command line. */
export const command: Command<typeof TAP_FLAGS> = {
  name: "eventstorm tap",
  summary: "print events from a router as JSON lines, or their rates and losses",
  flags: TAP_FLAGS,
  epilog: `Examples:
  eventstorm tap --topic http.
  eventstorm tap --stats
  eventstorm tap --top`,
  main: tapMain,
};

/** One readable line of rates and losses between two collector snapshots. */
export function formatTapLine(
  current: CollectorStats,
  previous: CollectorStats | undefined,
  elapsedMs: number,
): string {
  const events = rate(current.events, previous?.events ?? 0, elapsedMs);
  const bytes = rate(current.bytes, previous?.bytes ?? 0, elapsedMs);
  const malformed = Object.values(current.malformed).reduce((sum, n) => sum + (n ?? 0), 0);
  const sources = new Set(current.streams.map((stream) => stream.source)).size;
  return `tap: ${formatCount(events)} ev/s ${
    formatBytes(bytes)
  }/s | total ${current.events} events, ` +
    `lost ${current.lost}, duplicates ${current.duplicates}, malformed ${malformed}, ` +
    `rejected ${current.rejectedEvents}, ` +
    `${sources} sources, ${current.streams.length} streams`;
}

/** Runs `eventstorm tap`; resolves with the exit code. */
async function tapMain(args: string[]): Promise<number> {
  const parsed = parseFlags(args, command);
  if (parsed.help) {
    console.log(helpText(command));
    return 0;
  }
  // The bounds of --stats-interval: shorter is a busy loop, longer than 24d
  // overflows the timer (parseDuration refuses that).
  const intervalMs = parseDuration(parsed.values.interval, "interval");
  if (intervalMs < MIN_STATS_INTERVAL_MS) {
    throw new UsageError(
      `--interval must be ${MIN_STATS_INTERVAL_MS}ms or more, got '${parsed.values.interval}'`,
    );
  }
  const limitText = parsed.values.limit;
  const limit = limitText === undefined ? Infinity : Number(limitText);
  if (!(limit > 0) || (!Number.isInteger(limit) && limit !== Infinity)) {
    throw new UsageError(`--limit must be a positive whole number, got '${limitText}'`);
  }
  const from = endpointsFlag(parsed.values, "from");
  const collector = await Collector.open({
    endpoints: from,
    topics: topicPrefixesFlag(parsed.values, "topic"),
    curve: commandCurve("tap", parsed.values, from),
    // Every int64 printed as {"$numberLong": …}, small ones too (docs/protocol.md 2.9).
    useBigInt64: true,
  });
  warnUnresolvableHosts("tap", from);
  const signal = shutdownSignal();
  signal.addEventListener("abort", () => void collector.close(), { once: true });
  const showTop = parsed.values.top;
  const showStats = parsed.values.stats || showTop;
  const clear = showTop && Deno.stdout.isTerminal() ? "\x1b[H\x1b[2J" : "";
  let previous: CollectorStats | undefined;
  let previousAt = performance.now();
  const printStats = () => {
    const now = performance.now();
    const current = collector.stats();
    if (showTop) console.log(`${clear}${formatTopTable(current, previous, now - previousAt)}\n`);
    else console.log(formatTapLine(current, previous, now - previousAt));
    previous = current;
    previousAt = now;
  };
  const timer = showStats ? setInterval(printStats, intervalMs) : undefined;
  const out = new StdoutLines();
  let printed = 0;
  try {
    for await (const batch of collector.batches()) {
      if (showStats) continue;
      for (const event of batch.events) {
        if (!(await out.write(toJsonLine(event)))) return 0;
        if (++printed >= limit) return 0;
      }
      await out.flush();
    }
  } finally {
    if (timer !== undefined) clearInterval(timer);
    await out.flush();
    await collector.close();
    const stats = collector.stats();
    console.error(formatTapLine(stats, undefined, 0).replace(/^tap: \S+ ev\/s \S+ \| /, "tap: "));
  }
  return 0;
}

/** Buffered stdout that notices a closed pipe (`| head`) and stops quietly. */
class StdoutLines {
  #chunks: string[] = [];
  #size = 0;
  #closed = false;
  readonly #encoder = new TextEncoder();

  async write(line: string): Promise<boolean> {
    this.#chunks.push(line, "\n");
    this.#size += line.length + 1;
    if (this.#size >= 64 * 1024) await this.flush();
    return !this.#closed;
  }

  async flush(): Promise<void> {
    if (this.#chunks.length === 0 || this.#closed) return;
    const bytes = this.#encoder.encode(this.#chunks.join(""));
    this.#chunks = [];
    this.#size = 0;
    try {
      let written = 0;
      while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
    } catch (error) {
      if (error instanceof Deno.errors.BrokenPipe) this.#closed = true;
      else throw error;
    }
  }
}
