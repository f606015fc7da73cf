/**
 * Insert throughput of the event store: 250-byte events in batches of 1000 into
 * a fresh file, one transaction per batch, then the time of a one-hour
 * aggregate over what was written.
 *
 *     deno run -A bench/store_bench.ts [--events N] [--batch N]
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import { toJsonLine } from "@eventstorm/core/protocol";
import { aggregate, EventStore } from "@eventstorm/sink-store";
import { benchArgs } from "./args.ts";

/** Figures measured by {@linkcode benchStore}. */
export interface StoreBenchResult {
  /** Events written. */
  events: number;
  /** Mean size of one event as Extended JSON, in bytes. */
  eventBytes: number;
  /** Events written per second, batches included. */
  eventsPerSecond: number;
  /** Milliseconds for count and p95 per minute over the last hour of events. */
  aggregateMs: number;
}

/** Events of about 250 bytes, like an access log hit, spread over the last hour. */
function makeEvents(count: number, now: number): Event[] {
  const paths = ["/", "/index.html", "/api/v1/items", "/static/app.js", "/login"];
  return Array.from({ length: count }, (_, i) => ({
    type: i % 10 === 0 ? "http.error" : "http.hit",
    time: new Date(now - Math.floor(((count - i) / count) * 3_600_000)),
    host: `web${i % 8}`,
    method: "GET",
    path: `${paths[i % paths.length]}?page=${i % 1000}`,
    status: i % 10 === 0 ? 502 : 200,
    bytes: 512 + (i % 40_000),
    latency: (i % 997) / 10,
    agent: "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
    client: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  }));
}

/**
 * Writes `events` events in batches of `batch` into a temporary store and
 * measures it.
 *
 * @example
 * ```ts ignore
 * import { benchStore } from "./store_bench.ts";
 * console.log(benchStore({ events: 100_000 }).eventsPerSecond);
 * ```
 */
export function benchStore(options: { events?: number; batch?: number } = {}): StoreBenchResult {
  const count = options.events ?? 500_000;
  const batchSize = options.batch ?? 1000;
  const now = Date.now();
  const events = makeEvents(count, now);
  const sample = events.slice(0, 1000);
  const eventBytes = sample.reduce((sum, e) => sum + toJsonLine(e).length, 0) / sample.length;
  const dir = Deno.makeTempDirSync({ prefix: "store_bench_" });
  try {
    const store = EventStore.open(`${dir}/bench.db`);
    const started = performance.now();
    for (let i = 0; i < count; i += batchSize) {
      store.insertBatch(events.slice(i, i + batchSize));
    }
    const seconds = (performance.now() - started) / 1000;
    const aggregateStarted = performance.now();
    aggregate(store, {
      type: "http.hit",
      since: new Date(now - 3_600_000),
      every: 60_000,
      measures: ["count", "p95:latency"],
      now,
    });
    const aggregateMs = performance.now() - aggregateStarted;
    store.close();
    return { events: count, eventBytes, eventsPerSecond: count / seconds, aggregateMs };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = benchArgs("deno run -A bench/store_bench.ts [--events N] [--batch N]", {
    options: { events: { type: "string" }, batch: { type: "string" } },
  });
  const [events, batch] = [values.events, values.batch].map((value) =>
    value === undefined ? undefined : Number(value)
  );
  if (![events, batch].every((n) => n === undefined || (Number.isInteger(n) && n > 0))) {
    console.error("--events and --batch must be positive whole numbers");
    Deno.exit(2);
  }
  const result = benchStore({ events, batch });
  const count = (n: number) => Math.round(n).toLocaleString("en");
  console.log(
    `store insert: ${count(result.eventsPerSecond)} ev/s ` +
      `(${count(result.events)} events of ${Math.round(result.eventBytes)} bytes, ` +
      `batches of ${count(batch ?? 1000)})`,
  );
  console.log(
    `store aggregate: count + p95 per minute over the last hour (${
      count(result.events)
    } events) in ${Math.round(result.aggregateMs)} ms`,
  );
}
