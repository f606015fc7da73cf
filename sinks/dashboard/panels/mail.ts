/**
 * The mail panel: delivered, deferred, bounced and rejected mail per frame.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";
import type { MailFrame } from "../frame.ts";

/** Recipients past this are not counted: one message cannot stall a tick. */
const MAX_RECIPIENTS = 10_000;

/** The fields this panel reads (docs/events.md), checked against the catalogue. */
export const MAIL_READS = {
  "smtp.transaction": ["recipients"],
  "smtp.deferred": [],
  "smtp.reject": [],
} as const;

/** Accumulates Postfix events. */
export class MailPanel {
  #frame: MailFrame = { delivered: 0, deferred: 0, bounced: 0, rejected: 0 };

  /** Accounts one `smtp.transaction`: each recipient's last status. */
  transaction(event: Event): void {
    const recipients = event.recipients;
    if (!Array.isArray(recipients)) return;
    const count = Math.min(recipients.length, MAX_RECIPIENTS);
    for (let i = 0; i < count; i++) {
      const recipient = recipients[i];
      if (recipient === null || typeof recipient !== "object") continue;
      const status = (recipient as Record<string, unknown>).status;
      if (status === "sent") this.#frame.delivered++;
      else if (status === "bounced" || status === "expired") this.#frame.bounced++;
    }
  }

  /** Accounts `count` `smtp.deferred` events. */
  deferred(count: number): void {
    this.#frame.deferred += count;
  }

  /** Accounts `count` `smtp.reject` events. */
  rejected(count: number): void {
    this.#frame.rejected += count;
  }

  /** The frame's figures; the next frame starts from zero. */
  frame(): MailFrame {
    const frame = this.#frame;
    this.#frame = { delivered: 0, deferred: 0, bounced: 0, rejected: 0 };
    return frame;
  }
}
