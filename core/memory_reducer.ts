/**
 * Gives memory a busy process no longer uses back to the system, for the processes
 * whose units start them with V8's `--expose-gc` (deploy/systemd: the agent).
 *
 * A source that ships 50,000 lines/s allocates about 80 MB/s, nearly all of it
 * short-lived. V8 promotes a little of it, lets the old generation grow several
 * MB past what is live before it collects, and returns freed pages only in its
 * memory reducer, which waits for an idle spell a busy shipper never has. So RSS
 * climbs for minutes and falls back: a sawtooth 10–15 MB high. A full collection
 * every second (a few ms with 8–10 MB live) keeps the heap near what is live, and
 * `malloc_trim` hands back the C heap's free pages (V8's compiler zones, libzmq's
 * messages) that glibc keeps otherwise. Measured on the agent at 50,000 lines/s:
 * 83 MB RSS, flat, against 87–93 MB with a sawtooth, for about 1% of a core.
 *
 * Not V8's "last-resort" collection: it also throws compiled code away, and
 * compiling it again cost 5–15% of a core for 2–4 MB less.
 *
 * Every 10th run, the first time on the 2nd (2 s after the start), it also unmaps
 * the `deno` executable's clean pages (executable_pages.ts): most were touched
 * once, while the process started, and the rest come back on their next use.
 * On the agent that takes RSS from 83 MB to about 60 MB, as the pages the loop
 * uses are what stays; CPU did not measurably change. More often cost CPU:
 * every 2 seconds, 2–3% of a core in refaults.
 *
 * @module
 */
import { dropExecutablePages } from "./executable_pages.ts";
import { openLibc } from "./native.ts";

/** How often the reducer runs: often enough that the heap never grows far past what is live. */
const MEMORY_REDUCER_INTERVAL_MS = 1000;

/** The executable's pages are first unmapped on this run of the reducer: start-up is over by then. */
const FIRST_PAGE_DROP = 2;

/** And again on every this many runs, dropping what rare paths touched since. */
const PAGE_DROP_EVERY = 10;

/** V8's `gc` extension, present when the process runs with `--expose-gc`. */
type GcExtension = (options?: {
  type: "major" | "minor";
  execution: "sync" | "async";
  flavor: "regular" | "last-resort";
}) => void;

/**
 * Starts reducing memory every `intervalMs` when V8's `gc` is exposed; returns a
 * function that stops it, or undefined when there is nothing to start. The timer
 * never keeps the process alive. Where the C library has no `malloc_trim` (musl,
 * macOS) or FFI is not allowed, only V8's heap is reduced; without read access
 * to `/proc/self/smaps` and the executable, its pages stay mapped.
 *
 * @example
 * ```ts
 * import { startMemoryReducer } from "./memory_reducer.ts";
 * const stop = startMemoryReducer(); // undefined unless deno runs with --v8-flags=--expose-gc
 * stop?.();
 * ```
 */
export function startMemoryReducer(
  intervalMs: number = MEMORY_REDUCER_INTERVAL_MS,
): (() => void) | undefined {
  const gc = (globalThis as { gc?: GcExtension }).gc;
  if (typeof gc !== "function") return undefined;
  const libc = openLibc({
    malloc_trim: { parameters: ["usize"], result: "i32" },
    madvise: { parameters: ["usize", "usize", "i32"], result: "i32" },
  });
  let runs = 0;
  const timer = setInterval(() => {
    gc({ type: "major", execution: "sync", flavor: "regular" });
    libc?.symbols.malloc_trim(0n);
    runs++;
    if (libc && runs % PAGE_DROP_EVERY === FIRST_PAGE_DROP) {
      dropExecutablePages(libc.symbols.madvise);
    }
  }, intervalMs);
  Deno.unrefTimer(timer);
  return () => {
    clearInterval(timer);
    libc?.close();
  };
}
