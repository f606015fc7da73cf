// @ts-check
/// <reference lib="dom" />
// One uPlot chart per element, rebuilt only when its series change.
import { el } from "./dom.js";
import { fmtCount, UNIT_FORMAT } from "./format.js";

/**
 * One line of a chart.
 * @typedef {object} Series
 * @property {string} label
 * @property {string} color
 * @property {(number | null)[]} values
 * @property {number[]} [dash]
 * @property {string} [fill]
 * @property {number} [width]
 */

/**
 * How a chart draws.
 * @typedef {object} ChartOptions
 * @property {boolean} [stepped] steps between points (per-minute counts)
 * @property {number} [max] a fixed top of the y axis
 * @property {boolean} [spanGaps] draw across missing points
 */

/** A note over an empty chart. @typedef {{ text: string, good?: boolean } | undefined} Note */

/** The colours of series without a colour of their own. */
export const PALETTE = [
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

// Axis steps for bytes land on 1, 2, 5 × powers of 1024, so labels read 512 KiB, 1 MiB.
const BYTE_INCREMENTS = [0, 1, 2, 3, 4].flatMap((power) =>
  [1, 2, 5, 10, 20, 50, 100, 200, 500].map((step) => step * 1024 ** power)
);

/**
 * The uPlot library, loaded by its own script tag before this module runs.
 * @returns {any}
 */
function uPlot() {
  return /** @type {any} */ (globalThis).uPlot;
}

/** A chart in an element whose `data-unit` says how to write its values. */
export class Chart {
  /**
   * @param {HTMLElement} element
   * @param {ChartOptions} [options]
   */
  constructor(element, options = {}) {
    this.element = element;
    this.unit = element.dataset.unit ?? "";
    this.format = UNIT_FORMAT[this.unit] ?? fmtCount;
    this.options = options;
    /** @type {string | undefined} */
    this.key = undefined;
    /** @type {any} */
    this.plot = undefined;
    /** @type {[number, number] | undefined} */
    this.range = undefined;
    this.note = el("div", "empty");
    element.append(this.note);
    new ResizeObserver(() => this.resize()).observe(element);
  }

  /** @returns {{ width: number, height: number }} */
  size() {
    return { width: Math.max(200, this.element.clientWidth), height: 190 };
  }

  resize() {
    if (!this.plot) return;
    const { width, height } = this.size();
    if (Math.abs(this.plot.width - width) > 1) this.plot.setSize({ width, height });
  }

  /**
   * Draws `series` over `x` (seconds); rebuilt when the labels change. `range`
   * is the x axis, so that every chart shows the chosen time range even when it
   * has few points.
   * @param {number[]} x
   * @param {Series[]} series
   * @param {Note} note
   * @param {[number, number] | undefined} range
   */
  update(x, series, note, range) {
    const key = series.map((s) => s.label + "\u0000" + s.color).join("\u0001");
    const data = [x, ...series.map((s) => s.values)];
    this.range = range;
    if (key !== this.key || !this.plot) {
      this.plot?.destroy();
      const UPlot = uPlot();
      this.plot = new UPlot(this.build(series), data, this.element);
      this.element.append(this.note);
      this.key = key;
    } else {
      this.plot.setData(data);
    }
    this.note.textContent = note?.text ?? "";
    this.note.className = "empty" + (note?.good ? " good" : "");
  }

  /**
   * uPlot's options for `series`.
   * @param {Series[]} series
   * @returns {object}
   */
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
        x: {
          time: true,
          /** @type {(u: unknown, min: number, max: number) => [number, number]} */
          range: (_u, min, max) => this.range ?? [min, max],
        },
        y: {
          /** @type {(u: unknown, min: number, max: number) => [number, number]} */
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
          /** @type {(u: unknown, values: string[] | null) => number} */
          size: (_u, values) =>
            values ? Math.max(40, ...values.map((v) => v.length * 6.6 + 16)) : 40,
          incrs: this.unit === "B/s" ? BYTE_INCREMENTS : undefined,
          /** @type {(u: unknown, splits: number[]) => string[]} */
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
          paths: stepped ? uPlot().paths.stepped({ align: 1 }) : undefined,
          /** @type {(u: unknown, v: number | null) => string} */
          value: (_u, v) => format(v),
        })),
      ],
    };
  }
}

/** @type {Map<string, Chart>} */
const charts = new Map();

/**
 * The chart in element `id`, made on first use.
 * @param {string} id
 * @param {ChartOptions} [options]
 * @returns {Chart}
 */
export function chart(id, options) {
  let made = charts.get(id);
  if (made === undefined) {
    made = new Chart(/** @type {HTMLElement} */ (document.getElementById(id)), options);
    charts.set(id, made);
  }
  return made;
}
