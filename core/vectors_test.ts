/**
 * The protocol v1 test vectors (docs/vectors) against the TypeScript codec and a
 * real Collector: every valid vector decodes to its events and encodes back to
 * its bytes exactly, every invalid one is dropped under its reason.
 *
 * @module
 */
import assert from "node:assert/strict";
import { BSON, EJSON } from "bson";
import { CodecError, decodeEvents } from "./codec.ts";
import { Collector } from "./collector.ts";
import { encodeHeader, parseMessage } from "./protocol.ts";
import { SocketType, ZmqContext } from "./zmq/socket.ts";
import {
  type ValidExpectation,
  type Vector,
  vectors,
  vectorText,
} from "../docs/vectors/generate.ts";
import { waitFor } from "../tests/wait.ts";

const dir = new URL("../docs/vectors/", import.meta.url);

function readVectors(): [string, Vector][] {
  return [...Deno.readDirSync(dir)]
    .filter((entry) => entry.name.endsWith(".json"))
    .map((entry) => entry.name)
    .sort()
    .map((name) => [name, JSON.parse(Deno.readTextFileSync(new URL(name, dir)))]);
}

const bytes = (hex: string) =>
  Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));

function documents(body: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (let offset = 0; offset < body.length;) {
    const size = view.getInt32(offset, true);
    out.push(body.subarray(offset, offset + size));
    offset += size;
  }
  return out;
}

const canonical = (document: Uint8Array) =>
  JSON.parse(EJSON.stringify(BSON.deserialize(document, { promoteValues: false }), {
    relaxed: false,
  }));

Deno.test("vectors: the files are what docs/vectors/generate.ts makes, at least 20", () => {
  const generated = vectors();
  const files = readVectors();
  assert.ok(files.length >= 20, `${files.length} vectors`);
  assert.deepEqual(
    files.map(([name]) => name),
    Object.keys(generated).sort().map((n) => `${n}.json`),
  );
  for (const [name, vector] of files) {
    assert.equal(vectorText(vector), vectorText(generated[name.replace(/\.json$/, "")]), name);
  }
});

Deno.test("vectors: every valid one decodes to its events and encodes to its bytes exactly", () => {
  for (const [name, vector] of readVectors()) {
    if (!vector.expect.valid) continue;
    const expect = vector.expect as ValidExpectation;
    const frames = vector.frames.map(bytes);
    const parsed = parseMessage(frames);
    assert.ok(parsed.ok, `${name}: ${!parsed.ok && parsed.detail}`);
    const message = parsed.message;
    assert.equal(message.topic, expect.topic, name);
    if (expect.header === null) {
      assert.equal(message.header, undefined, name);
    } else {
      assert.equal(message.header!.count, expect.header.count, name);
      assert.equal(message.header!.source, BigInt(expect.header.source), name);
      assert.equal(BigInt(message.header!.first), BigInt(expect.header.first), name);
    }
    const decoded = decodeEvents(message.body, { topic: message.topic });
    assert.equal(decoded.events.length, expect.events.length, name);
    assert.equal(decoded.rejected, expect.rejected, name);
    const raw = documents(message.body);
    expect.events.forEach((event, i) => assert.deepEqual(canonical(raw[i]), event, name));
    if (expect.rejected > 0) continue;
    const body = expect.events.map((event) =>
      BSON.serialize(EJSON.parse(JSON.stringify(event), { relaxed: false }) as BSON.Document)
    );
    const encoded: Uint8Array[] = [new TextEncoder().encode(expect.topic)];
    if (expect.header) {
      encoded.push(encodeHeader({
        flags: 0,
        count: expect.header.count,
        source: BigInt(expect.header.source),
        first: Number(expect.header.first),
      }));
    }
    const joined = new Uint8Array(body.reduce((n, doc) => n + doc.length, 0));
    body.reduce((offset, doc) => (joined.set(doc, offset), offset + doc.length), 0);
    encoded.push(joined);
    assert.deepEqual(encoded, frames, `${name}: encoding differs`);
  }
});

Deno.test("vectors: every invalid one is dropped under its reason", () => {
  for (const [name, vector] of readVectors()) {
    if (vector.expect.valid) continue;
    const reason = vector.expect.reason;
    const parsed = parseMessage(vector.frames.map(bytes));
    if (parsed.ok) {
      // Only BSON content errors pass the structural checks; decoding finds them.
      assert.equal(reason, "bson", `${name} passed parseMessage`);
      assert.throws(
        () => decodeEvents(parsed.message.body, { topic: parsed.message.topic }),
        (error: Error) => error instanceof CodecError && error.reason === "bson",
        name,
      );
    } else {
      assert.equal(parsed.reason, reason, name);
    }
  }
});

Deno.test("vectors: a real Collector delivers and counts each vector as its file says", async () => {
  const context = new ZmqContext();
  for (const [name, vector] of readVectors()) {
    // One collector each: vectors share source ids, so together they would be replays.
    const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*", context });
    const publisher = context.socket(SocketType.XPUB);
    publisher.configure({ lingerMs: 0 });
    publisher.attach({ bind: false, address: collector.boundEndpoint() });
    let delivered = 0;
    const reading = (async () => {
      for await (const batch of collector.batches()) delivered += batch.events.length;
    })();
    await waitFor(() => publisher.receive([new Uint8Array(64)], new Int32Array(1)) > 0, "sub");
    assert.ok(publisher.send(vector.frames.map(bytes)));
    await waitFor(() => collector.stats().messages === 1, `${name} to arrive`);
    const stats = collector.stats();
    if (vector.expect.valid) {
      await waitFor(() => delivered === (vector.expect as ValidExpectation).events.length, name);
      assert.deepEqual(stats.malformed, {}, name);
      assert.equal(stats.rejectedEvents, vector.expect.rejected, name);
      assert.equal(stats.lost + stats.duplicates, 0, name);
    } else {
      assert.deepEqual(stats.malformed, { [vector.expect.reason]: 1 }, name);
      assert.equal(delivered, 0, name);
    }
    await collector.close();
    await reading;
    publisher.close();
  }
  await context.terminate();
});
