/**
 * The HTTP panel: requests, status classes, bytes and latency percentiles per
 * frame, and the top paths, clients and user agents over a window.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import type { HttpFrame } from "../frame.ts";
import { LogHistogram } from "../histogram.ts";
import { type TopRow, WindowedTopN, type WindowedTopNOptions } from "../top_n.ts";

/** The `http.hit` fields this panel reads (docs/events.md), checked against the catalogue. */
export const HTTP_READS = {
  "http.hit": [
    "status",
    "body_bytes_sent",
    "request_time",
    "path",
    "remote_addr",
    "http_user_agent",
  ],
} as const;

/** Accumulates `http.hit` events. */
export class HttpPanel {
  #requests = 0;
  #status: HttpFrame["status"] = [0, 0, 0, 0, 0, 0];
  #bytes = 0;
  readonly #latency = new LogHistogram();
  readonly #paths: WindowedTopN;
  readonly #clients: WindowedTopN;
  readonly #agents: WindowedTopN;

  /** Top lists over `options.windowMs`. */
  constructor(options: WindowedTopNOptions) {
    this.#paths = new WindowedTopN(options);
    this.#clients = new WindowedTopN(options);
    this.#agents = new WindowedTopN(options);
  }

  /** Accounts one decoded `http.hit`. */
  add(event: Event): void {
    this.hit(
      event.status,
      event.body_bytes_sent,
      event.request_time,
      event.path,
      event.remote_addr,
      event.http_user_agent,
    );
  }

  /** Accounts one hit from its fields (scanned from BSON without building an event). */
  hit(
    status: unknown,
    bytes: unknown,
    seconds: unknown,
    path: unknown,
    address: unknown,
    agent: unknown,
  ): void {
    this.#requests++;
    const statusClass = typeof status === "number" ? Math.floor(status / 100) : 0;
    this.#status[statusClass >= 1 && statusClass <= 5 ? statusClass - 1 : 5]++;
    if (typeof bytes === "number" && bytes > 0 && bytes < 1e15) this.#bytes += bytes;
    if (typeof seconds === "number") this.#latency.add(seconds);
    if (typeof path === "string") this.#paths.add(path);
    if (typeof address === "string") this.#clients.add(address);
    if (typeof agent === "string" && agent !== "") this.#agents.add(agent);
  }

  /**
   * The frame's figures; the next frame starts from zero, the top lists move on
   * at `now`. The frame's latencies are added to `latency` when given.
   */
  frame(now: number, latency?: LogHistogram): HttpFrame {
    const frame: HttpFrame = {
      requests: this.#requests,
      status: this.#status,
      bytes: this.#bytes,
      latencyMs: this.#latency.count === 0 ? null : [
        roundMs(this.#latency.percentile(50)!),
        roundMs(this.#latency.percentile(95)!),
        roundMs(this.#latency.percentile(99)!),
      ],
    };
    this.#requests = 0;
    this.#status = [0, 0, 0, 0, 0, 0];
    this.#bytes = 0;
    latency?.merge(this.#latency);
    this.#latency.reset();
    this.rotate(now);
    return frame;
  }

  /** Starts the top lists' next slice at `now`. */
  rotate(now: number): void {
    this.#paths.rotate(now);
    this.#clients.rotate(now);
    this.#agents.rotate(now);
  }

  /** The `n` busiest paths, clients and user agents of the window. */
  top(n: number): { paths: TopRow[]; clients: TopRow[]; agents: TopRow[] } {
    return {
      paths: this.#paths.top(n),
      clients: this.#clients.top(n),
      agents: this.#agents.top(n),
    };
  }
}

/** Seconds to milliseconds, three significant digits are plenty for a chart. */
function roundMs(seconds: number): number {
  const ms = seconds * 1000;
  return ms === 0 ? 0 : Number(ms.toPrecision(3));
}
