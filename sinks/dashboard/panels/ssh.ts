/**
 * The SSH panel: failed, invalid-user and accepted logins per frame, and the
 * top offending addresses over a window.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import type { SshFrame } from "../frame.ts";
import { type TopRow, WindowedTopN, type WindowedTopNOptions } from "../top_n.ts";

/** The `ssh.login` fields this panel reads (docs/events.md), checked against the catalogue. */
export const SSH_READS = { "ssh.login": ["result", "repeated", "address"] } as const;

/** Accumulates `ssh.login` events. */
export class SshPanel {
  #frame: SshFrame = { failed: 0, invalid: 0, accepted: 0 };
  readonly #offenders: WindowedTopN;

  /** Top offenders over `options.windowMs`. */
  constructor(options: WindowedTopNOptions) {
    this.#offenders = new WindowedTopN(options);
  }

  /** Accounts one `ssh.login` (weighted by its `repeated` count). */
  login(event: Event): void {
    const repeated = event.repeated;
    const weight = typeof repeated === "number" && repeated >= 1 && repeated < 1e6 ? repeated : 1;
    switch (event.result) {
      case "accepted":
        this.#frame.accepted += weight;
        return;
      case "failed":
        this.#frame.failed += weight;
        break;
      case "invalid_user":
      case "not_allowed":
        this.#frame.invalid += weight;
        break;
      default:
        return;
    }
    if (typeof event.address === "string") this.#offenders.add(event.address, weight);
  }

  /** The frame's figures; the next frame starts from zero, the top list moves on at `now`. */
  frame(now: number): SshFrame {
    const frame = this.#frame;
    this.#frame = { failed: 0, invalid: 0, accepted: 0 };
    this.rotate(now);
    return frame;
  }

  /** Starts the top list's next slice at `now`. */
  rotate(now: number): void {
    this.#offenders.rotate(now);
  }

  /** The `n` addresses with the most failed logins in the window. */
  top(n: number): TopRow[] {
    return this.#offenders.top(n);
  }
}
