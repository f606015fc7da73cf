/**
 * Accepting connections through a flood: shared by the listeners that face the
 * network (the syslog source, the dashboard).
 *
 * @module
 */
import { sleep } from "./sleep.ts";

/** How long a failed accept waits before the next try, ms. */
const RETRY_MS = 100;
/** How often a failing accept is said again, ms. */
const SAY_EVERY_MS = 60_000;

/**
 * Yields the connections `listener` accepts while `open()` holds. A failed accept
 * (out of file descriptors in a flood of connections, or memory) is retried after
 * 100 ms rather than ending the loop, which would leave the listener deaf for the
 * rest of the run: the connections held now end in time. `failed` hears every
 * failure, with `say` true at most once a minute, for a warning.
 *
 * @example
 * ```ts
 * import { acceptRetrying } from "@eventstorm/core/internal";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const open = () => false; // closed before it starts: yields nothing
 * for await (const conn of acceptRetrying(listener, open, () => {})) conn.close();
 * listener.close();
 * ```
 */
export async function* acceptRetrying(
  listener: Deno.Listener,
  open: () => boolean,
  failed: (message: string, say: boolean) => void,
): AsyncGenerator<Deno.Conn> {
  let saidAt = -Infinity;
  while (open()) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (!open() || error instanceof Deno.errors.BadResource) return;
      const now = Date.now();
      const say = now - saidAt >= SAY_EVERY_MS;
      if (say) saidAt = now;
      failed(error instanceof Error ? error.message : String(error), say);
      await sleep(RETRY_MS);
      continue;
    }
    yield conn;
  }
}
