/**
 * The router's run loop: the core Relay with topic policy, loss accounting and
 * stats.
 *
 * @module
 */
import { type Event, localHostname } from "@eventstorm/core";
import { type Counters, StatsReporter } from "@eventstorm/core/cli";
import { MessageBuilder, Relay } from "@eventstorm/core/internal";
import type { DropReason } from "@eventstorm/core";
import {
  encodeHeader,
  parseMessage,
  randomSourceId,
  SequenceTracker,
} from "@eventstorm/core/protocol";
import type { RouterConfig } from "./config.ts";
import { RefusalLog } from "./refusals.ts";
import { SubscriptionTable, TopicFilter } from "./filter.ts";
import {
  flatRouterCounters,
  formatRouterLine,
  type RouterStats,
  type TopicCounters,
} from "./stats.ts";

const MAX_TOPICS = 10_000;
const EMPTY = new Uint8Array(0);
const STATS_TOPIC = "eventstorm.stats";

/** Options of {@linkcode Router} beyond its config. */
export interface RouterOptions {
  /** Where the stats line goes; stderr by default. */
  print?: (line: string) => void;
}

/**
 * An XSUB/XPUB forwarder: sources publish to it, sinks subscribe to it, and
 * subscriptions travel upstream so sources send only what someone wants.
 *
 * @example
 * ```ts ignore
 * import { Router } from "@eventstorm/router";
 * const router = new Router({ sources: ["@tcp://*:5555"], sinks: ["@tcp://*:5556"], allow: [], deny: [],
 *   statsIntervalMs: 10_000, maxMessageSize: 16 << 20, sendHwm: 1000, receiveHwm: 1000 });
 * await router.run();
 * ```
 */
export class Router {
  readonly #config: RouterConfig;
  readonly #relay: Relay;
  readonly #filter: TopicFilter;
  readonly #table = new SubscriptionTable();
  readonly #tracker = new SequenceTracker();
  readonly #topics = new Map<string, TopicCounters>();
  readonly #builder = new MessageBuilder(randomSourceId());
  readonly #reporter: StatsReporter;
  readonly #decoder = new TextDecoder();
  readonly #encoder = new TextEncoder();
  readonly #totals = {
    messagesIn: 0,
    eventsIn: 0,
    bytesIn: 0,
    messagesOut: 0,
    eventsOut: 0,
    denied: 0,
  };
  readonly #malformed: Partial<Record<DropReason, number>> = {};
  #announceTimer: ReturnType<typeof setInterval> | undefined;
  readonly #refusalLog: RefusalLog;

  /** Binds or connects the router's sockets; endpoint problems throw `UsageError`. */
  constructor(config: RouterConfig, options: RouterOptions = {}) {
    this.#config = config;
    this.#refusalLog = new RefusalLog(options.print ?? ((line) => console.error(line)));
    this.#filter = new TopicFilter({ allow: config.allow, deny: config.deny });
    this.#relay = new Relay({
      upstream: config.sources,
      downstream: config.sinks,
      maxMessageSize: config.maxMessageSize,
      sendHwm: config.sendHwm,
      whenFull: config.whenFull,
      receiveHwm: config.receiveHwm,
      curve: config.curve,
      allowKeys: config.allowKeys,
      onRefused: (refusal) => this.#refusalLog.note(refusal),
      warn: (line) => (options.print ?? console.error)(`router: ${line}`),
    });
    const host = config.host ?? localHostname();
    this.#reporter = new StatsReporter({
      component: "router",
      intervalMs: config.statsIntervalMs,
      snapshot: () => flatRouterCounters(this.stats()),
      format: formatRouterLine,
      print: options.print,
      publish: (fields) => this.#publishStats(fields, host),
    });
  }

  /** The addresses bound (real ports when bound to `*`). */
  boundEndpoints(): { sources: string; sinks: string } {
    const { upstream, downstream } = this.#relay.boundEndpoints();
    return { sources: upstream, sinks: downstream };
  }

  /**
   * Whether the router is a CURVE server on the endpoints it binds, and then how
   * many keys `--allow-keys` admits (undefined: every client that knows the
   * server key); undefined when CURVE is off or nothing binds.
   */
  curveServer(): { keys: number | undefined } | undefined {
    return this.#relay.curveServer();
  }

  /** Runs until `signal` aborts or {@linkcode Router.close} is called. */
  async run(signal?: AbortSignal): Promise<void> {
    signal?.addEventListener("abort", () => void this.close(), { once: true });
    this.#reporter.start();
    const announceMs = this.#config.announceIntervalMs ?? 1000;
    if (announceMs > 0) this.#announceTimer = setInterval(() => this.#announce(), announceMs);
    await this.#relay.run({
      message: (frames, frameCount, sizes, peer, chained) =>
        this.#onMessage(frames, frameCount, sizes, chained ? undefined : peer),
      subscription: (subscribe, prefix) => this.#onSubscription(subscribe, prefix),
    });
  }

  /**
   * `owner` is the peer that sent the message when it connected to a bound
   * sources endpoint: a source, which owns the streams it sends first. A message
   * from an upstream router this one chains to (`>`) has none: such a router
   * forwards many sources' streams, and two of them may carry the same stream
   * (a replay, counted as duplicates, not a forgery).
   */
  #onMessage(
    frames: readonly Uint8Array[],
    frameCount: number,
    sizes: Int32Array,
    owner: string | undefined,
  ): boolean {
    this.#totals.messagesIn++;
    if (frameCount > 3) return this.#drop("frames");
    // A topic longer than its buffer is longer than any valid type: a bad topic, not a big message.
    if (sizes[0] > frames[0].length) return this.#drop("topic");
    let total = sizes[0];
    for (let i = 1; i < frames.length; i++) {
      if (sizes[i] > frames[i].length) return this.#drop("oversized");
      total += sizes[i];
    }
    // The limit is on all frames together (protocol.md, section 2): what goes on is then
    // what a receiver whose libzmq caps whole messages at the same limit takes.
    if (total > this.#config.maxMessageSize) return this.#drop("oversized");
    const parsed = parseMessage(frames);
    if (!parsed.ok) return this.#drop(parsed.reason);
    const { topic, header, count, body } = parsed.message;
    if (header) {
      const refused = this.#tracker.observe(header.source, topic, header.first, count, owner)
        .refused;
      if (refused) return this.#drop(refused);
    }
    this.#totals.eventsIn += count;
    this.#totals.bytesIn += body.length;
    const counters = this.#topicCounters(topic);
    counters.messages++;
    counters.events += count;
    counters.bytes += body.length;
    if (!this.#filter.passes(topic)) {
      counters.denied += count;
      this.#totals.denied += count;
      return false;
    }
    this.#totals.messagesOut++;
    this.#totals.eventsOut += count;
    return true;
  }

  /**
   * Publishes the position of every stream quiet for an interval but heard from
   * within `announceForMs`: a count-0 message under the stream's own source id,
   * as its emitter would send if it were still alive. A sink that lost the
   * stream's last messages (its queue was full when the source finished) counts
   * them when this reaches it, even after the source is gone.
   */
  #announce(): void {
    const intervalMs = this.#config.announceIntervalMs ?? 1000;
    const forMs = this.#config.announceForMs ?? 60_000;
    this.#tracker.forEachIdle(intervalMs, forMs, (source, topic, expected) => {
      if (!this.#filter.passes(topic)) return;
      const header = encodeHeader({ flags: 0, count: 0, source, first: expected });
      this.#relay.publish([this.#encoder.encode(topic), header, EMPTY]);
    });
  }

  #topicCounters(topic: string): TopicCounters {
    let counters = this.#topics.get(topic);
    if (counters === undefined) {
      if (this.#topics.size >= MAX_TOPICS) this.#topics.delete(this.#topics.keys().next().value!);
      counters = { messages: 0, events: 0, bytes: 0, denied: 0 };
      this.#topics.set(topic, counters);
    }
    return counters;
  }

  #drop(reason: DropReason): false {
    this.#malformed[reason] = (this.#malformed[reason] ?? 0) + 1;
    return false;
  }

  #onSubscription(subscribe: boolean, prefixBytes: Uint8Array): Uint8Array[] {
    const prefix = this.#decoder.decode(prefixBytes);
    const upstream = this.#filter.upstreamFor(prefix);
    const changed = subscribe ? this.#table.add(upstream) : this.#table.remove(upstream);
    return changed.map((text) => this.#encoder.encode(text));
  }

  #publishStats(fields: Record<string, number | string>, host: string): void {
    const event: Event = { ...fields, type: STATS_TOPIC, time: new Date(), host };
    this.#relay.publish(this.#builder.build(STATS_TOPIC, [event]));
  }

  /** A snapshot of the counters. */
  stats(): RouterStats {
    return {
      ...this.#totals,
      lost: this.#tracker.lost,
      duplicates: this.#tracker.duplicates,
      malformed: { ...this.#malformed },
      subscriptionsLost: this.#relay.subscriptionsLost,
      subscriptions: this.#table.active(),
      topics: Object.fromEntries(
        [...this.#topics].map(([topic, counters]) => [topic, { ...counters }]),
      ),
      streams: this.#tracker.streams(),
      refused: this.#relay.securityStats().refused,
      disconnects: this.#relay.disconnects,
      blockedMs: this.#relay.blockedMs,
    };
  }

  /** Flat counters, as in stats events. */
  counters(): Counters {
    return flatRouterCounters(this.stats());
  }

  /** Stops: prints a final stats line, then releases the sockets. */
  async close(): Promise<void> {
    this.#reporter.stop();
    clearInterval(this.#announceTimer);
    this.#reporter.report();
    await this.#relay.close();
  }
}
