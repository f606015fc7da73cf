/**
 * The source under test in tail_kill_test.ts: follows LOG and appends one JSON
 * record per event to RESULT with a synchronous write, so a SIGKILL can land
 * anywhere. Stream indexes come from its own per-topic counter, restored from
 * the checkpoint like the network output's.
 *
 * Usage: tail_kill_source.ts LOG RESULT CHECKPOINT
 */
import type { Event } from "../../core/event.ts";
import { shutdownSignal } from "../../core/flags.ts";
import { type OutputResume, runLineSource } from "../../core/line_source.ts";
import type { EventOutput } from "../../core/output.ts";

class AppendOutput implements EventOutput {
  readonly sourceId: bigint;
  readonly #positions: Map<string, number>;
  readonly #file: Deno.FsFile;
  readonly #encoder = new TextEncoder();

  constructor(path: string, resume: OutputResume) {
    this.sourceId = resume.sourceId ?? crypto.getRandomValues(new BigUint64Array(1))[0];
    this.#positions = new Map(Object.entries(resume.positions ?? {}));
    this.#file = Deno.openSync(path, { append: true, create: true, read: true });
    // A record torn by a kill must not swallow the next one.
    const size = this.#file.statSync().size;
    if (size > 0) {
      const last = new Uint8Array(1);
      this.#file.seekSync(size - 1, Deno.SeekMode.Start);
      this.#file.readSync(last);
      if (last[0] !== 10) this.#write("\n");
    }
  }

  send(event: Event): void {
    const index = this.#positions.get(event.type) ?? 0;
    this.#positions.set(event.type, index + 1);
    const record = { source: String(this.sourceId), topic: event.type, index, line: event.line };
    this.#write(JSON.stringify(record) + "\n");
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    for (let done = 0; done < bytes.length;) done += this.#file.writeSync(bytes.subarray(done));
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#file.close();
    return Promise.resolve();
  }

  positions(): Record<string, number> {
    return Object.fromEntries(this.#positions);
  }
}

const [log, result, checkpointPath] = Deno.args;
await runLineSource({
  paths: [log],
  fromStart: true,
  pollIntervalMs: 20,
  rescanIntervalMs: 100,
  rotateWaitMs: 1000,
  checkpointIntervalMs: 50,
  maxBatchLines: 200,
  checkpointPath,
  parser: { parse: (line, ctx) => [{ type: "test.line", time: ctx.readAt, host: ctx.host, line }] },
  output: (resume) => new AppendOutput(result, resume),
  signal: shutdownSignal(),
});
Deno.exit(0);
