/**
 * The page and its chart library, imported as text so that they are part of the
 * module graph: `deno run`, `deno compile` (no `--include` needed) and a
 * published package all carry them.
 *
 * @module
 */
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import indexHtml from "./page/index.html" with { type: "text" };
import appJs from "./page/app.js" with { type: "text" };
import chartJs from "./page/chart.js" with { type: "text" };
import chartsJs from "./page/charts.js" with { type: "text" };
import domJs from "./page/dom.js" with { type: "text" };
import formatJs from "./page/format.js" with { type: "text" };
import seriesJs from "./page/series.js" with { type: "text" };
import tablesJs from "./page/tables.js" with { type: "text" };
import appCss from "./page/app.css" with { type: "text" };

/**
 * One file the dashboard serves.
 *
 * @example
 * ```ts
 * import { type Asset, ASSETS } from "@eventstorm/sink-dashboard";
 * const page: Asset | undefined = ASSETS.get("/");
 * console.log(page?.type);
 * ```
 */
export interface Asset {
  /** The content. */
  body: string;
  /** Its `content-type`. */
  type: string;
  /** Its `cache-control`. */
  cache: string;
}

const NO_CACHE = "no-cache";
// uPlot is versioned in its path, so the browser may keep it.
const VERSIONED = "public, max-age=86400, immutable";

/**
 * The files the dashboard serves, by path.
 *
 * @example
 * ```ts
 * import { ASSETS } from "@eventstorm/sink-dashboard";
 * ASSETS.get("/")?.type; // "text/html; charset=utf-8"
 * ```
 */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ["/", { body: indexHtml, type: "text/html; charset=utf-8", cache: NO_CACHE }],
  // The page's ES modules: app.js imports the others.
  ...Object.entries({
    "app.js": appJs,
    "chart.js": chartJs,
    "charts.js": chartsJs,
    "dom.js": domJs,
    "format.js": formatJs,
    "series.js": seriesJs,
    "tables.js": tablesJs,
  }).map(([name, body]): [string, Asset] => [
    `/${name}`,
    { body, type: "text/javascript; charset=utf-8", cache: NO_CACHE },
  ]),
  ["/app.css", { body: appCss, type: "text/css; charset=utf-8", cache: NO_CACHE }],
  ["/vendor/uplot-1.6.32/uPlot.iife.min.js", {
    body: uplotJs,
    type: "text/javascript; charset=utf-8",
    cache: VERSIONED,
  }],
  ["/vendor/uplot-1.6.32/uPlot.min.css", {
    body: uplotCss,
    type: "text/css; charset=utf-8",
    cache: VERSIONED,
  }],
]);
