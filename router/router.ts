/**
 * The router's run loop: the core Relay with topic policy, loss accounting and
 * stats.
 *
 * @module
 */
import {
  type Counters,
  type DropReason,
  type Event,
  localHostname,
  MessageBuilder,
  parseMessage,
  randomSourceId,
  Relay,
  SequenceTracker,
  StatsReporter,
} from "@eventstorm/core";
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
      receiveHwm: config.receiveHwm,
      curve: config.curve,
      allowKeys: config.allowKeys,
      onRefused: (refusal) => this.#refusalLog.note(refusal),
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

  /** Runs until `signal` aborts or {@linkcode Router.close} is called. */
  async run(signal?: AbortSignal): Promise<void> {
    signal?.addEventListener("abort", () => void this.close(), { once: true });
    this.#reporter.start();
    await this.#relay.run({
      message: (frames, frameCount, sizes) => this.#onMessage(frames, frameCount, sizes),
      subscription: (subscribe, prefix) => this.#onSubscription(subscribe, prefix),
    });
  }

  #onMessage(frames: readonly Uint8Array[], frameCount: number, sizes: Int32Array): boolean {
    this.#totals.messagesIn++;
    if (frameCount > 3) return this.#drop("frames");
    for (let i = 0; i < frames.length; i++) {
      if (sizes[i] > frames[i].length) return this.#drop("oversized");
    }
    const parsed = parseMessage(frames);
    if (!parsed.ok) return this.#drop(parsed.reason);
    const { topic, header, count, body } = parsed.message;
    this.#totals.eventsIn += count;
    this.#totals.bytesIn += body.length;
    const counters = this.#topicCounters(topic);
    counters.messages++;
    counters.events += count;
    counters.bytes += body.length;
    if (header) this.#tracker.observe(header.source, topic, header.first, count);
    if (!this.#filter.passes(topic)) {
      counters.denied += count;
      this.#totals.denied += count;
      return false;
    }
    this.#totals.messagesOut++;
    this.#totals.eventsOut += count;
    return true;
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
      subscriptions: this.#table.active(),
      topics: Object.fromEntries(
        [...this.#topics].map(([topic, counters]) => [topic, { ...counters }]),
      ),
      streams: this.#tracker.streams(),
      refused: this.#relay.securityStats().refused,
    };
  }

  /** Flat counters, as in stats events. */
  counters(): Counters {
    return flatRouterCounters(this.stats());
  }

  /** Stops: prints a final stats line, then releases the sockets. */
  async close(): Promise<void> {
    this.#reporter.stop();
    if (this.#config.statsIntervalMs > 0) this.#reporter.report();
    await this.#relay.close();
  }
}
