/**
 * The whole of a file source as a user runs it, for the benchmarks: `eventstorm
 * source NAME --file PATH --once` in a process of its own, publishing to a
 * collector here that counts messages without decoding them. Timed from spawn
 * (startup included) until the last event arrives.
 *
 * @module
 */
import { Collector } from "@eventstorm/core";
import { freeLoopbackPort } from "./sample.ts";

/** What one run of a source measured. */
export interface SourceWireResult {
  /** From spawn to the last event received. */
  millis: number;
  /** Events received. */
  received: number;
  /** Events the stream indexes say were lost. */
  lost: number;
  /** The source's own last stats line. */
  statsLine: string;
}

/** Runs `eventstorm source NAME --file PATH --once ARGS` and counts what it sends. */
export async function sourceToWire(
  name: string,
  path: string,
  extraArgs: string[] = [],
): Promise<SourceWireResult> {
  const port = freeLoopbackPort();
  const collector = await Collector.open({ endpoints: `@tcp://127.0.0.1:${port}` });
  const started = performance.now();
  const source = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../cli.ts", import.meta.url).pathname,
      "source",
      name,
      "--file",
      path,
      "--once",
      "--no-checkpoint",
      "--to",
      `>tcp://127.0.0.1:${port}`,
      "--stats-interval",
      "0s",
      ...extraArgs,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const output = source.output();
  let exited = false;
  output.finally(() => exited = true);
  let received = 0;
  let lastAt = started;
  const messages = collector.messages()[Symbol.asyncIterator]();
  let pending: ReturnType<typeof messages.next> | undefined;
  // Until the source has exited and nothing more came for half a second.
  while (!exited || performance.now() - lastAt < 500) {
    pending ??= messages.next();
    const next = await Promise.race([
      pending,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100)),
    ]);
    if (next === undefined) continue;
    pending = undefined;
    if (next.done) break;
    received += next.value.count;
    lastAt = performance.now();
  }
  const { stderr } = await output;
  await collector.close();
  return {
    millis: lastAt - started,
    received,
    lost: collector.stats().lost,
    statsLine: new TextDecoder().decode(stderr).trim().split("\n").pop() ?? "",
  };
}
