/**
 * `eventstorm tap --top`: a refreshing table of topics, rates and losses.
 *
 * @module
 */
import type { CollectorStats } from "@eventstorm/core";
import { formatCount } from "@eventstorm/core/cli";

interface TopicRow {
  topic: string;
  received: number;
  lost: number;
  duplicates: number;
  sources: number;
}

function topicRows(stats: CollectorStats): Map<string, TopicRow> {
  const rows = new Map<string, TopicRow>();
  for (const stream of stats.streams) {
    const row = rows.get(stream.topic) ??
      { topic: stream.topic, received: 0, lost: 0, duplicates: 0, sources: 0 };
    row.received += stream.received;
    row.lost += stream.lost;
    row.duplicates += stream.duplicates;
    row.sources++;
    rows.set(stream.topic, row);
  }
  return rows;
}

/**
 * The table of topics between two collector snapshots, busiest first: rate,
 * totals, loss (with its share of what was sent) and number of sources.
 *
 * @example
 * ```ts ignore
 * console.log(formatTopTable(collector.stats(), previous, 1000));
 * ```
 */
export function formatTopTable(
  current: CollectorStats,
  previous: CollectorStats | undefined,
  elapsedMs: number,
): string {
  const now = topicRows(current);
  const before = previous ? topicRows(previous) : new Map<string, TopicRow>();
  const rows = [...now.values()].map((row) => ({
    ...row,
    rate: elapsedMs > 0
      ? ((row.received - (before.get(row.topic)?.received ?? 0)) * 1000) / elapsedMs
      : 0,
  })).sort((a, b) => b.rate - a.rate || b.received - a.received);
  const header = ["TOPIC", "EV/S", "RECEIVED", "LOST", "LOSS %", "DUPLICATES", "SOURCES"];
  const table = rows.map((row) => [
    row.topic,
    formatCount(row.rate),
    String(row.received),
    String(row.lost),
    row.lost + row.received > 0 ? (row.lost * 100 / (row.lost + row.received)).toFixed(2) : "0.00",
    String(row.duplicates),
    String(row.sources),
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...table.map((cells) => cells[i].length))
  );
  const line = (cells: string[]) =>
    cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join("  ");
  const malformed = Object.entries(current.malformed).map(([reason, count]) => `${reason} ${count}`)
    .join(", ");
  return [
    line(header),
    ...table.map(line),
    "",
    `total ${current.events} events, lost ${current.lost}, duplicates ${current.duplicates}, ` +
    `malformed ${malformed || "0"}, unaccounted ${current.unaccounted}`,
  ].join("\n");
}
