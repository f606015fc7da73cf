// @ts-check
/// <reference lib="dom" />
// The tables: top lists over the window, sources with their losses, hosts.
import { matchesTopic } from "./charts.js";
import { $, el, table } from "./dom.js";
import { fmtAgo, fmtBytes, fmtDuration, fmtInt, fmtPercent } from "./format.js";

/** @typedef {import("../frame.ts").DashboardState} DashboardState */
/** @typedef {import("../top_n.ts").TopRow} TopRow */

/**
 * A row that says the table is empty.
 * @param {number} columns
 * @param {string} text
 */
function emptyRow(columns, text) {
  const row = el("tr", "none");
  const cell = el("td", "", text);
  cell.colSpan = columns;
  row.append(cell);
  return row;
}

/**
 * A top list with bars.
 * @param {string} id
 * @param {TopRow[]} rows
 * @param {string} emptyText
 */
function renderTop(id, rows, emptyText) {
  const body = table(id).tBodies[0];
  if (!rows.length) {
    body.replaceChildren(emptyRow(2, emptyText));
    return;
  }
  const max = rows[0][1] || 1;
  body.replaceChildren(...rows.map(([key, count]) => {
    const row = el("tr");
    const cell = el("td", "key");
    const bar = el("span", "bar");
    bar.style.width = `${Math.max(1, (count / max) * 100)}%`;
    const text = el("span", "text", key);
    cell.title = key;
    cell.append(bar, text);
    row.append(cell, el("td", "num", fmtInt(count)));
    return row;
  }));
}

/**
 * A bar that turns amber at 75 % and red at 90 %.
 * @param {number | null} value
 */
function meter(value) {
  const outer = el(
    "span",
    "meter" + (value != null && value >= 90 ? " bad" : value != null && value >= 75 ? " warn" : ""),
  );
  const inner = el("span");
  inner.style.width = `${Math.min(100, Math.max(0, value ?? 0))}%`;
  outer.append(inner);
  return outer;
}

/**
 * A percentage with its meter.
 * @param {number | null} value
 * @param {string} [where]
 */
function percentCell(value, where) {
  const cell = el("td", "num");
  if (where) cell.append(el("span", "where", where));
  cell.append(fmtPercent(value));
  if (value != null) cell.append(meter(value));
  return cell;
}

/**
 * Every table, from the latest state.
 * @param {DashboardState} state
 * @param {string[]} filters
 * @param {boolean} history whether earlier minutes come from a store
 */
export function renderTables(state, filters, history) {
  const window = `last ${fmtDuration(state.windowMs)}`;
  for (const hint of document.querySelectorAll(".hint.window")) hint.textContent = window;
  renderTop("table-paths", state.top.paths, "no requests in the " + window);
  renderTop("table-clients", state.top.clients, "no requests in the " + window);
  renderTop("table-agents", state.top.agents, "no user agents in the " + window);
  renderTop("table-offenders", state.top.sshAddresses, "no failed logins in the " + window);

  const sources = state.sources.filter((s) => s.topics.some((t) => matchesTopic(filters, t)));
  table("table-sources").tBodies[0].replaceChildren(
    ...(sources.length ? sources : [null]).map((s) => {
      if (s === null) return emptyRow(6, "no sources seen yet");
      const row = el("tr");
      row.append(
        el("td", "", s.label),
        el("td", "muted", s.topics.join(", ")),
        el("td", "num", fmtInt(s.received)),
        el("td", "num" + (s.lost > 0 ? " lost" : ""), fmtInt(s.lost)),
        el("td", "num", fmtInt(s.duplicates)),
        el("td", "num" + (s.malformed > 0 ? " lost" : ""), fmtInt(s.malformed)),
      );
      return row;
    }),
  );

  table("table-hosts").tBodies[0].replaceChildren(
    ...(state.hosts.length ? state.hosts : [null]).map((h) => {
      if (h === null) return emptyRow(7, "no host metrics yet");
      const row = el("tr");
      const net = h.rxBytes == null ? "–" : `${fmtBytes(h.rxBytes)}/s · ${fmtBytes(h.txBytes)}/s`;
      row.append(
        el("td", "", h.host),
        percentCell(h.cpu),
        percentCell(h.mem),
        percentCell(h.disk, h.diskMount ?? ""),
        el("td", "num", h.load1 == null ? "–" : h.load1.toFixed(2)),
        el("td", "num", net),
        el("td", "num muted", fmtAgo(state.now - h.seen)),
      );
      return row;
    }),
  );
  $("since").textContent = `receiving since ${new Date(state.startedAt).toLocaleString()}` +
    (history ? " · earlier minutes from the event store" : "");
}
