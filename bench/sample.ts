/**
 * What the benches share: the 250-byte sample event and a free loopback port.
 *
 * @module
 */
import type { Event } from "@eventstorm/core";

/**
 * A 250-byte event, like a small parsed access-log line.
 *
 * @example
 * ```ts ignore
 * emitter.send(sampleEvent(0));
 * ```
 */
export function sampleEvent(i: number): Event {
  return {
    type: "http.hit",
    time: new Date(1_700_000_000_000 + i),
    host: "web1",
    remote_addr: "203.0.113.7",
    method: "GET",
    path: "/downloads/product_1",
    status: 200,
    body_bytes_sent: 4312,
    http_user_agent: "Debian APT-HTTP/1.3 (0.9.7.9) " + "x".repeat(54),
  };
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago.
 *
 * @example
 * ```ts ignore
 * const endpoint = `@tcp://127.0.0.1:${freeLoopbackPort()}`;
 * ```
 */
export function freeLoopbackPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const value = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return value;
}
