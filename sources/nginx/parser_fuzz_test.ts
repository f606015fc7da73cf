/**
 * Fuzzing of the nginx access-log parser with real-shaped lines, mutated and random,
 * in three formats: `combined`, the timed variant, and an `escape=json` format.
 * Whatever a line holds, the parser returns events the emitter can send or nothing.
 */
import { NGINX_TIMED_FORMAT, nginxLog } from "../../cli/demo/nginx_lines.ts";
import { FUZZ_SEED, fuzzParser } from "../../tests/fuzz.ts";
import { nginxParser } from "./parser.ts";

const context = { path: "access.log", host: "fuzz", readAt: new Date("2026-12-04T00:00:00Z") };
const JSON_FORMAT =
  '{"addr":"$remote_addr","user":"$remote_user","t":"$time_iso8601","req":"$request",' +
  '"st":$status,"bytes":$body_bytes_sent,"ua":"$http_user_agent","rt":$request_time,' +
  '"urt":"$upstream_response_time","host":"$host","msec":$msec}';
const JSON_LINES = [
  '{"addr":"127.0.0.1","user":"al\\"ice","t":"2026-11-23T19:28:06+00:00","req":"GET /esc?a=1 HTTP/1.1","st":200,"bytes":12,"ua":"Mozilla/5.0 \\"Evil\\" \\\\ \\u00c4","rt":0.000,"urt":"0.001, 0.002","host":"a.example","msec":1763926086.123}',
  '{"addr":"2001:db8::1","user":"","t":"2026-11-23T19:28:06+00:00","req":"\\u0016\\u0003\\u0001","st":400,"bytes":0,"ua":"","rt":0.001,"urt":"-","host":"","msec":1763926086.000}',
];

for (const format of ["combined", "timed", "json"] as const) {
  Deno.test(`fuzz: the nginx parser (${format}) returns sendable events or nothing`, () => {
    const parser = format === "json"
      ? nginxParser({ format: JSON_FORMAT, escape: "json" })
      : nginxParser({ format: format === "timed" ? NGINX_TIMED_FORMAT : undefined });
    const samples = format === "json"
      ? JSON_LINES
      : nginxLog({ seed: FUZZ_SEED, format }).lines(200);
    fuzzParser(samples, (line) => parser.parse(line, context));
  });
}
