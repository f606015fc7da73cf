/**
 * Where a source hands its events: the network (`Emitter`) or stdout (`PrintOutput`).
 *
 * @module
 */
import type { Event } from "./event.ts";
import type { AsciiEncoder } from "./line_parser.ts";

/**
 * The one thing sources need from the transport. `positions()` is the per-topic
 * stream index (see docs/protocol.md) that a source stores in its checkpoint, so a
 * restarted source numbers re-read lines exactly as before and receivers drop the
 * replays.
 *
 * @example
 * ```ts
 * import type { EventOutput } from "@eventstorm/core";
 * function ship(out: EventOutput) {
 *   out.send({ type: "app.start", time: new Date(), host: "h" });
 * }
 * ```
 */
export interface EventOutput {
  /** Queues one event; it leaves at the next flush at the latest. */
  send(event: Event): void;
  /**
   * For an output that encodes BSON: queues the event `encoder` writes of the
   * line `bytes[start, end)` with `host`, as `send` would the event the
   * encoder's parser makes of it; false when the encoder declines the line.
   */
  sendAscii?(
    encoder: AsciiEncoder,
    bytes: Uint8Array,
    start: number,
    end: number,
    host: string,
  ): boolean;
  /** Hands everything queued to the transport. */
  flush(): Promise<void>;
  /**
   * Resolves when the output can take more (or `signal` aborts): producers that
   * can wait are paced by it. Outputs that never push back leave it out.
   */
  ready?(signal?: AbortSignal): Promise<void>;
  /** Flushes and releases the transport. */
  close(): Promise<void>;
  /** Random identity of this output's stream (protocol header `source`). */
  readonly sourceId: bigint;
  /** Next stream index per topic. */
  positions(): Record<string, number>;
  /**
   * For a transport that may still hold sent messages inside this process (lost
   * if it is killed): `sent` counts messages handed to it so far, `safe` how many
   * of the first of them have certainly left the process. A checkpoint taken when
   * `sent` was N may be saved once `safe >= N`. Outputs that hold nothing after
   * `flush()` leave it out.
   */
  deliveredMark?(): DeliveredMark;
}

/**
 * What an output says about messages that have left the process: see
 * {@linkcode EventOutput.deliveredMark}.
 *
 * @example
 * ```ts
 * import type { DeliveredMark } from "@eventstorm/core";
 * const mark: DeliveredMark = { sent: 1200, safe: 199 };
 * ```
 */
export interface DeliveredMark {
  /** Messages handed to the transport so far. */
  sent: number;
  /** The first this many of them have left the process for sure. */
  safe: number;
}

/**
 * Flushes `output` without letting a shutdown hang on it. An emitter's flush waits
 * while nobody subscribes (that is its backpressure), so a run loop that flushed
 * unconditionally would never see Ctrl-C. Resolves `true` once everything is handed
 * on; `false` when `signal` aborts first, or, if it had already aborted, when
 * `graceMs` (default 2000) pass first. Without a signal it simply flushes.
 *
 * @example
 * ```ts
 * import { flushUnlessStopped, PrintOutput } from "@eventstorm/core/source";
 * const out = new PrintOutput({ writer: new WritableStream() });
 * out.send({ type: "app.start", time: new Date(), host: "h" });
 * await flushUnlessStopped(out, AbortSignal.timeout(1000)); // true
 * ```
 */
export async function flushUnlessStopped(
  output: EventOutput,
  signal?: AbortSignal,
  options: { graceMs?: number } = {},
): Promise<boolean> {
  if (!signal) {
    await output.flush();
    return true;
  }
  let onStop: () => void = () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopped = new Promise<boolean>((resolve) => {
    onStop = () => resolve(false);
    if (signal.aborted) timer = setTimeout(onStop, options.graceMs ?? 2000);
    else signal.addEventListener("abort", onStop, { once: true });
  });
  try {
    return await Promise.race([output.flush().then(() => true), stopped]);
  } finally {
    signal.removeEventListener("abort", onStop);
    clearTimeout(timer);
  }
}
