/**
 * What the file sources make of Postfix and sshd lines, for the tests that check
 * another input (syslog, the journal) against them.
 *
 * @module
 */
import { join } from "node:path";
import type { Event, EventOutput } from "@eventstorm/core";
import { randomSourceId } from "@eventstorm/core/protocol";
import { LineSource } from "@eventstorm/core/source";
import { PostfixTracker } from "@eventstorm/source-postfix";
import { SshdParser } from "@eventstorm/source-sshd";

/** An output that keeps the events it is given. */
export class GatherOutput implements EventOutput {
  readonly events: Event[] = [];
  readonly sourceId: bigint = randomSourceId();
  send(event: Event): void {
    this.events.push(event);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  positions(): Record<string, number> {
    return {};
  }
}

/** The events of the postfix and sshd file sources (`--once --utc`) on these lines. */
export async function fileSourceEvents(
  dir: string,
  mail: string[],
  auth: string[],
): Promise<Event[]> {
  const out = new GatherOutput();
  const runs = [
    [
      "mail.log",
      mail,
      new PostfixTracker({ timeout: 3_600_000, deferredTimeout: 432_000_000, utc: true }),
    ],
    ["auth.log", auth, new SshdParser({ utc: true })],
  ] as const;
  for (const [name, lines, parser] of runs) {
    await Deno.writeTextFile(join(dir, name), lines.join("\n") + "\n");
    await new LineSource({
      paths: [join(dir, name)],
      once: true,
      fromStart: true,
      parser,
      host: "here",
      output: () => out,
    }).run();
  }
  return out.events;
}
