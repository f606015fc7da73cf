import assert from "node:assert/strict";
import { parseRequestLine, splitRequestLineInto } from "./request.ts";

Deno.test("parseRequestLine splits an HTTP/1.1 request with a query", () => {
  assert.deepEqual(
    parseRequestLine("GET /api/1/photogenic_banners/list/?server_name=WIN7RB4 HTTP/1.1"),
    {
      method: "GET",
      path: "/api/1/photogenic_banners/list/",
      query: "server_name=WIN7RB4",
      protocol: "HTTP/1.1",
    },
  );
});

Deno.test("parseRequestLine keeps HTTP/2.0, WebDAV methods and absolute targets", () => {
  assert.deepEqual(parseRequestLine("GET /h2/path?q=a%20b HTTP/2.0"), {
    method: "GET",
    path: "/h2/path",
    query: "q=a%20b",
    protocol: "HTTP/2.0",
  });
  assert.deepEqual(parseRequestLine("PROPFIND /dav/ HTTP/1.1"), {
    method: "PROPFIND",
    path: "/dav/",
    protocol: "HTTP/1.1",
  });
  assert.deepEqual(parseRequestLine("GET http://example.com/proxy?x=1 HTTP/1.1"), {
    method: "GET",
    path: "http://example.com/proxy",
    query: "x=1",
    protocol: "HTTP/1.1",
  });
  assert.deepEqual(parseRequestLine("OPTIONS * HTTP/1.1"), {
    method: "OPTIONS",
    path: "*",
    protocol: "HTTP/1.1",
  });
});

Deno.test("parseRequestLine handles HTTP/0.9, spaces in the target and an empty query", () => {
  assert.deepEqual(parseRequestLine("GET /nine"), { method: "GET", path: "/nine" });
  assert.deepEqual(parseRequestLine("GET /a b c HTTP/1.1"), {
    method: "GET",
    path: "/a b c",
    protocol: "HTTP/1.1",
  });
  assert.deepEqual(parseRequestLine("GET /x? HTTP/1.0"), {
    method: "GET",
    path: "/x",
    query: "",
    protocol: "HTTP/1.0",
  });
  // A trailing word that is not a protocol belongs to the target.
  assert.deepEqual(parseRequestLine("GET /a HTTP/x"), { method: "GET", path: "/a HTTP/x" });
});

Deno.test("parseRequestLine yields nothing for lines that are not HTTP", () => {
  assert.deepEqual(parseRequestLine("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xde\xad"), {});
  assert.deepEqual(parseRequestLine("\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03"), {});
  assert.deepEqual(parseRequestLine("GE"), {});
  assert.deepEqual(parseRequestLine(""), {});
  assert.deepEqual(parseRequestLine("-"), {});
  assert.deepEqual(parseRequestLine("\x05\x01\x00 x y"), {});
});

Deno.test("splitRequestLineInto writes only the parts present", () => {
  const target: Record<string, unknown> = { request: "HEAD /head HTTP/1.1" };
  splitRequestLineInto("HEAD /head HTTP/1.1", target);
  assert.deepEqual(target, {
    request: "HEAD /head HTTP/1.1",
    method: "HEAD",
    path: "/head",
    protocol: "HTTP/1.1",
  });
  assert.equal("query" in target, false);
});
