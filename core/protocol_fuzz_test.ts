/**
 * Fuzzing of everything that reads bytes from the wire: random and mutated
 * messages through `parseMessage` + `decodeEvents`, then a smaller run over a real
 * socket into a Collector whose counters must add up exactly.
 *
 * Seeded: set FUZZ_SEED to replay a run; FUZZ_ITERATIONS to run longer.
 */
import assert from "node:assert/strict";
import { Binary, ObjectId } from "bson";
import { CodecError, countDocuments, decodeBatch, decodeEvents, encodeBatch } from "./codec.ts";
import { Collector, type EventBatch } from "./collector.ts";
import { envelopeProblem } from "./event.ts";
import { MessageBuilder } from "./message.ts";
import { DROP_REASONS, encodeHeader, parseMessage, type ParseResult } from "./protocol.ts";
import { MAX_INDEX_JUMP, SequenceTracker } from "./sequence.ts";
import { SocketType, ZmqContext } from "./zmq/socket.ts";
import { mulberry32 } from "./random.ts";

const utf8 = new TextEncoder();
const SEED = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 2 ** 31);
const ITERATIONS = Number(Deno.env.get("FUZZ_ITERATIONS") ?? 20_000);

class Fuzzer {
  readonly random: () => number;
  constructor(seed: number) {
    this.random = mulberry32(seed);
  }
  int(below: number): number {
    return Math.floor(this.random() * below);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  /** A valid message of a few events with every field type events use. */
  validMessage(builder: MessageBuilder): Uint8Array[] {
    const topic = this.pick(["a.b", "http.hit", "ssh.login", "x"]);
    const events = Array.from({ length: 1 + this.int(4) }, (_, n) => ({
      type: topic,
      time: new Date(1_700_000_000_000 + this.int(1e9)),
      host: this.pick(["h", "web-1", "caf\u00e9"]),
      n,
      s: "v".repeat(this.int(40)),
      f: this.random(),
      big: 2 ** 40 + this.int(1000),
      ok: this.random() < 0.5,
      none: null,
      list: [1, "two", 3.5],
      ...(this.random() < 0.3 ? { _id: new ObjectId(), raw: new Binary(this.bytes(4)) } : {}),
    }));
    const frames = builder.build(topic, events);
    return this.random() < 0.1 ? [frames[0], frames[2]] : frames;
  }

  /** Applies one to three mutations to a copy of `frames`. */
  mutate(original: Uint8Array[]): Uint8Array[] {
    let frames: Uint8Array[] = original.map((frame) => frame.slice());
    const rounds = 1 + this.int(3);
    for (let round = 0; round < rounds; round++) {
      const which = frames.length ? this.int(frames.length) : 0;
      const frame = frames[which] ?? new Uint8Array(0);
      switch (this.int(10)) {
        case 0: // bit flips
          for (let i = this.int(8) + 1; i > 0 && frame.length; i--) {
            frame[this.int(frame.length)] ^= 1 << this.int(8);
          }
          break;
        case 1: // truncation
          frames[which] = frame.subarray(0, this.int(frame.length + 1));
          break;
        case 2: { // extension
          const longer = new Uint8Array(frame.length + 1 + this.int(16));
          longer.set(frame);
          longer.set(this.bytes(longer.length - frame.length), frame.length);
          frames[which] = longer;
          break;
        }
        case 3: { // a document length prefix, in the body
          const body = frames[frames.length - 1];
          if (!body || body.length < 4) break;
          const at = this.random() < 0.5 ? 0 : this.int(body.length - 3);
          const current = new DataView(body.buffer, body.byteOffset).getInt32(at, true);
          new DataView(body.buffer, body.byteOffset).setInt32(
            at,
            this.pick([
              0,
              4,
              5,
              -1,
              0x7fffffff,
              -0x80000000,
              body.length,
              current + 1,
              current - 1,
            ]),
            true,
          );
          break;
        }
        case 4: { // a header field
          if (frames.length !== 3 || frames[1].length !== 24) break;
          const view = new DataView(frames[1].buffer, frames[1].byteOffset);
          const field = this.int(5);
          if (field === 0) view.setUint8(0, this.int(256));
          if (field === 1) view.setUint8(1, this.int(4));
          if (field === 2) view.setUint16(2, this.pick([1, 0x8000, this.int(65536)]), true);
          if (field === 3) view.setUint32(4, this.pick([0, 1, 2, 5, 0xffffffff]), true);
          if (field === 4) {
            view.setBigUint64(16, this.pick([0n, 2n ** 53n, 2n ** 64n - 1n, 7n]), true);
          }
          break;
        }
        case 5: // drop a frame
          frames.splice(which, 1);
          break;
        case 6: // duplicate or insert frames
          frames.splice(which, 0, this.random() < 0.5 ? frame.slice() : this.bytes(this.int(30)));
          break;
        case 7: // a topic of random bytes
          frames[0] = this.bytes(this.int(12));
          break;
        case 8: { // an element's string length inside a document
          const body = frames[frames.length - 1];
          if (!body || body.length < 12) break;
          const at = 4 + this.int(body.length - 8);
          new DataView(body.buffer, body.byteOffset).setInt32(
            at,
            this.pick([0, 1, -1, 1000, 0x7ffffff0]),
            true,
          );
          break;
        }
        default: // entirely random frames
          frames = Array.from({ length: this.int(6) }, () => this.bytes(this.int(64)));
      }
    }
    return frames;
  }
}

/**
 * What survives a round trip: BSON's deprecated undefined (type 6) decodes as
 * undefined, which encoding leaves out of a document and writes as null in an
 * array, as the bson package does.
 */
function roundTripped(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => v === undefined ? null : roundTripped(v));
  if (value !== null && typeof value === "object" && value.constructor === Object) {
    return Object.fromEntries(
      Object.entries(value).filter(([, v]) => v !== undefined).map((
        [k, v],
      ) => [k, roundTripped(v)]),
    );
  }
  return value;
}

function assertStable(document: Record<string, unknown>): void {
  const [again] = decodeBatch(encodeBatch([document]));
  // Receivers reject a date no Date holds, so every decoded one is valid and survives.
  assert.deepEqual(again, roundTripped(document));
}

/** Checks one parse result against the frames it came from; returns decoded events or undefined. */
function checkOne(frames: Uint8Array[], result: ParseResult) {
  if (!result.ok) {
    assert.ok((DROP_REASONS as readonly string[]).includes(result.reason), result.reason);
    assert.equal(typeof result.detail, "string");
    return undefined;
  }
  const { topic, header, body, count } = result.message;
  assert.ok(frames.length === 2 || frames.length === 3);
  assert.deepEqual(utf8.encode(topic), frames[0], "the topic is exactly the frame's bytes");
  assert.equal(body, frames[frames.length - 1]);
  assert.equal(countDocuments(body), count);
  if (header) assert.equal(header.count, count);
  else assert.ok(count > 0);
  try {
    const { events, rejected } = decodeEvents(body, { topic, expectedCount: count });
    assert.equal(events.length + rejected, count);
    for (const event of events) {
      assert.equal(envelopeProblem(event), undefined);
      assert.equal(event.type, topic);
      // Not garbage: what was decoded encodes and decodes to the same thing.
      assertStable(event);
    }
    return events;
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    assert.ok(error instanceof CodecError, `decode threw ${error}`);
    assert.ok((DROP_REASONS as readonly string[]).includes(error.reason), error.reason);
    return undefined;
  }
}

Deno.test("fuzz: parseMessage + decodeEvents on random and mutated messages", () => {
  console.log(`FUZZ_SEED=${SEED} FUZZ_ITERATIONS=${ITERATIONS}`);
  const fuzz = new Fuzzer(SEED);
  const builder = new MessageBuilder(12345n);
  const outcomes: Record<string, number> = {};
  const started = performance.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const valid = fuzz.validMessage(builder);
    // Unmutated messages decode to what was encoded.
    if (i % 10 === 0) {
      const result = parseMessage(valid);
      assert.ok(result.ok, `a valid message was dropped (seed ${SEED}, iteration ${i})`);
      assert.equal(checkOne(valid, result)?.length, result.message.count);
    }
    const frames = fuzz.mutate(valid);
    let result: ParseResult;
    try {
      result = parseMessage(frames);
      checkOne(frames, result);
    } catch (error) {
      throw new Error(`seed ${SEED}, iteration ${i}: ${error}`, { cause: error });
    }
    const outcome = result.ok ? "ok" : result.reason;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  const elapsed = performance.now() - started;
  console.log(`${ITERATIONS} mutated messages in ${elapsed.toFixed(0)} ms:`, outcomes);
  // The mutations reach every structural check.
  // envelope is judged per document, owner per peer: neither is parseMessage's.
  for (
    const reason of DROP_REASONS.filter((reason) => reason !== "envelope" && reason !== "owner")
  ) {
    assert.ok(outcomes[reason] > 0, `no mutation produced '${reason}'`);
  }
  assert.ok(outcomes.ok > 0);
});

Deno.test("fuzz: countDocuments and decodeBatch on arbitrary bytes", () => {
  const fuzz = new Fuzzer(SEED + 1);
  for (let i = 0; i < 5000; i++) {
    const bytes = fuzz.bytes(fuzz.int(64));
    // Often start with a plausible length so the decoder gets past the prefix.
    if (bytes.length >= 4 && fuzz.random() < 0.7) {
      new DataView(bytes.buffer).setInt32(0, bytes.length, true);
      bytes[bytes.length - 1] = 0;
    }
    try {
      const documents = decodeBatch(bytes);
      assert.equal(documents.length, countDocuments(bytes));
      for (const document of documents) {
        assert.equal(typeof document, "object");
        assertStable(document);
      }
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      assert.ok(error instanceof CodecError, `seed ${SEED}: ${error}`);
    }
  }
});

Deno.test("fuzz: a collector survives mutated traffic and its counters add up", async () => {
  const fuzz = new Fuzzer(SEED + 2);
  // How far a stream's index may jump grows with the time since its last message: the
  // model below and the collector, which sees each message a little later, must judge
  // a forged index near that bound the same way, so time stands still for both.
  const clock = () => 0;
  const collector = await Collector.open({ endpoints: "@tcp://127.0.0.1:*", clock });
  const delivered: EventBatch[] = [];
  const reading = (async () => {
    for await (const batch of collector.batches()) delivered.push(batch);
  })();
  const context = new ZmqContext();
  try {
    const publisher = context.socket(SocketType.XPUB);
    publisher.configure({ lingerMs: 0, sendHwm: 100_000 });
    publisher.attach({ bind: false, address: collector.boundEndpoint() });
    const deadline = Date.now() + 10_000;
    while (publisher.receive([new Uint8Array(64)], new Int32Array(1)) === 0) {
      if (Date.now() > deadline) throw new Error("no subscription from the collector");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }

    // What the collector must do with each message, from the same checks it uses.
    const model = {
      delivered: 0,
      decoded: 0,
      skipped: 0,
      malformed: {} as Record<string, number>,
    };
    const tracker = new SequenceTracker({ clock });
    const builders = [new MessageBuilder(1n), new MessageBuilder(2n)];
    const malformed = (reason: string) =>
      model.malformed[reason] = (model.malformed[reason] ?? 0) + 1;
    const total = 1500;
    for (let i = 0; i < total; i++) {
      const valid = fuzz.validMessage(fuzz.pick(builders));
      let frames = fuzz.random() < 0.3 ? valid : fuzz.mutate(valid);
      if (frames.length === 0) frames = [new Uint8Array(0)];
      // A replay of an earlier index now and then, and forged indexes: anywhere below
      // 2^53, or just past what the stream could have lost.
      if (frames.length === 3 && frames[1].length === 24) {
        const view = new DataView(frames[1].buffer, frames[1].byteOffset);
        const roll = fuzz.random();
        if (roll < 0.05) view.setBigUint64(16, 0n, true);
        else if (roll < 0.1) {
          view.setBigUint64(16, BigInt(Math.floor(fuzz.random() * Number.MAX_SAFE_INTEGER)), true);
        } else if (roll < 0.12) view.setBigUint64(16, BigInt(Number.MAX_SAFE_INTEGER), true);
      }
      // Multipart messages of many frames.
      if (fuzz.random() < 0.05) {
        frames = [...frames, ...Array.from({ length: 1 + fuzz.int(40) }, () => fuzz.bytes(64))];
      }
      if (frames.slice(0, 3).some((frame, i) => i === 0 && frame.length > 1024)) {
        malformed("topic");
      } else if (frames.length > 3) {
        malformed("frames");
      } else {
        const result = parseMessage(frames);
        if (!result.ok) {
          malformed(result.reason);
        } else {
          const { topic, header, body, count } = result.message;
          const verdict = header
            ? tracker.observe(header.source, topic, header.first, count)
            : { skip: 0, lost: 0 };
          const skip = verdict.skip;
          if (verdict.refused) {
            malformed(verdict.refused);
          } else if (header && skip >= count) {
            model.skipped++;
          } else {
            try {
              const decoded = decodeEvents(body, { topic, skip });
              model.decoded++;
              // One batch a message, or with a header one per run of events between
              // rejected ones (so that events[i] is index first + i), none when all are.
              if (!header || decoded.rejectedAt === undefined) model.delivered++;
              else {
                let start = skip;
                const end = skip + decoded.events.length + decoded.rejected;
                for (const position of [...decoded.rejectedAt, end]) {
                  if (position > start) model.delivered++;
                  start = position + 1;
                }
              }
            } catch (error) {
              malformed((error as CodecError).reason);
            }
          }
        }
      }
      assert.ok(publisher.send(frames));
    }
    const waitUntil = Date.now() + 20_000;
    while (collector.stats().messages < total && Date.now() < waitUntil) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const stats = collector.stats();
    const malformedTotal = Object.values(stats.malformed).reduce((a, b) => a + (b ?? 0), 0);
    console.log(
      `${total} messages: ${delivered.length} delivered, ${model.skipped} skipped,`,
      stats.malformed,
    );
    assert.equal(stats.messages, total);
    assert.equal(stats.messages, model.decoded + malformedTotal + model.skipped);
    assert.equal(delivered.length, model.delivered);
    assert.deepEqual(stats.malformed, model.malformed);
    assert.equal(stats.lost, tracker.lost);
    assert.equal(stats.duplicates, tracker.duplicates);
    // Forged indexes are refused, so the loss stays within what the streams could lose.
    assert.ok((stats.malformed.index ?? 0) > 0, "some forged index reached the collector");
    assert.ok(stats.lost <= total * MAX_INDEX_JUMP, `lost ${stats.lost}`);
    assert.ok(delivered.length > 100 && malformedTotal > 100, "the mix has both");
  } finally {
    await context.terminate();
    await collector.close();
    await reading;
  }
});

Deno.test("fuzz: hand-made edge cases never throw", () => {
  const topic = utf8.encode("a.b");
  const header = encodeHeader({ flags: 0, count: 1, source: 1n, first: 0 });
  const bodies = [
    new Uint8Array(0),
    new Uint8Array([5, 0, 0, 0, 0]), // the empty document
    new Uint8Array([5, 0, 0, 0, 0, 5, 0, 0, 0]),
    new Uint8Array([0xff, 0xff, 0xff, 0x7f, 0]),
    new Uint8Array([6, 0, 0, 0, 0x0a, 0]), // element type with no name terminator
    new Uint8Array([8, 0, 0, 0, 0x0a, 0x61, 0, 0]), // {a: null}
    new Uint8Array(16).fill(0),
    new Uint8Array(16).fill(0xff),
  ];
  for (const body of bodies) {
    for (const frames of [[topic, header, body], [topic, body]]) {
      checkOne(frames, parseMessage(frames));
    }
  }
});
