/**
 * The run loop every file source shares: follow files, parse lines, hand events
 * to an output, checkpoint. Sources only bring a {@linkcode LineParser}.
 *
 * @module
 */
import { CheckpointStore } from "./checkpoint.ts";
import { type Event, isEvent, isValidType, localHostname, makeEvent } from "./event.ts";
import { UsageError } from "./flags.ts";
import type { LineContext, LineParser } from "./line_parser.ts";
import { type EventOutput, flushUnlessStopped } from "./output.ts";
import {
  type ByteLineBatch,
  FileFollower,
  type FilePosition,
  type FollowerOptions,
  type FollowerStats,
} from "./tail/mod.ts";

/** Held checkpoints at most; beyond, every other one is dropped (the oldest stays). */
const MAX_HELD = 64;

/**
 * What a restarted output needs to number events as before the restart.
 *
 * @example
 * ```ts
 * import type { OutputResume } from "@eventstorm/core/source";
 * const resume: OutputResume = { sourceId: 42n, positions: { "http.hit": 1000 } };
 * ```
 */
export interface OutputResume {
  /** Stream id from the checkpoint. */
  sourceId?: bigint;
  /** Next stream index per topic from the checkpoint. */
  positions?: Record<string, number>;
}

/**
 * Options of {@linkcode runLineSource} and {@linkcode LineSource}.
 *
 * @example
 * ```ts
 * import { type LineSourceOptions, PrintOutput } from "@eventstorm/core/source";
 * const options: LineSourceOptions = {
 *   paths: ["/var/log/app.log"],
 *   parser: { parse: () => undefined },
 *   output: (resume) => new PrintOutput(resume),
 *   checkpointPath: "/tmp/app.checkpoint.json",
 * };
 * ```
 */
export interface LineSourceOptions extends FollowerOptions {
  /** The log format. */
  parser: LineParser;
  /**
   * Where events go. Give a function when checkpointing: it receives the stream
   * id and positions saved in the checkpoint, so that re-read lines get the same
   * stream indexes and receivers drop them as replays.
   */
  output: EventOutput | ((resume: OutputResume) => EventOutput | Promise<EventOutput>);
  /** Checkpoint file; none when absent (then a restart starts over). */
  checkpointPath?: string;
  /** Least time between checkpoints while lines flow, in ms (default 250). */
  checkpointIntervalMs?: number;
  /** How often `parser.tick()` runs, in ms (default 1000). */
  tickIntervalMs?: number;
  /** Host for `LineContext.host` (default: this machine's name). */
  host?: string;
  /**
   * Host for every event, even those whose line names one (syslog's host field):
   * for logs copied from elsewhere, or a name the host does not know itself by.
   */
  hostOverride?: string;
  /** Emit lines the parser does not understand as events of this type (field `line`). */
  unparsedType?: string;
  /** Stops the source: it flushes, checkpoints and returns. */
  signal?: AbortSignal;
  /**
   * Called once the checkpoint is loaded, the output open and the files opened:
   * the moment to say "running", since until then a bad flag can still fail it.
   */
  onStarted?: () => void;
}

/**
 * Counters of a line source.
 *
 * @example
 * ```ts
 * import type { LineSourceStats } from "@eventstorm/core/source";
 * const unparsedShare = (s: LineSourceStats) => s.linesUnparsed / Math.max(1, s.linesRead);
 * ```
 */
export interface LineSourceStats extends FollowerStats {
  /** Events handed to the output (unparsed-line events included). */
  events: number;
  /** Lines the parser did not understand (or threw on). */
  linesUnparsed: number;
  /** Lines on which the parser threw (also counted in `linesUnparsed`). */
  parserErrors: number;
  /** Events the parser returned with an invalid envelope; not sent. */
  eventsRejected: number;
  /** Checkpoints written. */
  checkpoints: number;
  /** Checkpoints that could not be written. */
  checkpointErrors: number;
}

/**
 * The checkpoint file of a line source: everything needed to resume exactly.
 *
 * @example
 * ```ts
 * import type { LineSourceCheckpoint } from "@eventstorm/core/source";
 * const empty: LineSourceCheckpoint = {
 *   version: 1,
 *   savedAt: new Date().toISOString(),
 *   sourceId: "42",
 *   positions: {},
 *   files: [],
 * };
 * ```
 */
export interface LineSourceCheckpoint {
  /** Format version (1). */
  version: 1;
  /** When it was written (ISO 8601). */
  savedAt: string;
  /** The output's stream id, as a decimal string (it is a 64-bit number). */
  sourceId: string;
  /** The output's next stream index per topic. */
  positions: Record<string, number>;
  /** The parser's `snapshot()`. */
  parser?: unknown;
  /** Where reading stands in each file. */
  files: FilePosition[];
}

/**
 * A running file source. Prefer {@linkcode runLineSource}; use the class to read
 * `stats()` while it runs.
 *
 * @example
 * ```ts
 * import { LineSource, PrintOutput } from "@eventstorm/core/source";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/app.log`, "hello\n");
 * const source = new LineSource({
 *   paths: [`${dir}/app.log`],
 *   once: true,
 *   parser: { parse: (line, ctx) => [{ type: "app.line", time: ctx.readAt, host: ctx.host, line }] },
 *   output: new PrintOutput(),
 * });
 * await source.run();
 * console.error(source.stats().events); // 1
 * ```
 */
export class LineSource {
  readonly #options: LineSourceOptions;
  readonly #follower: FileFollower;
  readonly #store: CheckpointStore<LineSourceCheckpoint> | undefined;
  /** Checkpoints taken but not saved yet: their messages may still be in this process. */
  #held: { sent: number; checkpoint: LineSourceCheckpoint }[] = [];
  readonly #host: string;
  #output: EventOutput | undefined;
  #counts = {
    events: 0,
    linesUnparsed: 0,
    parserErrors: 0,
    eventsRejected: 0,
    checkpoints: 0,
    checkpointErrors: 0,
  };
  #lastCheckpointError = "";

  /** Creates the source; `run()` starts it. */
  constructor(options: LineSourceOptions) {
    if (options.unparsedType !== undefined && !isValidType(options.unparsedType)) {
      throw new TypeError(`invalid unparsed event type '${options.unparsedType}'`);
    }
    this.#options = options;
    this.#follower = new FileFollower(options);
    this.#store = options.checkpointPath ? new CheckpointStore(options.checkpointPath) : undefined;
    this.#host = options.host ?? localHostname();
  }

  /** The output, once `run()` has opened it. */
  get output(): EventOutput | undefined {
    return this.#output;
  }

  /** Current counters. */
  stats(): LineSourceStats {
    return { ...this.#follower.stats(), ...this.#counts };
  }

  /**
   * Runs until the signal aborts (or, with `once`, until every file is read),
   * then flushes, checkpoints and closes the output. Resolves with the counters.
   * A damaged checkpoint file is a `UsageError`.
   */
  async run(): Promise<LineSourceStats> {
    const options = this.#options;
    const parser = options.parser;
    const saved = await this.#load();
    if (saved?.parser !== undefined) parser.restore?.(saved.parser);
    if (saved) this.#follower.restore(saved.files);
    const output = typeof options.output === "function"
      ? await options.output(
        saved ? { sourceId: BigInt(saved.sourceId), positions: saved.positions } : {},
      )
      : options.output;
    this.#output = output;
    const signal = options.signal;
    const checkpointMs = options.checkpointIntervalMs ?? 250;
    const tickMs = options.tickIntervalMs ?? 1000;
    let flushedAll = true;
    try {
      await this.#follower.open();
      options.onStarted?.();
      // Saved before anything is sent, so a crash at any point after finds the
      // stream id and start positions that numbered what was sent.
      await this.#checkpoint(output);
      let lastCheckpoint = Date.now();
      let lastTick = Date.now();
      let dirty = false;
      for await (const batch of this.#follower.byteBatches(signal)) {
        const now = new Date();
        if (batch.count > 0) {
          this.#handle(batch, { path: batch.path, host: this.#host, readAt: now }, output);
          dirty = true;
        }
        let urgent = false;
        if (parser.tick && now.getTime() - lastTick >= tickMs) {
          lastTick = now.getTime();
          const due = this.#call(() => parser.tick!(now));
          // Events due by time alone are not replayed by re-reading lines: save
          // at once so a crash cannot number later events differently.
          if (due.length > 0) urgent = dirty = true;
          this.#sendAll(due, output);
        }
        if (dirty && (urgent || now.getTime() - lastCheckpoint >= checkpointMs)) {
          if (!(await flushUnlessStopped(output, signal))) {
            // Stopped while the output waited for a receiver: nothing more is
            // checkpointed, so what it held is sent again, with the same
            // indexes, after a restart.
            flushedAll = false;
            break;
          }
          await this.#checkpoint(output);
          lastCheckpoint = Date.now();
          dirty = false;
        }
        await output.ready?.(signal);
      }
      const complete = options.once && !signal?.aborted;
      // Open parser state survives in the checkpoint; without one, or at the real
      // end of input, it is emitted now rather than lost.
      if (flushedAll && (complete || !this.#store) && parser.end) {
        this.#sendAll(this.#call(() => parser.end!()), output);
      }
      if (flushedAll && (await flushUnlessStopped(output, signal))) {
        await this.#checkpoint(output);
      }
    } finally {
      this.#follower.close();
      await output.close();
    }
    // A clean close hands libzmq's queue to the kernel: the last checkpoint is safe now.
    if (this.#store) await this.#saveDelivered(output);
    return this.stats();
  }

  #handle(batch: ByteLineBatch, context: LineContext, output: EventOutput): void {
    const ascii = this.#options.parser.ascii;
    if (ascii === undefined || output.sendAscii === undefined) {
      for (const line of batch.texts()) this.#handleLine(line, context, output);
      return;
    }
    // Straight from the bytes into the output; the lines the encoder declines
    // (bytes past ASCII among them) through `parse`.
    const host = this.#options.hostOverride ?? context.host;
    const { bytes, starts, ends } = batch;
    for (let i = 0; i < batch.count; i++) {
      if (output.sendAscii(ascii, bytes, starts[i], ends[i], host)) this.#counts.events++;
      else this.#handleLine(batch.text(i), context, output);
    }
  }

  #handleLine(line: string, context: LineContext, output: EventOutput): void {
    let events: Event[] | undefined;
    try {
      events = this.#options.parser.parse(line, context);
    } catch {
      events = undefined;
      this.#counts.parserErrors++;
    }
    if (events) {
      this.#sendAll(events, output);
      return;
    }
    this.#counts.linesUnparsed++;
    const unparsedType = this.#options.unparsedType;
    if (unparsedType) {
      this.#sendAll([
        makeEvent(unparsedType, { line, path: context.path }, {
          host: context.host,
          time: context.readAt,
        }),
      ], output);
    }
  }

  #sendAll(events: Event[], output: EventOutput): void {
    const hostOverride = this.#options.hostOverride;
    for (const event of events) {
      if (!isEvent(event)) {
        this.#counts.eventsRejected++;
        continue;
      }
      if (hostOverride !== undefined) event.host = hostOverride;
      output.send(event);
      this.#counts.events++;
    }
  }

  /** Runs a parser hook; a hook that throws yields nothing (and is counted). */
  #call(hook: () => Event[]): Event[] {
    try {
      return hook() ?? [];
    } catch {
      this.#counts.parserErrors++;
      return [];
    }
  }

  /**
   * Takes a checkpoint of where reading is now (everything read is flushed) and
   * saves the newest one whose events have certainly left the process: an output
   * that may still hold sent messages (libzmq's queue) makes the checkpoint lag
   * until they are out, so a `kill -9` loses no line. Re-read lines keep their
   * stream indexes, so receivers drop them as replays.
   */
  async #checkpoint(output: EventOutput): Promise<void> {
    if (!this.#store) return;
    const checkpoint: LineSourceCheckpoint = {
      version: 1,
      savedAt: new Date().toISOString(),
      sourceId: output.sourceId.toString(),
      positions: output.positions(),
      parser: this.#options.parser.snapshot?.(),
      files: this.#follower.positions(),
    };
    const mark = output.deliveredMark?.();
    if (mark === undefined) return await this.#save(checkpoint);
    this.#held.push({ sent: mark.sent, checkpoint });
    if (this.#held.length > MAX_HELD) {
      // Thin out, keeping the oldest, which is the next to become safe.
      this.#held = this.#held.filter((_, i) => i === 0 || i % 2 === 1);
    }
    await this.#saveDelivered(output);
  }

  /** Saves the newest held checkpoint whose messages have left the process, if any. */
  async #saveDelivered(output: EventOutput): Promise<void> {
    const safe = output.deliveredMark?.().safe ?? Infinity;
    let newest: LineSourceCheckpoint | undefined;
    while (this.#held.length > 0 && this.#held[0].sent <= safe) {
      newest = this.#held.shift()!.checkpoint;
    }
    if (newest !== undefined) await this.#save(newest);
  }

  async #save(checkpoint: LineSourceCheckpoint): Promise<void> {
    if (!this.#store) return;
    try {
      await this.#store.save(checkpoint);
      this.#counts.checkpoints++;
    } catch (error) {
      this.#counts.checkpointErrors++;
      const message = error instanceof Error ? error.message : String(error);
      if (message !== this.#lastCheckpointError) {
        console.error(`warning: cannot write checkpoint ${this.#store.path}: ${message}`);
        this.#lastCheckpointError = message;
      }
    }
  }

  async #load(): Promise<LineSourceCheckpoint | undefined> {
    if (!this.#store) return undefined;
    const path = this.#store.path;
    let value: unknown;
    try {
      value = await this.#store.load();
    } catch (error) {
      throw new UsageError(
        `checkpoint ${path} is unreadable (${(error as Error).message}); ` +
          "remove it to start over",
      );
    }
    if (value === undefined) return undefined;
    const c = value as Partial<LineSourceCheckpoint>;
    if (
      c.version !== 1 || typeof c.sourceId !== "string" || !/^\d+$/.test(c.sourceId) ||
      typeof c.positions !== "object" || c.positions === null || !Array.isArray(c.files)
    ) {
      throw new UsageError(
        `checkpoint ${path} is not a line source checkpoint; remove it to start over`,
      );
    }
    return c as LineSourceCheckpoint;
  }
}

/**
 * Follows files, parses each line, sends the events and checkpoints, until
 * `signal` aborts or (`once`) the input ends. Lines the parser does not
 * understand, or throws on, are counted as unparsed and, with `unparsedType`,
 * sent as such events with the raw `line`. With a checkpoint, a restart resumes
 * each file at its line, restores the parser state and gives the output its old
 * stream id and positions: re-read lines are numbered as before, so receivers
 * drop them and nothing is lost or counted twice.
 *
 * @example
 * ```ts
 * import { PrintOutput, runLineSource } from "@eventstorm/core/source";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/app.log`, "hello\nworld\n");
 * const stats = await runLineSource({
 *   paths: [`${dir}/app.log`],
 *   once: true,
 *   parser: { parse: (line, ctx) => [{ type: "app.line", time: ctx.readAt, host: ctx.host, line }] },
 *   output: (resume) => new PrintOutput(resume),
 *   checkpointPath: `${dir}/checkpoint.json`,
 * });
 * console.error(stats.linesRead); // 2
 * ```
 */
export function runLineSource(options: LineSourceOptions): Promise<LineSourceStats> {
  return new LineSource(options).run();
}
