import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import type { Event, EventOutput } from "@eventstorm/core";
import { parseListenAddress } from "./listener.ts";
import { SyslogRouter } from "./router.ts";
import { SyslogSource } from "./source.ts";

/** An output whose flush waits for a subscriber that never comes, as an emitter's does. */
function outputWithNobodySubscribing(): EventOutput & { events: Event[] } {
  const events: Event[] = [];
  let release: () => void = () => {};
  const waiting = new Promise<void>((resolve) => release = resolve);
  return {
    events,
    sourceId: 1n,
    send: (event) => void events.push(event),
    flush: () => events.length === 0 ? Promise.resolve() : waiting,
    close: () => {
      release();
      return Promise.resolve();
    },
    positions: () => ({}),
  };
}

/**
 * Runs a syslog source on a UDP port of its own with `output`, sends it `datagram`, and
 * waits until an event came out; `stop` ends it, `running` is its run.
 */
async function sourceGiven(
  output: ReturnType<typeof outputWithNobodySubscribing>,
  datagram: string | Uint8Array,
  unparsedType?: string,
) {
  const stop = new AbortController();
  let bound = "";
  const source = new SyslogSource({
    unparsedType,
    listen: [parseListenAddress("udp://127.0.0.1:0")],
    parser: new SyslogRouter({ generic: true }),
    output: () => Promise.resolve(output),
    host: "test",
    signal: stop.signal,
    onStarted: (listeners) => {
      const port = [...listeners.boundPorts.values()][0];
      bound = listeners.bound[0];
      const socket = createSocket("udp4");
      socket.send(datagram, port, "127.0.0.1", () => socket.close());
    },
  });
  const running = source.run();
  const deadline = Date.now() + 5000;
  while (output.events.length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { stop, running, bound };
}

Deno.test("syslog source: a stop is not held up by a flush that nobody takes", async () => {
  const output = outputWithNobodySubscribing();
  const { stop, running } = await sourceGiven(output, "<38>Dec  6 12:00:00 web1 app[1]: hello");
  assert.equal(output.events.length, 1);
  const stoppedAt = Date.now();
  stop.abort();
  const timeout = new Promise<"hung">((resolve) => {
    const timer = setTimeout(() => resolve("hung"), 6000);
    running.finally(() => clearTimeout(timer));
  });
  assert.notEqual(await Promise.race([running, timeout]), "hung");
  assert.ok(Date.now() - stoppedAt < 5000);
});

Deno.test("syslog source: a message that is not UTF-8 is parsed with U+FFFD, and counted", async () => {
  const output = outputWithNobodySubscribing();
  // Latin-1 "café", as a legacy sender writes it.
  const latin1 = new Uint8Array([
    ...new TextEncoder().encode("<38>Dec  6 12:00:00 web1 app[1]: caf"),
    0xe9,
  ]);
  const { stop, running } = await sourceGiven(output, latin1);
  stop.abort();
  const stats = await running;
  assert.equal(output.events.length, 1);
  assert.match(JSON.stringify(output.events[0]), /caf\ufffd|caf\uFFFD/);
  assert.equal(stats.badEncoding, 1);
  assert.equal(stats.unparsed, 0);
});

Deno.test("syslog source: an unparsed message's path is the address bound, not the port 0 asked for", async () => {
  const output = outputWithNobodySubscribing();
  const { stop, running, bound } = await sourceGiven(output, "no header here", "syslog.unparsed");
  stop.abort();
  const stats = await running;
  assert.equal(stats.unparsed, 1);
  assert.match(bound, /^udp:\/\/127\.0\.0\.1:[1-9]\d*$/);
  assert.equal(output.events.length, 1);
  assert.equal(output.events[0].type, "syslog.unparsed");
  assert.equal(output.events[0].path, bound);
  assert.equal(output.events[0].line, "no header here");
});
