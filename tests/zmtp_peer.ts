/**
 * A raw ZMTP peer for the tests of what a receiver does with hostile frames.
 *
 * @module
 */

/**
 * A ZMTP 3.0 NULL-mechanism PUB peer, written byte by byte: no library between a
 * test and the wire, so it can send what libzmq would not (or would buffer).
 */
export async function rawPublisher(endpoint: string) {
  const [host, port] = endpoint.replace(/^>?tcp:\/\//, "").split(":");
  const connection = await Deno.connect({ hostname: host, port: Number(port) });
  const greeting = new Uint8Array(64);
  greeting.set([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0]);
  greeting.set(new TextEncoder().encode("NULL"), 12);
  const property = (name: string, value: string) => {
    const n = new TextEncoder().encode(name), v = new TextEncoder().encode(value);
    const out = new Uint8Array(1 + n.length + 4 + v.length);
    out[0] = n.length;
    out.set(n, 1);
    new DataView(out.buffer).setUint32(1 + n.length, v.length);
    out.set(v, 5 + n.length);
    return out;
  };
  const socketType = property("Socket-Type", "PUB");
  // The stream is bytes: each part goes out as it is, with no need to join them first.
  for (
    const part of [
      greeting,
      new Uint8Array([0x04, 1 + 5 + socketType.length, 5]),
      new TextEncoder().encode("READY"),
      socketType,
    ]
  ) await writeAll(connection, part);
  // As a real ZMTP peer does, wait for the router's greeting and READY before any
  // message: libzmq cuts a peer whose message arrives with its handshake in one read.
  const seen = new Uint8Array(4096);
  let received = 0;
  while (received < 64 + 2 || received < 64 + 2 + seen[64 + 1]) {
    const n = await connection.read(seen.subarray(received));
    if (n === null) throw new Error("the router closed the connection during the handshake");
    received += n;
  }
  return {
    /** Sends one message, each frame with a long (8-byte) size. */
    send: async (frames: Uint8Array[]) => {
      for (const [i, frame] of frames.entries()) {
        const head = new Uint8Array(9);
        head[0] = 0x02 | (i < frames.length - 1 ? 0x01 : 0);
        new DataView(head.buffer).setBigUint64(1, BigInt(frame.length));
        await writeAll(connection, head);
        await writeAll(connection, frame);
      }
    },
    close: () => {
      try {
        connection.close();
      } catch {
        // Already closed by the router.
      }
    },
  };
}

async function writeAll(connection: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await connection.write(bytes.subarray(offset));
}
