// @ts-check
/// <reference lib="dom" />
// The dashboard page. Everything drawn here comes aggregated from the sink over
// one WebSocket: a hello with the kept frames and the tables, then a frame and
// the tables each tick. Every string that came from an event is put on the page
// as text (textContent or uPlot's labels, which use textContent), never as HTML.
import {
  renderHosts,
  renderHttp,
  renderMail,
  renderPipeline,
  renderSsh,
  renderTiles,
} from "./charts.js";
import { $ } from "./dom.js";
import { applyRollups, trimFrames, visibleFrames } from "./series.js";
import { renderTables } from "./tables.js";

/** @typedef {import("../frame.ts").Frame} Frame */
/** @typedef {import("../frame.ts").DashboardState} DashboardState */
/** @typedef {{ historyMs: number, windowMs: number, tickMs: number, history?: boolean }} Config */

/** @type {Frame[]} */
let frames = [];
/** @type {Config} */
let config = { historyMs: 3_600_000, windowMs: 60_000, tickMs: 1000 };
/** @type {DashboardState | undefined} */
let state;
/** Seconds shown; 0 for everything kept (since start, or the history from a store). */
let rangeSeconds = 0;
/** @type {string[]} */
let filters = [];
let lastMessageAt = 0;
let renderQueued = false;

/**
 * A section shows when a filter names its topic or something under it.
 * @param {string} prefix
 */
function sectionWanted(prefix) {
  if (prefix === "" || filters.length === 0) return true;
  return filters.some((f) => prefix.startsWith(f) || f.startsWith(prefix));
}

function render() {
  renderQueued = false;
  const list = visibleFrames(frames, rangeSeconds);
  const last = list[list.length - 1];
  const end = last ? last.t / 1000 + last.dt : Date.now() / 1000;
  const span = rangeSeconds > 0 ? rangeSeconds : Math.max(30, end - (list[0]?.t ?? 0) / 1000);
  /** @type {import("./charts.js").View} */
  const view = {
    list,
    x: list.map((f) => f.t / 1000),
    seconds: [end - span, end],
    minutes: [Math.floor((end - span) / 60) * 60, Math.ceil(end / 60) * 60],
    filters,
    state,
  };
  renderTiles(view);
  renderPipeline(view);
  renderHttp(view);
  renderMail(view);
  renderSsh(view);
  renderHosts(view);
  if (state) renderTables(state, filters, config.history === true);
}

function queueRender() {
  if (!renderQueued) {
    renderQueued = true;
    requestAnimationFrame(render);
  }
}

// ---- sections and controls --------------------------------------------

function applyFilters() {
  const text = /** @type {HTMLInputElement} */ ($("topic-filter")).value.trim();
  filters = text ? text.split(/[\s,]+/).filter(Boolean) : [];
  for (const section of document.querySelectorAll("section[data-topic]")) {
    const topic = /** @type {HTMLElement} */ (section).dataset.topic ?? "";
    section.classList.toggle("hidden", !sectionWanted(topic));
  }
  queueRender();
}

$("topic-filter").addEventListener("input", applyFilters);
$("range").addEventListener("change", () => {
  rangeSeconds = Number(/** @type {HTMLSelectElement} */ ($("range")).value) || 0;
  queueRender();
});

// ---- connection --------------------------------------------------------

/**
 * @param {"live" | "down" | "stale"} kind
 * @param {string} text
 */
function setStatus(kind, text) {
  const status = $("status");
  status.className = "status " + kind;
  status.textContent = text;
}

const decoder = new TextDecoder();
let retry = 500;
function connect() {
  const token = new URLSearchParams(location.search).get("token");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${location.host}/ws` +
    (token ? `?token=${encodeURIComponent(token)}` : "");
  const socket = new WebSocket(url);
  // The hello comes as UTF-8 bytes (the sink sends its cached blocks, not a string of its own).
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    retry = 500;
    setStatus("live", "live");
  };
  socket.onmessage = (message) => {
    let data;
    try {
      data = JSON.parse(
        typeof message.data === "string" ? message.data : decoder.decode(message.data),
      );
    } catch {
      return;
    }
    lastMessageAt = Date.now();
    if (data.type === "hello") {
      config = data.config;
      frames = data.frames;
      state = data.state;
    } else if (data.type === "frame") {
      frames.push(data.frame);
      if (data.rollup) applyRollups(frames, data.rollup);
      state = data.state;
      trimFrames(frames, config.historyMs);
    }
    setStatus("live", "live");
    queueRender();
  };
  socket.onclose = () => {
    setStatus("down", "disconnected — retrying");
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10_000);
  };
}

setInterval(() => {
  if (lastMessageAt && Date.now() - lastMessageAt > 3 * (config.tickMs ?? 1000) + 1000) {
    if ($("status").classList.contains("live")) setStatus("stale", "no update for a while");
  }
}, 1000);

applyFilters();
connect();
