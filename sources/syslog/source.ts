/**
 * The syslog source's run loop: listeners in, router, output, checkpoint.
 *
 * @module
 */
import { type Event, type EventOutput, makeEvent } from "@eventstorm/core";
import {
  EventSender,
  flushUnlessStopped,
  type LineParser,
  type OutputResume,
  StreamCheckpointFile,
} from "@eventstorm/core/source";
import { sleep } from "@eventstorm/core/internal";
import { type ListenAddress, SyslogListeners } from "./listener.ts";

/** Options of {@linkcode SyslogSource}. */
export interface SyslogSourceOptions {
  /** Where to listen. */
  listen: readonly ListenAddress[];
  /** What turns a message into events (a {@linkcode SyslogRouter}). */
  parser: LineParser;
  /** Builds the output, given the stream id and positions of the checkpoint. */
  output: (resume: OutputResume) => EventOutput | Promise<EventOutput>;
  /** Host for messages that name none. */
  host: string;
  /** Host of every event, whatever the message says. */
  hostOverride?: string;
  /** Type of events for unparsed messages (field `line`); none by default. */
  unparsedType?: string;
  /** Longest message kept whole, in bytes. */
  maxMessageBytes?: number;
  /** Where the stream id, positions and open Postfix state are kept across restarts. */
  checkpointPath?: string;
  /** Stops the source (it flushes first). */
  signal?: AbortSignal;
  /** Called once every address is bound. */
  onStarted?: (listeners: SyslogListeners) => void;
}

/** Counters of a {@linkcode SyslogSource}. */
export interface SyslogSourceStats {
  /** Messages received. */
  messages: number;
  /** Bytes received. */
  bytes: number;
  /** Events sent. */
  events: number;
  /** Messages no parser understood (no header, or a routed parser said no). */
  unparsed: number;
  /** Messages that were not UTF-8 (counted and dropped). */
  badEncoding: number;
  /** Parser exceptions. */
  parserErrors: number;
  /** Invalid events from a parser, dropped. */
  rejected: number;
  /** Messages cut to the size limit. */
  tooLong: number;
  /** Stream octet counts that made no sense. */
  badFrames: number;
  /** Datagrams the kernel dropped because this source's UDP sockets were full. */
  kernelDrops: number;
  /** Stream connections accepted. */
  connections: number;
  /** Checkpoints written. */
  checkpoints: number;
}

/**
 * Receives syslog messages until `signal` aborts, routing them to events. With
 * a checkpoint, a restart keeps the stream id and positions, and open Postfix
 * transactions.
 *
 * @example
 * ```ts ignore
 * import { PrintOutput } from "@eventstorm/core/source";
 * import { parseListenAddress, SyslogRouter, SyslogSource } from "@eventstorm/source-syslog";
 * const source = new SyslogSource({
 *   listen: [parseListenAddress("udp://127.0.0.1:5514")],
 *   parser: new SyslogRouter({ generic: true }),
 *   output: (resume) => new PrintOutput(resume),
 *   host: "me",
 *   signal: AbortSignal.timeout(1000),
 * });
 * await source.run();
 * ```
 */
export class SyslogSource {
  readonly #options: SyslogSourceOptions;
  readonly #counts: SyslogSourceStats = {
    messages: 0,
    bytes: 0,
    events: 0,
    unparsed: 0,
    badEncoding: 0,
    parserErrors: 0,
    rejected: 0,
    tooLong: 0,
    badFrames: 0,
    kernelDrops: 0,
    connections: 0,
    checkpoints: 0,
  };
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  /** For a message that is not UTF-8 (a legacy Latin-1 sender): U+FFFD for the bad bytes, as file sources read them. */
  readonly #lenient = new TextDecoder("utf-8");
  readonly #sender: EventSender;
  #listeners: SyslogListeners | undefined;
  /** The output, once open. */
  output: EventOutput | undefined;

  /** Creates the source; nothing is bound before {@linkcode SyslogSource.run}. */
  constructor(options: SyslogSourceOptions) {
    this.#options = options;
    this.#sender = new EventSender(options.hostOverride);
  }

  /** Counters so far. */
  stats(): SyslogSourceStats {
    const l = this.#listeners?.stats;
    if (l) {
      this.#counts.tooLong = l.tooLong;
      this.#counts.badFrames = l.badFrames;
      this.#counts.connections = l.connections;
      this.#counts.bytes = l.bytes;
    }
    if (this.#listeners) this.#counts.kernelDrops = this.#listeners.kernelDrops();
    this.#counts.events = this.#sender.events;
    this.#counts.rejected = this.#sender.rejected;
    this.#counts.parserErrors = this.#sender.parserErrors;
    return { ...this.#counts };
  }

  /** Runs until the signal aborts; flushes and closes the output at the end. */
  async run(): Promise<SyslogSourceStats> {
    const o = this.#options;
    const store = o.checkpointPath
      ? new StreamCheckpointFile(o.checkpointPath, "syslog")
      : undefined;
    const saved = await store?.load();
    if (saved?.parser !== undefined) o.parser.restore?.(saved.parser);
    const output = await o.output(StreamCheckpointFile.resume(saved));
    this.output = output;
    const save = async () => {
      if (!store) return;
      await store.save(output, o.parser.snapshot?.());
      this.#counts.checkpoints++;
    };
    let listeners: SyslogListeners | undefined;
    try {
      listeners = await SyslogListeners.open(
        o.listen,
        (message, via) => this.#handle(message, via, output),
        o.maxMessageBytes,
      );
      this.#listeners = listeners;
      o.onStarted?.(listeners);
      await save();
      const signal = o.signal;
      let lastSave = Date.now();
      while (!signal?.aborted) {
        await sleep(250, signal);
        this.#sender.send(this.#sender.call(() => o.parser.tick?.(new Date())), output);
        if (Date.now() - lastSave >= 1000) {
          await save().catch(() => {});
          lastSave = Date.now();
        }
      }
    } finally {
      await listeners?.close();
      if (!store) this.#sender.send(this.#sender.call(() => o.parser.end?.()), output);
      // With the stop's signal: an emitter's flush waits while nobody subscribes, and a
      // stop must not wait on a router that is down (what is held is counted dropped).
      if (await flushUnlessStopped(output, o.signal)) await save().catch(() => {});
      await output.close();
    }
    return this.stats();
  }

  #handle(message: Uint8Array, via: string, output: EventOutput): void {
    this.#counts.messages++;
    let line: string;
    try {
      line = this.#decoder.decode(message);
    } catch {
      // Counted, and still parsed: dropping it would lose the line's event.
      this.#counts.badEncoding++;
      line = this.#lenient.decode(message);
    }
    const o = this.#options;
    let events: Event[] | undefined;
    try {
      events = o.parser.parse(line, { path: via, host: o.host, readAt: new Date() });
    } catch {
      this.#sender.parserErrors++;
    }
    if (events) {
      this.#sender.send(events, output);
      return;
    }
    this.#counts.unparsed++;
    if (o.unparsedType) {
      this.#sender.send([makeEvent(o.unparsedType, { line, path: via }, { host: o.host })], output);
    }
  }
}
