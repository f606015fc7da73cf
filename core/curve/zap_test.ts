import assert from "node:assert/strict";
import { mulberry32 } from "../random.ts";
import { SocketType, ZmqContext } from "../zmq/socket.ts";
import { waitFor } from "../../tests/wait.ts";
import { generateKeyPair, writeKeyPair } from "./certificate.ts";
import { KeyDirectory, ZapHandler } from "./zap.ts";
import { z85Decode } from "./z85.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A ZAP handler and a REQ client on the same context, the way libzmq talks to it. */
function zapPair(keys: KeyDirectory) {
  const context = new ZmqContext();
  const handler = new ZapHandler(
    context,
    (request) =>
      request.key !== undefined && keys.nameOf(request.key) !== undefined
        ? { admit: true, userId: request.key }
        : { admit: false, reason: "unknown key" },
  );
  const client = context.socket(SocketType.REQ);
  client.configure({ lingerMs: 0 });
  client.attach({ bind: false, address: "inproc://zeromq.zap.01" });
  const buffers = Array.from({ length: 8 }, () => new Uint8Array(256));
  const sizes = new Int32Array(8);
  return {
    handler,
    async ask(frames: Uint8Array[]): Promise<string[]> {
      assert.ok(client.send(frames));
      let count = 0;
      await waitFor(
        () => {
          handler.handle();
          count = client.receive(buffers, sizes);
          return count > 0;
        },
        "a ZAP reply",
        5000,
        1,
      );
      return Array.from(
        { length: count },
        (_, i) => text.decode(buffers[i].subarray(0, sizes[i])),
      );
    },
    close: async () => {
      handler.close();
      client.close();
      await context.terminate();
    },
  };
}

function request(key: Uint8Array, overrides: Partial<Record<number, Uint8Array>> = {}) {
  const frames: Uint8Array[] = ["1.0", "7", "eventstorm", "127.0.0.1", "", "CURVE"].map((f) =>
    utf8.encode(f)
  );
  frames.push(key);
  for (const [i, frame] of Object.entries(overrides)) frames[Number(i)] = frame!;
  return frames;
}

Deno.test("zap: a listed key is admitted with its key as User-Id, others refused with 400", async () => {
  const dir = Deno.makeTempDirSync();
  const zap = zapPair(new KeyDirectory(dir));
  try {
    const known = writeKeyPair(`${dir}/known`);
    const stranger = generateKeyPair();
    const yes = await zap.ask(request(z85Decode(known.publicKey)!));
    assert.deepEqual(yes.slice(0, 5), ["1.0", "7", "200", "OK", known.publicKey]);
    const no = await zap.ask(request(z85Decode(stranger.publicKey)!));
    assert.deepEqual(no.slice(0, 4), ["1.0", "7", "400", "unknown key"]);
    assert.deepEqual(zap.handler.stats(), { admitted: 1, refused: 1, malformed: 0 });
  } finally {
    await zap.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("zap fuzz: malformed requests get a 500 reply and never stop the handler", async () => {
  const dir = Deno.makeTempDirSync();
  const zap = zapPair(new KeyDirectory(dir));
  try {
    const known = writeKeyPair(`${dir}/known`);
    const random = mulberry32(27);
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
    let answered = 0;
    for (let i = 0; i < 500; i++) {
      const frames = request(z85Decode(known.publicKey)!);
      switch (i % 5) {
        case 0: // a random number of random frames
          frames.length = 0;
          for (let n = Math.floor(random() * 10); n >= 0; n--) frames.push(bytes(random() * 40));
          break;
        case 1: // a wrong version
          frames[0] = bytes(3);
          break;
        case 2: // credentials of the wrong length
          frames[6] = bytes(Math.floor(random() * 64));
          if (frames[6].length === 32) frames[6] = bytes(33);
          break;
        case 3: // oversized frames
          frames[3] = bytes(2000);
          break;
        case 4: // an unknown mechanism
          frames[5] = utf8.encode("PLAIN");
      }
      const reply = await zap.ask(frames);
      assert.equal(reply[0], "1.0");
      assert.ok(["400", "500"].includes(reply[2]), `status ${reply[2]}`);
      answered++;
    }
    assert.equal(answered, 500);
    // Still answers a good request afterwards.
    const yes = await zap.ask(request(z85Decode(known.publicKey)!));
    assert.equal(yes[2], "200");
  } finally {
    await zap.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("key directory: re-read when a key is added or removed, secrets and junk skipped", () => {
  const dir = Deno.makeTempDirSync();
  const warnings: string[] = [];
  try {
    const keys = new KeyDirectory(dir, (line) => warnings.push(line));
    assert.equal(keys.size, 0);
    const a = writeKeyPair(`${dir}/a`);
    Deno.writeTextFileSync(`${dir}/junk`, "not a certificate\n");
    assert.equal(keys.nameOf(a.publicKey), "a");
    assert.equal(keys.size, 1, "a_secret and junk are not admissions");
    assert.ok(warnings.some((line) => /junk/.test(line)));
    Deno.removeSync(`${dir}/a`);
    assert.equal(keys.nameOf(a.publicKey), undefined);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  assert.throws(() => new KeyDirectory(`${dir}/gone`), /no such directory/);
});
