/**
 * The router's log of refused handshakes: one line per refusal, with the peer and
 * key, but rate-limited, so a scanner or a misconfigured fleet cannot flood it.
 *
 * @module
 */
import type { Refusal } from "@eventstorm/core/internal";

/** At most this many lines per window; the rest are summed into one line after it. */
const LINES_PER_WINDOW = 10;
const WINDOW_MS = 10_000;

const WHY: Record<Refusal["reason"], string> = {
  unknown_key: "unknown key",
  bad_handshake: "bad CURVE handshake (wrong server key?)",
  plaintext_peer: "plaintext peer on a CURVE port",
};

/**
 * Logs refusals, rate-limited.
 *
 * @example
 * ```ts
 * import { RefusalLog } from "./refusals.ts";
 * const log = new RefusalLog((line) => console.error(line));
 * log.note({ reason: "plaintext_peer", endpoint: "tcp://0.0.0.0:5555" });
 * ```
 */
export class RefusalLog {
  readonly #print: (line: string) => void;
  readonly #now: () => number;
  #windowStart = 0;
  #lines = 0;
  #suppressed = 0;

  /** Creates the log; `now` is the clock (milliseconds), for tests. */
  constructor(print: (line: string) => void, now: () => number = Date.now) {
    this.#print = print;
    this.#now = now;
  }

  /** Logs one refusal, unless the window's lines are spent. */
  note(refusal: Refusal): void {
    const now = this.#now();
    if (now - this.#windowStart >= WINDOW_MS) {
      if (this.#suppressed > 0) {
        this.#print(`router: ${this.#suppressed} more refused handshakes not logged`);
      }
      this.#windowStart = now;
      this.#lines = 0;
      this.#suppressed = 0;
    }
    if (this.#lines >= LINES_PER_WINDOW) {
      this.#suppressed++;
      return;
    }
    this.#lines++;
    const key = refusal.key ? ` key ${refusal.key}` : "";
    // Without the peer's address (libzmq's monitor gives only the endpoint the
    // handshake failed on), say whose endpoint it is rather than pass it off as the peer.
    const who = refusal.peer !== undefined
      ? `from ${refusal.peer}`
      : `on ${refusal.endpoint ?? "?"} (the router's own endpoint; libzmq does not name the peer)`;
    this.#print(`router: refused ${WHY[refusal.reason]} ${who}${key}`);
  }
}
