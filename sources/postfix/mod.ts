/**
 * Postfix log source: follows each message by queue id and emits one
 * `smtp.transaction` per message, plus `smtp.reject` and `smtp.deferred`.
 *
 * @example
 * ```ts
 * import { PostfixTracker } from "@eventstorm/source-postfix";
 * const tracker = new PostfixTracker();
 * const ctx = { path: "mail.log", host: "mx", readAt: new Date() };
 * const events = tracker.parse(
 *   "Oct 22 02:13:42 conch postfix/smtpd[26895]: NOQUEUE: reject: RCPT from jurann.biz[77.95.228.43]: 554 5.7.1 Service unavailable; from=<a@jurann.biz> to=<kdent@seaglass.com> proto=ESMTP helo=<jurann.biz>",
 *   ctx,
 * );
 * console.log(events?.[0].type); // "smtp.reject"
 * ```
 *
 * @module
 */
export * from "./postfix_parser.ts";
export * from "./tracker.ts";
export { postfixSource } from "./config.ts";
