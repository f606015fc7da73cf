/**
 * The project's router with a collector behind it that counts events from the message
 * headers without decoding them: what a benchmark of a producer runs beside it, so that
 * every event is accounted for (received, lost) while the receiving side costs the
 * machine little, as a sink on another host would.
 *
 * @module
 */
import { Collector } from "@eventstorm/core";
import { startRouterProcess } from "../tests/helpers.ts";

/** A running router and its counting collector. */
export interface CountingRouter {
  /** Where producers send (connect form). */
  sources: string;
  /** The receiving side's processes: the router's, and this one, which runs the collector. */
  pids: number[];
  /** Events received so far. */
  received(): number;
  /** Events the collector knows were lost so far. */
  lost(): number;
  /** Waits until `count` events have been received or `timeoutMs` has passed. */
  waitFor(count: number, timeoutMs: number): Promise<void>;
  /** Stops the collector and the router. */
  stop(): Promise<void>;
}

/**
 * Starts a router process and a header-counting collector subscribed to `topics`
 * (prefixes; default: everything).
 *
 * @example
 * ```ts ignore
 * const counting = await startCountingRouter();
 * // … producers send to counting.sources …
 * await counting.waitFor(1000, 10_000);
 * console.log(counting.received(), counting.lost());
 * await counting.stop();
 * ```
 */
export async function startCountingRouter(topics?: string[]): Promise<CountingRouter> {
  const router = await startRouterProcess();
  const collector = await Collector.open({
    endpoints: router.sinks,
    topics,
    receiveHwm: 100_000,
  });
  let received = 0;
  const counting = (async () => {
    for await (const message of collector.messages()) received += message.count;
  })();
  return {
    sources: router.sources,
    pids: [router.pid, Deno.pid],
    received: () => received,
    lost: () => collector.stats().lost,
    waitFor: async (count, timeoutMs) => {
      for (let waited = 0; received < count && waited < timeoutMs; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    stop: async () => {
      await collector.close();
      await counting;
      await router.stop();
    },
  };
}
