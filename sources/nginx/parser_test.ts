import assert from "node:assert/strict";
import { isEvent } from "@eventstorm/core";
import { HIT_TYPE, nginxParser } from "./parser.ts";

const context = { path: "/var/log/nginx/access.log", host: "web1", readAt: new Date(0) };

// Real lines from the public elastic/examples nginx log (combined format).
const ELASTIC = [
  '93.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)"',
  '80.91.33.133 - - [17/May/2015:08:05:24 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.17)"',
  '91.194.188.90 - - [17/May/2015:10:05:51 +0000] "HEAD /downloads/product_2 HTTP/1.1" 200 0 "-" "Wget/1.13.4 (linux-gnu)"',
];

Deno.test("nginxParser reads combined by default into http.hit events", () => {
  const parser = nginxParser();
  const events = parser.parse(ELASTIC[0], context);
  assert.ok(events);
  assert.equal(events.length, 1);
  const [hit] = events;
  assert.ok(isEvent(hit));
  assert.deepEqual(hit, {
    type: HIT_TYPE,
    time: new Date("2015-05-17T08:05:32Z"),
    host: "web1",
    remote_addr: "93.180.71.3",
    request: "GET /downloads/product_1 HTTP/1.1",
    method: "GET",
    path: "/downloads/product_1",
    protocol: "HTTP/1.1",
    status: 304,
    body_bytes_sent: 0,
    http_user_agent: "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)",
  });
  // The envelope comes first, so every event of a format has the same field order.
  assert.deepEqual(Object.keys(hit).slice(0, 3), ["type", "time", "host"]);
});

Deno.test("nginxParser returns undefined for lines it does not understand", () => {
  const parser = nginxParser();
  assert.equal(parser.parse("", context), undefined);
  assert.equal(
    parser.parse("2024/03/02 10:11:12 [error] 7#7: *1 open() failed", context),
    undefined,
  );
  assert.equal(parser.parse(ELASTIC[1].slice(0, 60), context), undefined);
});

Deno.test("nginxParser strips a CR left by CRLF files", () => {
  const [hit] = nginxParser().parse(ELASTIC[2] + "\r", context)!;
  assert.equal(hit.http_user_agent, "Wget/1.13.4 (linux-gnu)");
});

Deno.test("nginxParser takes the read time when the format has none, a fresh Date each time", () => {
  const parser = nginxParser({ format: "$remote_addr $status", type: "web.hit" });
  const [a] = parser.parse("10.0.0.1 200", context)!;
  const [b] = parser.parse("10.0.0.2 404", context)!;
  assert.equal(a.type, "web.hit");
  assert.equal(a.time.getTime(), 0);
  assert.notEqual(a.time, context.readAt);
  assert.notEqual(a.time, b.time);
  assert.equal(b.status, 404);
});

Deno.test("nginxParser events have distinct time objects", () => {
  const parser = nginxParser();
  const [a] = parser.parse(ELASTIC[0], context)!;
  const [b] = parser.parse(ELASTIC[0], context)!;
  assert.notEqual(a.time, b.time);
  assert.equal(a.time.getTime(), b.time.getTime());
});

Deno.test("nginxParser fails at once on a malformed format", () => {
  assert.throws(() => nginxParser({ format: '"$request" $' }), SyntaxError);
});

Deno.test("nginxParser honours escape and lenient", () => {
  const json = nginxParser({ format: '{"ua":"$http_user_agent","s":$status}', escape: "json" });
  const [hit] = json.parse('{"ua":"say \\"hi\\"","s":200}', context)!;
  assert.equal(hit.http_user_agent, 'say "hi"');
  const strict = nginxParser({ lenient: false });
  assert.equal(strict.parse(ELASTIC[0] + ' "-"', context), undefined);
  assert.equal(nginxParser().parse(ELASTIC[0] + ' "-"', context)![0].extra, '"-"');
});
