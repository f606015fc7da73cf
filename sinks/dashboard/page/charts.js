// @ts-check
/// <reference lib="dom" />
// The charts of each section, drawn from the frames in the chosen range.
import { chart, PALETTE } from "./chart.js";
import { $ } from "./dom.js";
import { fmtCount, fmtInt } from "./format.js";
import { perMinute, rankNames } from "./series.js";

/** @typedef {import("../frame.ts").Frame} Frame */
/** @typedef {import("../frame.ts").DashboardState} DashboardState */
/** @typedef {import("./chart.js").Series} Series */

/**
 * What every section draws from.
 * @typedef {object} View
 * @property {Frame[]} list the frames in the chosen range
 * @property {number[]} x their times, in seconds
 * @property {[number, number]} seconds the x range of the per-second charts
 * @property {[number, number]} minutes the x range of the per-minute charts
 * @property {string[]} filters topic prefixes typed in the filter box
 * @property {DashboardState | undefined} state the tables and totals
 */

const STATUS = [
  ["1xx", "#8b949e"],
  ["2xx", "#3fb950"],
  ["3xx", "#58a6ff"],
  ["4xx", "#d29922"],
  ["5xx", "#f85149"],
  ["no status", "#a371f7"],
];
const MAX_SERIES = 10;

/**
 * Whether `topic` passes the filter box.
 * @param {string[]} filters
 * @param {string} topic
 */
export function matchesTopic(filters, topic) {
  return filters.length === 0 || filters.some((f) => topic.startsWith(f));
}

/**
 * The header tiles: rate, totals, loss.
 * @param {View} view
 */
export function renderTiles(view) {
  const last = view.list[view.list.length - 1];
  if (last) {
    let sum = 0;
    for (const [topic, n] of Object.entries(last.topics)) {
      if (matchesTopic(view.filters, topic)) sum += n;
    }
    $("rate").textContent = fmtCount(sum / last.dt);
  }
  $("rate-label").textContent = view.filters.length ? "Events / s (filtered)" : "Events / s";
  const state = view.state;
  if (!state) return;
  $("total-events").textContent = fmtInt(state.totals.events);
  $("lost-total").textContent = fmtInt(state.totals.lost);
  $("lost-tile").classList.toggle("alert", state.totals.lost > 0);
  $("bad-total").textContent = fmtInt(state.totals.malformed) + " · " +
    fmtInt(state.totals.rejected);
}

/**
 * Events per topic, and events lost per source.
 * @param {View} view
 */
export function renderPipeline(view) {
  const { list, x } = view;
  const topics = rankNames(
    list,
    (f) => Object.keys(f.topics).filter((topic) => matchesTopic(view.filters, topic)),
    (f, t) => f.topics[t],
  );
  const shown = topics.slice(0, MAX_SERIES);
  const rest = topics.slice(MAX_SERIES);
  /** @type {Series[]} */
  const series = shown.map((topic, i) => ({
    label: topic,
    color: PALETTE[i % PALETTE.length],
    values: list.map((f) => (f.topics[topic] ?? 0) / f.dt),
  }));
  if (rest.length) {
    series.push({
      label: `${rest.length} more topics`,
      color: "#6e7681",
      dash: [4, 3],
      values: list.map((f) => rest.reduce((s, t) => s + (f.topics[t] ?? 0), 0) / f.dt),
    });
  }
  if (series.length === 0) {
    series.push({ label: "events", color: PALETTE[0], values: list.map(() => 0) });
  }
  chart("chart-topics").update(
    x,
    series,
    topics.length ? undefined : { text: "no events in this range yet" },
    view.seconds,
  );

  const sources = rankNames(list, (f) => Object.keys(f.lost), (f, s) => f.lost[s]);
  /** @type {Series[]} */
  const lostSeries = [{
    label: "all sources",
    color: "#f85149",
    width: 2,
    values: list.map((f) => f.lostAll / f.dt),
  }];
  sources.slice(0, MAX_SERIES - 1).forEach((source, i) =>
    lostSeries.push({
      label: source,
      color: PALETTE[(i + 2) % PALETTE.length],
      values: list.map((f) => (f.lost[source] ?? 0) / f.dt),
    })
  );
  const anyLost = list.some((f) => f.lostAll > 0);
  chart("chart-lost").update(
    x,
    lostSeries,
    anyLost ? undefined : { text: "no events lost in this range", good: true },
    view.seconds,
  );
}

/**
 * Requests by status class, latency percentiles, bytes.
 * @param {View} view
 */
export function renderHttp(view) {
  const { list, x } = view;
  const status = STATUS.map(([label, color], i) => ({
    label,
    color,
    values: list.map((f) => f.http.status[i] / f.dt),
  })).filter((s, i) => i < 5 || s.values.some((v) => v > 0));
  const requests = list.some((f) => f.http.requests > 0);
  const none = requests ? undefined : { text: "no http.hit events in this range" };
  chart("chart-status").update(x, status, none, view.seconds);
  const latency = [["p50", "#3fb950"], ["p95", "#d29922"], ["p99", "#f85149"]].map((
    [label, color],
    i,
  ) => ({
    label,
    color,
    values: list.map((f) => (f.http.latencyMs ? f.http.latencyMs[i] : null)),
  }));
  chart("chart-latency").update(x, latency, none, view.seconds);
  chart("chart-bytes").update(
    x,
    [{
      label: "body bytes",
      color: "#39c5cf",
      fill: "#39c5cf22",
      values: list.map((f) => f.http.bytes / f.dt),
    }],
    none,
    view.seconds,
  );
}

/**
 * Mail per minute: delivered, deferred, bounced, rejected.
 * @param {View} view
 */
export function renderMail(view) {
  const names = [
    ["delivered", "#3fb950"],
    ["deferred", "#d29922"],
    ["bounced", "#f85149"],
    ["rejected", "#a371f7"],
  ];
  const { x, columns } = perMinute(
    view.list,
    (f) => [f.mail.delivered, f.mail.deferred, f.mail.bounced, f.mail.rejected],
    4,
  );
  const any = columns.some((c) => c.some((v) => v > 0));
  chart("chart-mail", { stepped: true }).update(
    x,
    names.map(([label, color], i) => ({ label, color, values: columns[i] })),
    any ? undefined : { text: "no mail events in this range" },
    view.minutes,
  );
}

/**
 * Failed SSH logins per minute.
 * @param {View} view
 */
export function renderSsh(view) {
  const { x, columns } = perMinute(view.list, (f) => [f.ssh.failed, f.ssh.invalid], 2);
  const any = columns.some((c) => c.some((v) => v > 0));
  chart("chart-ssh", { stepped: true }).update(
    x,
    [
      { label: "failed password / key", color: "#f85149", fill: "#f8514922", values: columns[0] },
      { label: "invalid or disallowed user", color: "#d29922", values: columns[1] },
    ],
    any ? undefined : { text: "no failed logins in this range" },
    view.minutes,
  );
}

/**
 * CPU, memory and disk per host.
 * @param {View} view
 */
export function renderHosts(view) {
  const { list, x } = view;
  /** @type {[string, "cpu" | "mem" | "disk"][]} */
  const metrics = [["chart-cpu", "cpu"], ["chart-mem", "mem"], ["chart-disk", "disk"]];
  for (const [id, metric] of metrics) {
    const hosts = rankNames(
      list,
      (f) => Object.keys(f.hosts).filter((h) => f.hosts[h][metric] != null),
      () => 1,
    ).sort().slice(0, MAX_SERIES);
    /** @type {Series[]} */
    const series = hosts.map((host, i) => ({
      label: host,
      color: PALETTE[i % PALETTE.length],
      values: list.map((f) => f.hosts[host]?.[metric] ?? null),
    }));
    if (series.length === 0) series.push({ label: "hosts", color: PALETTE[0], values: [] });
    chart(id, { max: 100, spanGaps: true }).update(
      hosts.length ? x : [],
      series,
      hosts.length ? undefined : { text: "no host metrics in this range" },
      view.seconds,
    );
  }
}
