/**
 * An {@linkcode EventOutput} that prints events as JSON lines, for `--print`.
 *
 * @module
 */
import { toJsonLine } from "./json.ts";
import type { Event } from "./event.ts";
import type { EventOutput } from "./output.ts";
import { randomSourceId } from "./protocol.ts";

/**
 * Something bytes can be written to: a `Deno.Writer`-like object or a Web stream.
 *
 * @example
 * ```ts
 * import type { ByteSink } from "@eventstorm/core/source";
 * const sink: ByteSink = Deno.stderr;
 * ```
 */
export type ByteSink =
  | { write(bytes: Uint8Array): Promise<number> }
  | WritableStream<Uint8Array>
  | WritableStreamDefaultWriter<Uint8Array>;

/**
 * Options of {@linkcode PrintOutput}.
 *
 * @example
 * ```ts
 * import { PrintOutput, type PrintOutputOptions } from "@eventstorm/core/source";
 * const options: PrintOutputOptions = { writer: Deno.stderr };
 * const out = new PrintOutput(options);
 * ```
 */
export interface PrintOutputOptions {
  /** Where the lines go; stdout by default. */
  writer?: ByteSink;
  /** Stream id reported by `sourceId`; random by default. */
  sourceId?: bigint;
  /** Next stream index per topic, from a checkpoint. */
  positions?: Record<string, number>;
}

// Past this many buffered bytes a write starts without waiting for flush().
const BUFFER_BYTES = 64 * 1024;
const encoder = new TextEncoder();

/**
 * Writes each event as one line of Extended JSON (dates as `{"$date": …}`). Lines
 * are buffered and written at `flush()`, once 64 KiB are waiting, or right after
 * the events sent together (a timer of 0 ms): a quiet source's last event shows
 * at once, not at its stop. Events are
 * numbered per topic like the network output, so checkpoints work the same way.
 *
 * @example
 * ```ts
 * import { PrintOutput } from "@eventstorm/core/source";
 * const out = new PrintOutput();
 * out.send({ type: "app.start", time: new Date(0), host: "h" });
 * await out.close(); // prints {"type":"app.start","time":{"$date":"1970-01-01T00:00:00.000Z"},"host":"h"}
 * ```
 */
export class PrintOutput implements EventOutput {
  readonly #sink: ByteSink;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  readonly #positions = new Map<string, number>();
  #buffer: string[] = [];
  #bufferedBytes = 0;
  #writing: Promise<void> = Promise.resolve();
  #failure: unknown;
  #closed = false;
  #soon: ReturnType<typeof setTimeout> | undefined;
  /** Random identity of this output's stream. */
  readonly sourceId: bigint;

  /** Creates an output printing to `options.writer` (stdout by default). */
  constructor(options: PrintOutputOptions = {}) {
    this.#sink = options.writer ?? Deno.stdout;
    this.sourceId = options.sourceId ?? randomSourceId();
    for (const [topic, next] of Object.entries(options.positions ?? {})) {
      this.#positions.set(topic, next);
    }
  }

  /** Queues one event as a JSON line. */
  send(event: Event): void {
    if (this.#closed) throw new Error("PrintOutput is closed");
    const line = toJsonLine(event) + "\n";
    this.#positions.set(event.type, (this.#positions.get(event.type) ?? 0) + 1);
    this.#buffer.push(line);
    this.#bufferedBytes += line.length;
    if (this.#bufferedBytes >= BUFFER_BYTES) this.#startWrite();
    else {
      this.#soon ??= setTimeout(() => {
        this.#soon = undefined;
        this.#startWrite();
      }, 0);
    }
  }

  /** Writes everything queued. */
  async flush(): Promise<void> {
    clearTimeout(this.#soon);
    this.#soon = undefined;
    this.#startWrite();
    await this.#writing;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Flushes and lets go of the writer (stdout itself stays open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      this.#writer?.releaseLock();
    }
  }

  /** Next stream index per topic. */
  positions(): Record<string, number> {
    return Object.fromEntries(this.#positions);
  }

  #startWrite(): void {
    if (this.#buffer.length === 0) return;
    const bytes = encoder.encode(this.#buffer.join(""));
    this.#buffer = [];
    this.#bufferedBytes = 0;
    this.#writing = this.#writing.then(() => this.#write(bytes)).catch((error) => {
      this.#failure ??= error;
    });
  }

  async #write(bytes: Uint8Array): Promise<void> {
    if (this.#failure !== undefined) return;
    const sink = this.#sink;
    if (sink instanceof WritableStream) {
      this.#writer ??= sink.getWriter();
      await this.#writer.write(bytes);
    } else if (sink instanceof WritableStreamDefaultWriter) {
      await sink.write(bytes);
    } else {
      // Writers may take part of the bytes per call.
      for (let done = 0; done < bytes.length;) done += await sink.write(bytes.subarray(done));
    }
  }
}
