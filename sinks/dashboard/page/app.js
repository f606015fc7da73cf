// The dashboard page. Everything drawn here comes aggregated from the sink; every
// string that came from an event (paths, addresses, agents, hosts, topics) is put
// on the page as text (textContent or uPlot's labels, which use textContent),
// never as HTML.
"use strict";

(() => {
  const PALETTE = [
    "#58a6ff",
    "#3fb950",
    "#d29922",
    "#f778ba",
    "#a371f7",
    "#39c5cf",
    "#ff7b72",
    "#e3b341",
    "#79c0ff",
    "#56d364",
    "#db61a2",
    "#8b949e",
  ];
  const STATUS = [
    ["1xx", "#8b949e"],
    ["2xx", "#3fb950"],
    ["3xx", "#58a6ff"],
    ["4xx", "#d29922"],
    ["5xx", "#f85149"],
    ["no status", "#a371f7"],
  ];
  const MAX_SERIES = 10;
  // Axis steps for bytes land on 1, 2, 5 × powers of 1024, so labels read 512 KiB, 1 MiB.
  const BYTE_INCREMENTS = [0, 1, 2, 3, 4].flatMap((power) =>
    [1, 2, 5, 10, 20, 50, 100, 200, 500].map((step) => step * 1024 ** power)
  );

  const $ = (id) => document.getElementById(id);

  /** An element with a class and text; text is always text. */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  // ---- formatting --------------------------------------------------------

  function fmtCount(value) {
    if (value == null || !Number.isFinite(value)) return "–";
    const abs = Math.abs(value);
    if (abs === 0) return "0";
    if (abs < 10) return String(Math.round(value * 100) / 100);
    if (abs < 1000) return String(Math.round(value * 10) / 10);
    if (abs < 1e6) return (value / 1e3).toFixed(abs < 1e4 ? 2 : 1) + "k";
    if (abs < 1e9) return (value / 1e6).toFixed(abs < 1e7 ? 2 : 1) + "M";
    return (value / 1e9).toFixed(2) + "G";
  }

  function fmtInt(value) {
    return value == null ? "–" : Math.round(value).toLocaleString("en-US");
  }

  function fmtBytes(value) {
    if (value == null || !Number.isFinite(value)) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let unit = 0;
    while (Math.abs(value) >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return (unit === 0 ? Math.round(value) : value.toFixed(1)) + " " + units[unit];
  }

  function fmtMs(value) {
    if (value == null) return "–";
    if (value >= 1000) return (value / 1000).toFixed(value >= 10_000 ? 0 : 2) + " s";
    return (value >= 100 ? Math.round(value) : Math.round(value * 10) / 10) + " ms";
  }

  function fmtPercent(value) {
    return value == null ? "–" : value.toFixed(1) + " %";
  }

  function fmtAgo(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    return Math.round(s / 3600) + " h ago";
  }

  function fmtDuration(ms) {
    const s = Math.round(ms / 1000);
    return s % 3600 === 0 && s >= 3600
      ? s / 3600 + " h"
      : s % 60 === 0 && s >= 60
      ? s / 60 + " min"
      : s + " s";
  }

  const UNIT_FORMAT = {
    "events/s": (v) => fmtCount(v) + "/s",
    "req/s": (v) => fmtCount(v) + "/s",
    "B/s": (v) => fmtBytes(v) + "/s",
    "ms": fmtMs,
    "%": (v) => (v == null ? "–" : Math.round(v) + " %"),
    "per min": (v) => fmtCount(v),
  };

  // ---- state -------------------------------------------------------------

  let frames = [];
  let config = { historyMs: 3_600_000, windowMs: 60_000, tickMs: 1000 };
  let state;
  /** Seconds shown; 0 for everything kept (since start, or the history from a store). */
  let rangeSeconds = 0;
  let filters = [];
  let lastMessageAt = 0;
  let renderQueued = false;

  function matchesTopic(topic) {
    if (filters.length === 0) return true;
    return filters.some((f) => topic.startsWith(f));
  }

  /** A section shows when a filter names its topic or something under it. */
  function sectionWanted(prefix) {
    if (prefix === "" || filters.length === 0) return true;
    return filters.some((f) => prefix.startsWith(f) || f.startsWith(prefix));
  }

  // ---- charts ------------------------------------------------------------

  class Chart {
    constructor(element, options = {}) {
      this.element = element;
      this.unit = element.dataset.unit;
      this.format = UNIT_FORMAT[this.unit] ?? fmtCount;
      this.options = options;
      this.key = undefined;
      this.plot = undefined;
      this.note = el("div", "empty");
      element.append(this.note);
      new ResizeObserver(() => this.resize()).observe(element);
    }

    size() {
      return { width: Math.max(200, this.element.clientWidth), height: 190 };
    }

    resize() {
      if (!this.plot) return;
      const { width, height } = this.size();
      if (Math.abs(this.plot.width - width) > 1) this.plot.setSize({ width, height });
    }

    /**
     * `series`: [{ label, color, values, dash? }]; rebuilt when the labels change.
     * `range`: [start, end] of the x axis in seconds, so that every chart shows
     * the chosen time range even when it has few points.
     */
    update(x, series, note, range) {
      const key = series.map((s) => s.label + "\u0000" + s.color).join("\u0001");
      const data = [x, ...series.map((s) => s.values)];
      this.range = range;
      if (key !== this.key || !this.plot) {
        this.plot?.destroy();
        this.plot = new uPlot(this.build(series), data, this.element);
        this.element.append(this.note);
        this.key = key;
      } else {
        this.plot.setData(data);
      }
      this.note.textContent = note?.text ?? "";
      this.note.className = "empty" + (note?.good ? " good" : "");
    }

    build(series) {
      const format = this.format;
      const stepped = this.options.stepped;
      const axis = {
        stroke: "#8b949e",
        grid: { stroke: "#21262d", width: 1 },
        ticks: { stroke: "#30363d", width: 1 },
        font: "11px system-ui, sans-serif",
      };
      return {
        ...this.size(),
        cursor: { drag: { x: false, y: false, setScale: false } },
        scales: {
          x: { time: true, range: (_u, min, max) => this.range ?? [min, max] },
          y: {
            range: (_u, _min, max) => {
              const top = this.options.max ?? (max > 0 ? max * 1.15 : 1);
              return [0, top];
            },
          },
        },
        legend: { live: true },
        axes: [
          axis,
          {
            ...axis,
            // Wide enough for the longest label, so units are never cut off.
            size: (_u, values) =>
              values ? Math.max(40, ...values.map((v) => v.length * 6.6 + 16)) : 40,
            incrs: this.unit === "B/s" ? BYTE_INCREMENTS : undefined,
            values: (_u, splits) => splits.map((v) => format(v)),
          },
        ],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: s.width ?? 1.6,
            dash: s.dash,
            fill: s.fill,
            spanGaps: this.options.spanGaps ?? false,
            points: { show: stepped ? undefined : false, size: 4 },
            paths: stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
            value: (_u, v) => format(v),
          })),
        ],
      };
    }
  }

  const charts = {};
  function chart(id, options) {
    charts[id] ??= new Chart($(id), options);
    return charts[id];
  }

  // ---- building series from frames ---------------------------------------

  function visibleFrames() {
    if (frames.length === 0 || rangeSeconds === 0) return frames.slice();
    const end = frames[frames.length - 1].t;
    const start = end - rangeSeconds * 1000;
    let i = frames.length - 1;
    while (i > 0 && frames[i - 1].t >= start) i--;
    return frames.slice(i);
  }

  /** Names ranked by `weight(frame, name)` summed over `list`, top `MAX_SERIES`. */
  function rankNames(list, names, weight) {
    const totals = new Map();
    for (const frame of list) {
      for (const name of names(frame)) {
        totals.set(name, (totals.get(name) ?? 0) + (weight(frame, name) ?? 0));
      }
    }
    return [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([n]) => n);
  }

  function perMinute(list, read, count) {
    const buckets = new Map();
    for (const frame of list) {
      const minute = Math.floor(frame.t / 60_000) * 60;
      let sums = buckets.get(minute);
      if (!sums) buckets.set(minute, sums = new Array(count).fill(0));
      const values = read(frame);
      for (let i = 0; i < count; i++) sums[i] += values[i];
    }
    const x = [...buckets.keys()];
    const columns = Array.from({ length: count }, (_, i) => x.map((m) => buckets.get(m)[i]));
    if (x.length) {
      // Steps hold a value until the next point: one more closes the current minute.
      x.push(x[x.length - 1] + 60);
      for (const column of columns) column.push(column[column.length - 1]);
    }
    return { x, columns };
  }

  /** The x range of the per-second charts, and of the per-minute ones. */
  let secondsRange;
  let minutesRange;

  function render() {
    renderQueued = false;
    const list = visibleFrames();
    const x = list.map((f) => f.t / 1000);
    const last = list[list.length - 1];
    const end = last ? last.t / 1000 + last.dt : Date.now() / 1000;
    const span = rangeSeconds > 0 ? rangeSeconds : Math.max(30, end - (list[0]?.t ?? 0) / 1000);
    secondsRange = [end - span, end];
    minutesRange = [Math.floor((end - span) / 60) * 60, Math.ceil(end / 60) * 60];
    renderTiles(list);
    renderPipeline(list, x);
    renderHttp(list, x);
    renderMail(list);
    renderSsh(list);
    renderHosts(list, x);
    renderTables();
  }

  function queueRender() {
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(render);
    }
  }

  function renderTiles(list) {
    const last = list[list.length - 1];
    if (last) {
      let sum = 0;
      for (const [topic, n] of Object.entries(last.topics)) if (matchesTopic(topic)) sum += n;
      $("rate").textContent = fmtCount(sum / last.dt);
    }
    $("rate-label").textContent = filters.length ? "Events / s (filtered)" : "Events / s";
    if (!state) return;
    $("total-events").textContent = fmtInt(state.totals.events);
    $("lost-total").textContent = fmtInt(state.totals.lost);
    $("lost-tile").classList.toggle("alert", state.totals.lost > 0);
    $("bad-total").textContent = fmtInt(state.totals.malformed) + " · " +
      fmtInt(state.totals.rejected);
  }

  function renderPipeline(list, x) {
    const topics = rankNames(
      list,
      (f) => Object.keys(f.topics).filter(matchesTopic),
      (f, t) => f.topics[t],
    );
    const shown = topics.slice(0, MAX_SERIES);
    const rest = topics.slice(MAX_SERIES);
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
      secondsRange,
    );

    const sources = rankNames(list, (f) => Object.keys(f.lost), (f, s) => f.lost[s]);
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
      secondsRange,
    );
  }

  function renderHttp(list, x) {
    const status = STATUS.map(([label, color], i) => ({
      label,
      color,
      values: list.map((f) => f.http.status[i] / f.dt),
    })).filter((s, i) => i < 5 || s.values.some((v) => v > 0));
    const requests = list.some((f) => f.http.requests > 0);
    const none = requests ? undefined : { text: "no http.hit events in this range" };
    chart("chart-status").update(x, status, none, secondsRange);
    const latency = [["p50", "#3fb950"], ["p95", "#d29922"], ["p99", "#f85149"]].map((
      [label, color],
      i,
    ) => ({
      label,
      color,
      values: list.map((f) => (f.http.latencyMs ? f.http.latencyMs[i] : null)),
    }));
    chart("chart-latency").update(x, latency, none, secondsRange);
    chart("chart-bytes").update(
      x,
      [{
        label: "body bytes",
        color: "#39c5cf",
        fill: "#39c5cf22",
        values: list.map((f) => f.http.bytes / f.dt),
      }],
      none,
      secondsRange,
    );
  }

  function renderMail(list) {
    const names = [
      ["delivered", "#3fb950"],
      ["deferred", "#d29922"],
      ["bounced", "#f85149"],
      ["rejected", "#a371f7"],
    ];
    const { x, columns } = perMinute(
      list,
      (f) => [f.mail.delivered, f.mail.deferred, f.mail.bounced, f.mail.rejected],
      4,
    );
    const any = columns.some((c) => c.some((v) => v > 0));
    chart("chart-mail", { stepped: true }).update(
      x,
      names.map(([label, color], i) => ({ label, color, values: columns[i] })),
      any ? undefined : { text: "no mail events in this range" },
      minutesRange,
    );
  }

  function renderSsh(list) {
    const { x, columns } = perMinute(list, (f) => [f.ssh.failed, f.ssh.invalid], 2);
    const any = columns.some((c) => c.some((v) => v > 0));
    chart("chart-ssh", { stepped: true }).update(
      x,
      [
        { label: "failed password / key", color: "#f85149", fill: "#f8514922", values: columns[0] },
        { label: "invalid or disallowed user", color: "#d29922", values: columns[1] },
      ],
      any ? undefined : { text: "no failed logins in this range" },
      minutesRange,
    );
  }

  function renderHosts(list, x) {
    const metrics = [["chart-cpu", "cpu"], ["chart-mem", "mem"], ["chart-disk", "disk"]];
    for (const [id, metric] of metrics) {
      const hosts = rankNames(
        list,
        (f) => Object.keys(f.hosts).filter((h) => f.hosts[h][metric] != null),
        () => 1,
      ).sort().slice(0, MAX_SERIES);
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
        secondsRange,
      );
    }
  }

  // ---- tables ------------------------------------------------------------

  function emptyRow(columns, text) {
    const row = el("tr", "none");
    const cell = el("td", "", text);
    cell.colSpan = columns;
    row.append(cell);
    return row;
  }

  function renderTop(id, rows, emptyText) {
    const body = $(id).tBodies[0];
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

  function meter(value) {
    const outer = el("span", "meter" + (value >= 90 ? " bad" : value >= 75 ? " warn" : ""));
    const inner = el("span");
    inner.style.width = `${Math.min(100, Math.max(0, value ?? 0))}%`;
    outer.append(inner);
    return outer;
  }

  function percentCell(value, where) {
    const cell = el("td", "num");
    if (where) cell.append(el("span", "where", where));
    cell.append(fmtPercent(value));
    if (value != null) cell.append(meter(value));
    return cell;
  }

  function renderTables() {
    if (!state) return;
    const window = `last ${fmtDuration(state.windowMs)}`;
    for (const hint of document.querySelectorAll(".hint.window")) hint.textContent = window;
    renderTop("table-paths", state.top.paths, "no requests in the " + window);
    renderTop("table-clients", state.top.clients, "no requests in the " + window);
    renderTop("table-agents", state.top.agents, "no user agents in the " + window);
    renderTop("table-offenders", state.top.sshAddresses, "no failed logins in the " + window);

    const sources = state.sources.filter((s) => s.topics.some(matchesTopic));
    $("table-sources").tBodies[0].replaceChildren(
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

    $("table-hosts").tBodies[0].replaceChildren(
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
      (config.history ? " · earlier minutes from the event store" : "");
  }

  // ---- sections and controls --------------------------------------------

  function applyFilters() {
    const text = $("topic-filter").value.trim();
    filters = text ? text.split(/[\s,]+/).filter(Boolean) : [];
    for (const section of document.querySelectorAll("section[data-topic]")) {
      section.classList.toggle("hidden", !sectionWanted(section.dataset.topic));
    }
    queueRender();
  }

  $("topic-filter").addEventListener("input", applyFilters);
  $("range").addEventListener("change", () => {
    rangeSeconds = Number($("range").value) || 0;
    queueRender();
  });

  // ---- connection --------------------------------------------------------

  function setStatus(kind, text) {
    const status = $("status");
    status.className = "status " + kind;
    status.textContent = text;
  }

  function trimFrames() {
    if (frames.length === 0) return;
    const horizon = frames[frames.length - 1].t - config.historyMs;
    let drop = 0;
    while (drop < frames.length && frames[drop].t < horizon) drop++;
    if (drop) frames.splice(0, drop);
  }

  let retry = 500;
  function connect() {
    const token = new URLSearchParams(location.search).get("token");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}/ws` +
      (token ? `?token=${encodeURIComponent(token)}` : "");
    const socket = new WebSocket(url);
    socket.onopen = () => {
      retry = 500;
      setStatus("live", "live");
    };
    socket.onmessage = (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
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
        state = data.state;
        trimFrames();
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
})();
