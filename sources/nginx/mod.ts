/**
 * nginx access logs as eventstorm events: a parser built from the same
 * `log_format` nginx writes with, one `http.hit` event per request.
 *
 * ```ts
 * import { nginxParser } from "@eventstorm/source-nginx";
 * const parser = nginxParser({ format: '$remote_addr [$time_local] "$request" $status $request_time' });
 * const events = parser.parse('10.0.0.1 [17/May/2015:08:05:32 +0000] "GET / HTTP/1.1" 200 0.012', {
 *   path: "access.log",
 *   host: "web1",
 *   readAt: new Date(),
 * });
 * ```
 *
 * Run it as a source with `deno run -A jsr:@eventstorm/source-nginx/main --file access.log`.
 *
 * @module
 */
export * from "./parser.ts";
export * from "./log_format.ts";
export * from "./nginx_conf.ts";
export * from "./request.ts";
export * from "./time.ts";
export { decodeDefaultEscapes, decodeJsonEscapes } from "./escape.ts";
export { nginxSource } from "./config.ts";
