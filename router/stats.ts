/**
 * What the router counts, per topic and in total, without decoding any BSON:
 * the header carries the event count.
 *
 * @module
 */
import { type Counters, formatBytes, formatCount, rate } from "@eventstorm/core/cli";
import type { HandshakeFailure } from "@eventstorm/core";
import type { DropReason, StreamCounters } from "@eventstorm/core";

/** Counters of one topic. */
export interface TopicCounters {
  /** Messages received on the topic. */
  messages: number;
  /** Events received on the topic. */
  events: number;
  /** Body bytes received on the topic. */
  bytes: number;
  /** Events refused by allow/deny. */
  denied: number;
}

/** A snapshot of the router's counters. */
export interface RouterStats {
  /** Messages received from sources, valid or not. */
  messagesIn: number;
  /** Events in valid messages received. */
  eventsIn: number;
  /** Body bytes of valid messages received. */
  bytesIn: number;
  /** Messages forwarded to sinks. */
  messagesOut: number;
  /** Events forwarded to sinks. */
  eventsOut: number;
  /** Events refused by allow/deny. */
  denied: number;
  /** Events the stream indexes say never reached the router. */
  lost: number;
  /** Replayed events seen (forwarded: sinks skip them). */
  duplicates: number;
  /** Malformed messages dropped, by reason. */
  malformed: Partial<Record<DropReason, number>>;
  /** Upstream subscription changes given up (see `MAX_PENDING_SUBSCRIPTIONS`); 0 normally. */
  subscriptionsLost: number;
  /** Upstream subscriptions in force. */
  subscriptions: string[];
  /** Per-topic counters. */
  topics: Record<string, TopicCounters>;
  /** Per-stream counters of what reached the router. */
  streams: StreamCounters[];
  /** CURVE handshakes refused, by reason (all 0 without CURVE). */
  refused: Record<HandshakeFailure, number>;
  /**
   * Source connections that ended: sources that went away, and peers libzmq cut
   * off for a frame over 1.25 times the message size limit (it tells no reason).
   */
  disconnects: number;
  /**
   * Milliseconds spent waiting, in all, with a message a full sink queue could not
   * take yet (`--when-full block`; 0 otherwise).
   */
  blockedMs: number;
}

/**
 * The flat counters of a snapshot, as stats event fields.
 *
 * @example
 * ```ts
 * import { flatRouterCounters } from "@eventstorm/router";
 * flatRouterCounters({ messagesIn: 1, eventsIn: 5, bytesIn: 9, messagesOut: 1, eventsOut: 5, denied: 0,
 *   lost: 0, duplicates: 0, malformed: {}, subscriptionsLost: 0, subscriptions: [], topics: {}, streams: [],
 *   refused: { unknown_key: 0, bad_handshake: 0, plaintext_peer: 0 }, disconnects: 0,
 *   blockedMs: 0 }).received; // 5
 * ```
 */
export function flatRouterCounters(stats: RouterStats): Counters {
  const malformed = Object.values(stats.malformed).reduce((sum, n) => sum + (n ?? 0), 0);
  const counters: Counters = {
    messages_in: stats.messagesIn,
    received: stats.eventsIn,
    bytes: stats.bytesIn,
    messages_out: stats.messagesOut,
    sent: stats.eventsOut,
    denied: stats.denied,
    lost: stats.lost,
    duplicates: stats.duplicates,
    malformed,
    subscriptions_lost: stats.subscriptionsLost,
    disconnects: stats.disconnects,
    blocked_ms: stats.blockedMs,
    topics: Object.keys(stats.topics).length,
    streams: stats.streams.length,
  };
  for (const [reason, count] of Object.entries(stats.malformed)) {
    counters[`malformed_${reason}`] = count ?? 0;
  }
  let refused = 0;
  for (const [reason, count] of Object.entries(stats.refused ?? {})) {
    counters[`refused_${reason}`] = count;
    refused += count;
  }
  counters.refused = refused;
  return counters;
}

/**
 * One readable stats line from two snapshots of flat counters.
 *
 * @example
 * ```ts
 * import { formatRouterLine } from "@eventstorm/router";
 * formatRouterLine({ received: 2000, sent: 2000, bytes: 4096, lost: 0, denied: 0, malformed: 0 },
 *   { received: 0, sent: 0, bytes: 0 }, 1000);
 * // "router: in 2.00k ev/s (4.0KiB/s), out 2.00k ev/s; total in 2.00k out 2.00k, lost 0, denied 0, malformed 0"
 * ```
 */
export function formatRouterLine(current: Counters, previous: Counters, elapsedMs: number): string {
  const inRate = rate(current.received, previous.received ?? 0, elapsedMs);
  const outRate = rate(current.sent, previous.sent ?? 0, elapsedMs);
  const byteRate = rate(current.bytes, previous.bytes ?? 0, elapsedMs);
  return `router: in ${formatCount(inRate)} ev/s (${formatBytes(byteRate)}/s), out ${
    formatCount(outRate)
  } ev/s; ` +
    `total in ${formatCount(current.received)} out ${formatCount(current.sent)}, ` +
    `lost ${current.lost}, denied ${current.denied}, malformed ${current.malformed}` +
    oversizedPart(current) +
    // Replays (a restarted source, a second path) are forwarded; sinks skip them.
    (current.duplicates ? `, duplicates ${current.duplicates}` : "") +
    refusedPart(current) +
    (current.disconnects ? `, disconnects ${current.disconnects}` : "") +
    // The time the slowest sink held everything up (--when-full block).
    (current.blocked_ms ? `, blocked ${(Number(current.blocked_ms) / 1000).toFixed(1)}s` : "");
}

/** Oversized messages are named: they are what a sender's size bug looks like. */
function oversizedPart(current: Counters): string {
  return current.malformed_oversized ? ` (oversized ${current.malformed_oversized})` : "";
}

function refusedPart(current: Counters): string {
  if (!current.refused) return "";
  const parts = ["unknown_key", "bad_handshake", "plaintext_peer"]
    .filter((reason) => Number(current[`refused_${reason}`] ?? 0) > 0)
    .map((reason) => `${reason} ${current[`refused_${reason}`]}`);
  return `, refused ${current.refused} (${parts.join(", ")})`;
}
