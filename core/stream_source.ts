/**
 * What sources that read a stream rather than files share (syslog listeners, the
 * journal): a checkpoint of the stream's numbering and parser state, and sending
 * a parser's events with the counts every source reports.
 *
 * @module
 */
import { CheckpointStore } from "./checkpoint.ts";
import { type Event, isEvent } from "./event.ts";
import { UsageError } from "./flags.ts";
import type { OutputResume } from "./line_source.ts";
import type { EventOutput } from "./output.ts";
import type { LineParser } from "./line_parser.ts";

/** The checkpoint of a stream source: its stream id and positions, parser state, a cursor. */
export interface StreamCheckpoint {
  /** Format version. */
  version: 1;
  /** The output's stream id, as decimal text. */
  sourceId: string;
  /** Next stream index per topic. */
  positions: Record<string, number>;
  /** The parser's `snapshot()`. */
  parser?: unknown;
  /** Where the input resumes (the journal's cursor), if it has such a thing. */
  cursor?: string;
}

/**
 * A stream source's checkpoint file.
 *
 * @example
 * ```ts
 * import { PrintOutput, StreamCheckpointFile } from "@eventstorm/core/source";
 * const file = new StreamCheckpointFile(`${await Deno.makeTempDir()}/cp.json`, "syslog");
 * const saved = await file.load(); // undefined: none yet
 * const output = new PrintOutput(StreamCheckpointFile.resume(saved));
 * await file.save(output, undefined);
 * ```
 */
export class StreamCheckpointFile {
  readonly #store: CheckpointStore<StreamCheckpoint>;
  readonly #kind: string;

  /** A checkpoint at `path` of a source of `kind` (named in errors). */
  constructor(path: string, kind: string) {
    this.#store = new CheckpointStore(path);
    this.#kind = kind;
  }

  /** The saved checkpoint, if any; an unreadable or foreign one is a `UsageError`. */
  async load(): Promise<StreamCheckpoint | undefined> {
    const path = this.#store.path;
    let saved: StreamCheckpoint | undefined;
    try {
      saved = await this.#store.load();
    } catch (error) {
      throw new UsageError(
        `checkpoint ${path} is unreadable (${(error as Error).message}); remove it to start over`,
      );
    }
    if (
      saved !== undefined &&
      (saved.version !== 1 || !/^\d+$/.test(String(saved.sourceId)) ||
        typeof saved.positions !== "object" || saved.positions === null)
    ) {
      throw new UsageError(`checkpoint ${path} is not a ${this.#kind} checkpoint; remove it`);
    }
    return saved;
  }

  /** Saves the output's numbering with the parser state and cursor. */
  save(output: EventOutput, parser: unknown, cursor?: string): Promise<void> {
    return this.#store.save({
      version: 1,
      sourceId: output.sourceId.toString(),
      positions: output.positions(),
      parser,
      cursor,
    });
  }

  /** What an output resumes from `saved`. */
  static resume(saved: StreamCheckpoint | undefined): OutputResume {
    return saved ? { sourceId: BigInt(saved.sourceId), positions: saved.positions } : {};
  }
}

/**
 * Sends a parser's events to an output, counting them, the invalid ones it drops
 * and the parser hooks that throw.
 *
 * @example
 * ```ts
 * import { EventSender, PrintOutput } from "@eventstorm/core/source";
 * const sender = new EventSender();
 * const output = new PrintOutput({ writer: new WritableStream() });
 * sender.send(sender.call(() => [{ type: "app.start", time: new Date(), host: "h" }]), output);
 * sender.events; // 1
 * ```
 */
export class EventSender {
  /** Events sent. */
  events = 0;
  /** Invalid events dropped. */
  rejected = 0;
  /** Parser calls that threw. */
  parserErrors = 0;
  readonly #hostOverride: string | undefined;

  /** `hostOverride`: the host of every event sent. */
  constructor(hostOverride?: string) {
    this.#hostOverride = hostOverride;
  }

  /** Runs a parser hook; one that throws yields nothing and is counted. */
  call(hook: () => Event[] | undefined): Event[] {
    try {
      return hook() ?? [];
    } catch {
      this.parserErrors++;
      return [];
    }
  }

  /** Sends the valid events of `events`. */
  send(events: Event[], output: EventOutput): void {
    for (const event of events) {
      if (!isEvent(event)) {
        this.rejected++;
        continue;
      }
      if (this.#hostOverride !== undefined) event.host = this.#hostOverride;
      output.send(event);
      this.events++;
    }
  }
}

/** What a {@linkcode RoutingParser} did with what it was given. */
export interface RouterStats {
  /** Messages per route (`nginx`, `postfix`, `sshd`, `generic`). */
  routed: Record<string, number>;
  /** Messages of programs no route takes. */
  ignored: number;
}

/**
 * The base of routers that hand messages to several parsers of which one keeps
 * state across messages (Postfix's transaction tracker): its timeouts, end of
 * input and checkpoint state are the router's.
 *
 * @example
 * ```ts
 * import { RoutingParser } from "@eventstorm/core/source";
 * class Router extends RoutingParser {
 *   route(line: string) {
 *     this.count("all");
 *     return [];
 *   }
 * }
 * new Router().stats.routed; // {}
 * ```
 */
export class RoutingParser {
  readonly #stateful: LineParser | undefined;
  /** Messages per route, and those ignored. */
  readonly stats: RouterStats = { routed: {}, ignored: 0 };

  /** `stateful`: the one parser whose state is kept (and checkpointed). */
  constructor(stateful?: LineParser) {
    this.#stateful = stateful;
  }

  /** Events due by time alone. */
  tick(now: Date): Event[] {
    return this.#stateful?.tick?.(now) ?? [];
  }

  /** Events still open. */
  end(): Event[] {
    return this.#stateful?.end?.() ?? [];
  }

  /** State for a checkpoint. */
  snapshot(): unknown {
    return this.#stateful?.snapshot?.();
  }

  /** Restores what {@linkcode RoutingParser.snapshot} saved. */
  restore(state: unknown): void {
    if (state !== undefined) this.#stateful?.restore?.(state);
  }

  /** Counts one message routed to `route`. */
  protected count(route: string): void {
    this.stats.routed[route] = (this.stats.routed[route] ?? 0) + 1;
  }
}
