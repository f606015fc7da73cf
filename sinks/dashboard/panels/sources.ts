/**
 * The sources panel: which source (by stream id, named by its first host) lost
 * how many events in each frame, and a table of every source's stream counters.
 *
 * @module
 */
import type { CollectorStats } from "@eventstorm/core";
import type { SourceRow } from "../frame.ts";

interface SourceState {
  host: string | undefined;
  /** Cumulative lost as of the last tick, to turn into a per-frame count. */
  lostBefore: number;
  seen: number;
}

/** Options of {@linkcode SourcesPanel}. */
export interface SourcesPanelOptions {
  /** Sources tracked; the least recently seen is forgotten first. */
  maxSources: number;
  /** Cuts a string from an event to the dashboard's key length. */
  key: (text: string) => string;
}

/** Tracks sources by stream id, keyed in maps (any host name is a plain key). */
export class SourcesPanel {
  readonly #options: SourcesPanelOptions;
  readonly #sources = new Map<string, SourceState>();

  /** A panel with no sources yet. */
  constructor(options: SourcesPanelOptions) {
    this.#options = options;
  }

  /** Notes that `source` (decimal stream id) sent events at `now`, from `host`. */
  saw(source: string, host: unknown, now: number): void {
    let state = this.#sources.get(source);
    if (state === undefined) {
      if (this.#sources.size >= this.#options.maxSources) this.#forgetOldest();
      state = { host: undefined, lostBefore: 0, seen: 0 };
      this.#sources.set(source, state);
    }
    if (state.host === undefined && typeof host === "string") state.host = this.#options.key(host);
    state.seen = now;
  }

  /** Events each source lost since the last call, by label, from the collector's streams. */
  lostSince(wire: CollectorStats, now: number): Map<string, number> {
    const lost = new Map<string, number>();
    const lostBySource = new Map<string, number>();
    for (const stream of wire.streams) {
      lostBySource.set(stream.source, (lostBySource.get(stream.source) ?? 0) + stream.lost);
    }
    for (const [source, total] of lostBySource) {
      let state = this.#sources.get(source);
      if (state === undefined) {
        if (total === 0) continue;
        // A source that only ever lost (every message gone) is still shown.
        if (this.#sources.size >= this.#options.maxSources) this.#forgetOldest();
        state = { host: undefined, lostBefore: 0, seen: now };
        this.#sources.set(source, state);
      }
      const delta = total - state.lostBefore;
      state.lostBefore = total;
      if (delta > 0) {
        const label = this.#label(source, state);
        lost.set(label, (lost.get(label) ?? 0) + delta);
      }
    }
    return lost;
  }

  /** One row per known source, the ones that lost most first. */
  rows(wire: CollectorStats): SourceRow[] {
    const bySource = new Map<string, SourceRow>();
    for (const stream of wire.streams) {
      let row = bySource.get(stream.source);
      if (row === undefined) {
        const state = this.#sources.get(stream.source);
        if (state === undefined) continue;
        row = {
          label: this.#label(stream.source, state),
          source: BigInt(stream.source).toString(16),
          topics: [],
          received: 0,
          lost: 0,
          duplicates: 0,
          malformed: 0,
        };
        bySource.set(stream.source, row);
      }
      if (row.topics.length < 8) row.topics.push(stream.topic);
      row.received += stream.received;
      row.lost += stream.lost;
      row.duplicates += stream.duplicates;
      row.malformed += stream.malformed;
    }
    return [...bySource.values()].sort((a, b) => b.lost - a.lost || b.received - a.received);
  }

  #label(source: string, state: SourceState | undefined): string {
    const hex = BigInt(source).toString(16).padStart(6, "0").slice(-6);
    return state?.host === undefined ? `source ${hex}` : `${state.host} (${hex})`;
  }

  #forgetOldest(): void {
    let oldest: string | undefined;
    let oldestSeen = Infinity;
    for (const [key, state] of this.#sources) {
      if (state.seen < oldestSeen) {
        oldest = key;
        oldestSeen = state.seen;
      }
    }
    if (oldest !== undefined) this.#sources.delete(oldest);
  }
}
