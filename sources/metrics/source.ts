/**
 * The metrics source's run loop: samples on schedule.
 *
 * @module
 */
import type { EventOutput } from "@eventstorm/core";
import { flushUnlessStopped } from "@eventstorm/core/source";
import type { SampleCounts } from "./stats.ts";
import { sleep } from "@eventstorm/core/internal";
import type { MetricsSampler } from "./sampler.ts";

// Rates need two readings; the first report comes this soon, not a whole interval later.
const FIRST_SAMPLE_MS = 1000;

/**
 * Samples every `intervalMs` on schedule (after a stall, missed ticks are skipped
 * rather than sent in a burst), sending to `output`, until `signal` aborts (or
 * after one sample with `once`); resolves with the number of samples.
 *
 * @example
 * ```ts ignore
 * import { PrintOutput } from "@eventstorm/core/source";
 * import { MetricsSampler, sampleMetrics } from "@eventstorm/source-metrics";
 * using sampler = new MetricsSampler({ host: "me" });
 * await sampleMetrics({ sampler, output: new PrintOutput(), intervalMs: 10_000, signal: AbortSignal.timeout(30_000) });
 * ```
 */
export async function sampleMetrics(options: {
  sampler: MetricsSampler;
  output: EventOutput;
  intervalMs: number;
  signal: AbortSignal;
  once?: boolean;
  /** Counts the samples taken and the events they made, for the stats line. */
  counts?: SampleCounts;
}): Promise<void> {
  const { sampler, output, intervalMs: interval, signal, once } = options;
  await sampler.prime();
  let next = performance.now() + (once ? FIRST_SAMPLE_MS : Math.min(FIRST_SAMPLE_MS, interval));
  while (await sleep(next - performance.now(), signal)) {
    const events = await sampler.sample();
    for (const event of events) output.send(event);
    if (options.counts) {
      options.counts.samples++;
      options.counts.events += events.length;
    }
    await flushUnlessStopped(output, signal);
    if (once) break;
    // Keep to the schedule; after a stall, skip missed ticks instead of bursting.
    next += interval;
    const now = performance.now();
    if (next <= now) next += Math.ceil((now - next) / interval) * interval;
  }
}
