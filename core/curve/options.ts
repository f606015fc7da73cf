/**
 * CURVE options as the library and the command lines take them, and how a
 * socket gets them.
 *
 * @module
 */
import { type Endpoint, parseEndpoints } from "../endpoint.ts";
import { type FlagValues, type ListFlagSpec, type StringFlagSpec, UsageError } from "../flags.ts";
import type { ZmqContext, ZmqSocket } from "../zmq/socket.ts";
import { HandshakeWatch } from "./monitor.ts";
import { loadLibzmq } from "../zmq/ffi.ts";
import {
  curveAvailable,
  isZ85Key,
  keyBytes,
  looksLikeKey,
  publicKeyOf,
  readCertificate,
} from "./certificate.ts";
import { z85Encode } from "./z85.ts";

/**
 * CURVE keys for one socket. With `serverKey` the socket is a client of that
 * server; without it, a server. Keys are Z85 text or 32 bytes; `publicKey` is
 * derived from `secretKey` when absent.
 */
export interface CurveOptions {
  /**
   * The server's public key (client role). A list holds one key per endpoint
   * that connects, in the order they are given, for servers with key pairs of
   * their own (one list entry serves every endpoint).
   */
  serverKey?: string | Uint8Array | readonly (string | Uint8Array)[];
  /** This side's secret key. */
  secretKey: string | Uint8Array;
  /** This side's public key. */
  publicKey?: string | Uint8Array;
}

/** CURVE keys checked and as bytes: what {@linkcode curveForEndpoint} sets. */
export interface CurveKeys {
  /** This side's secret key. */
  secretKey: Uint8Array;
  /** This side's public key. */
  publicKey: Uint8Array;
  /** The server's public key of each endpoint that connects. */
  serverKeys: Map<Endpoint, Uint8Array>;
}

/**
 * Checks `curve` (and that the loaded libzmq has CURVE) and turns its keys into
 * bytes, pairing the server keys with the endpoints of `endpoints` that connect;
 * a problem is a `UsageError`.
 *
 * @example
 * ```ts ignore
 * const keys = curveKeys({ secretKey, serverKey: [east, west] }, endpoints);
 * ```
 */
export function curveKeys(curve: CurveOptions, endpoints: readonly Endpoint[]): CurveKeys {
  if (!curveAvailable()) {
    throw new UsageError(
      `the libzmq at ${loadLibzmq().path} was built without CURVE support: ` +
        "install libzmq5 or point EVENTSTORM_LIBZMQ at one with CURVE",
    );
  }
  const secretKey = keyBytes(curve.secretKey, "CURVE secret key");
  const publicKey = curve.publicKey !== undefined
    ? keyBytes(curve.publicKey, "CURVE public key")
    : keyBytes(publicKeyOf(z85Encode(secretKey)), "CURVE public key");
  const given = curve.serverKey === undefined
    ? []
    : (typeof curve.serverKey === "string" || curve.serverKey instanceof Uint8Array)
    ? [curve.serverKey]
    : curve.serverKey;
  const connecting = endpoints.filter((endpoint) => !endpoint.bind);
  if (given.length > 1 && given.length !== connecting.length) {
    throw new UsageError(
      `${given.length} server keys (--curve-server) for ${connecting.length} ` +
        `${connecting.length === 1 ? "endpoint that connects" : "endpoints that connect"}: ` +
        "give one key for all, or one per connecting endpoint in the order they are given",
    );
  }
  const bytes = given.map((key) => keyBytes(key, "server key"));
  const serverKeys = new Map<Endpoint, Uint8Array>();
  if (bytes.length > 0) {
    connecting.forEach((endpoint, i) =>
      serverKeys.set(endpoint, bytes[bytes.length === 1 ? 0 : i])
    );
  }
  return { secretKey, publicKey, serverKeys };
}

/**
 * Sets CURVE on `socket` for the one endpoint it binds or connects next: libzmq
 * reads the CURVE options at each bind and connect (as it does `ZMQ_IPV6`), so
 * one socket is a server on the endpoints it binds and a client of each
 * connecting endpoint's server key on those it connects. A connecting endpoint
 * without a server key is a `UsageError`.
 *
 * @example
 * ```ts ignore
 * const endpoints = parseEndpoints("@tcp://*:6556,>tcp://regional:5556");
 * const keys = curveKeys({ secretKey, serverKey }, endpoints);
 * for (const endpoint of endpoints) {
 *   curveForEndpoint(socket, keys, endpoint); // a server, then a client of serverKey
 *   socket.attach(endpoint);
 * }
 * ```
 */
export function curveForEndpoint(socket: ZmqSocket, keys: CurveKeys, endpoint: Endpoint): void {
  const { secretKey, publicKey } = keys;
  if (endpoint.bind) {
    socket.useCurve({ secretKey, publicKey });
    return;
  }
  const serverKey = keys.serverKeys.get(endpoint);
  if (serverKey === undefined) {
    throw new UsageError(
      `${endpoint.address} connects, so it needs the server's public key (--curve-server)`,
    );
  }
  socket.useCurve({ secretKey, publicKey, serverKey });
}

/**
 * What Emitter and Collector do to attach their socket: CURVE per endpoint when
 * `curve` is given, and, when it connects anywhere, a watch (returned) that
 * reports failed handshakes (a refused key, a wrong server key, a
 * plaintext/CURVE mismatch) through `report` instead of letting libzmq retry in
 * silence. Their socket has one role, so binding with a server key, or a mix of
 * binding and connecting endpoints under CURVE, is a `UsageError` (the relay sets
 * each endpoint's role with {@linkcode curveForEndpoint}).
 *
 * @example
 * ```ts ignore
 * const watch = attachSecurely(context, socket, endpoints, options.curve, undefined);
 * // ... on close
 * watch?.close();
 * ```
 */
export function attachSecurely(
  context: ZmqContext,
  socket: ZmqSocket,
  endpoints: readonly Endpoint[],
  curve: CurveOptions | undefined,
  report: ((line: string) => void) | undefined,
): HandshakeWatch | undefined {
  const keys = curve === undefined ? undefined : curveKeys(curve, endpoints);
  if (curve !== undefined) {
    const connecting = endpoints.find((endpoint) => !endpoint.bind);
    const binding = endpoints.find((endpoint) => endpoint.bind);
    const serverKeyGiven = [curve.serverKey ?? []].flat().length > 0;
    if (!serverKeyGiven && connecting) {
      throw new UsageError(
        `${connecting.address} connects, so it needs the server's public key (--curve-server)`,
      );
    }
    if (serverKeyGiven && binding) {
      throw new UsageError(
        `${binding.address} binds, which makes this side a CURVE server: ` +
          "drop --curve-server there, or connect instead",
      );
    }
  }
  const watch = endpoints.some((endpoint) => !endpoint.bind)
    ? new HandshakeWatch(
      context,
      socket,
      endpoints,
      report ?? ((line) => console.error(`eventstorm: ${line}`)),
      curve !== undefined,
    )
    : undefined;
  try {
    for (const endpoint of endpoints) {
      if (keys) curveForEndpoint(socket, keys, endpoint);
      socket.attach(endpoint);
    }
  } catch (error) {
    watch?.close();
    throw error;
  }
  return watch;
}

/**
 * The `--curve-server` and `--curve-secret` flags every client command shares.
 *
 * @example
 * ```ts
 * import { CURVE_CLIENT_FLAGS } from "@eventstorm/core/cli";
 * Object.keys(CURVE_CLIENT_FLAGS); // ["curve-server", "curve-secret"]
 * ```
 */
export const CURVE_CLIENT_FLAGS: {
  "curve-server": ListFlagSpec;
  "curve-secret": StringFlagSpec;
} = {
  "curve-server": {
    type: "string",
    multiple: true,
    value: "FILE|KEY",
    help: "encrypt with CURVE: the server's public certificate file or Z85 key; once per " +
      "endpoint that connects, in order, when the servers have key pairs of their own",
  },
  "curve-secret": {
    type: "string",
    value: "FILE",
    help: "this side's secret certificate (eventstorm keygen; mode 0600); alone: be a CURVE server",
  },
};

/**
 * Reads `--curve-server`/`--curve-secret` into {@linkcode CurveOptions}, or
 * undefined when neither is given; files are read and checked now, so that a bad
 * key is a one-line usage error at start.
 *
 * @example
 * ```ts
 * import { curveFromFlags } from "@eventstorm/core/cli";
 * curveFromFlags({ "curve-server": [], "curve-secret": undefined }); // undefined: plaintext
 * ```
 */
export function curveFromFlags(
  values: FlagValues<typeof CURVE_CLIENT_FLAGS>,
): CurveOptions | undefined {
  const { "curve-server": server, "curve-secret": secret } = values;
  if (server.length === 0 && secret === undefined) return undefined;
  if (secret === undefined) {
    throw new UsageError("--curve-server needs --curve-secret (this side's own key pair)");
  }
  if (looksLikeKey(secret) && !exists(secret)) {
    // Never echo it: this is most likely the secret key itself.
    throw new UsageError(
      "--curve-secret takes a certificate FILE (from eventstorm keygen), not a key",
    );
  }
  const mine = readCertificate(secret, { secret: true });
  return {
    serverKey: server.length === 0
      ? undefined
      : server.length === 1
      ? serverKeyFrom(server[0])
      : server.map(serverKeyFrom),
    secretKey: mine.secretKey!,
    publicKey: mine.publicKey,
  };
}

/**
 * {@linkcode curveFromFlags} for a command whose sockets use `endpoints`, warning
 * (once per endpoint) when one binds plaintext TCP off loopback.
 *
 * @example
 * ```ts
 * import { commandCurve } from "@eventstorm/core/cli";
 * const plaintext = { "curve-server": [], "curve-secret": undefined };
 * commandCurve("emit", plaintext, [">tcp://127.0.0.1:5555"]); // undefined: plaintext, no warning
 * ```
 */
export function commandCurve(
  label: string,
  values: FlagValues<typeof CURVE_CLIENT_FLAGS>,
  endpoints: readonly string[],
): CurveOptions | undefined {
  const curve = curveFromFlags(values);
  warnPlaintextBinds(label, endpoints.flatMap((text) => parseEndpoints(text)), curve);
  return curve;
}

/**
 * A server key from a Z85 key or a certificate file (public or secret: only the
 * public key is taken).
 *
 * @example
 * ```ts
 * import { serverKeyFrom } from "@eventstorm/core/cli";
 * serverKeyFrom("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
 * ```
 */
export function serverKeyFrom(value: string): string {
  if (!exists(value)) {
    if (isZ85Key(value)) return value;
    if (looksLikeKey(value)) {
      // Not echoed: a key a character off is still mostly a key.
      throw new UsageError(
        "--curve-server is neither a valid CURVE key (40 Z85 characters) nor a certificate file",
      );
    }
  }
  return readCertificate(value).publicKey;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Warns, once per endpoint, when a socket binds plaintext TCP on an address other
 * than loopback: events would cross the network readable and open to anyone.
 *
 * @example
 * ```ts
 * import { warnPlaintextBinds } from "@eventstorm/core/cli";
 * warnPlaintextBinds("router", [{ bind: true, address: "tcp://127.0.0.1:5555" }], undefined); // quiet
 * ```
 */
export function warnPlaintextBinds(
  label: string,
  endpoints: readonly Endpoint[],
  curve: CurveOptions | undefined,
  print: (line: string) => void = console.error,
): void {
  if (curve) return;
  for (const endpoint of networkBinds(endpoints)) {
    print(
      `${label}: warning: ${endpoint.address} is plaintext TCP on a non-loopback address: ` +
        "anyone who reaches it can read and send events (see docs/security.md: --curve-secret)",
    );
  }
}

/**
 * Warns once when a receiver binds TCP on an address other than loopback while
 * the loaded libzmq caps each frame of a message, not the message: a connected
 * peer could make the process hold any number of frames. A libzmq built by
 * `scripts/libzmq.sh` caps whole messages and keeps this quiet.
 *
 * @example
 * ```ts
 * import { warnPerFrameLimit } from "@eventstorm/core/cli";
 * warnPerFrameLimit("router", [{ bind: true, address: "tcp://127.0.0.1:5555" }]); // quiet
 * ```
 */
export function warnPerFrameLimit(
  label: string,
  endpoints: readonly Endpoint[],
  print: (line: string) => void = console.error,
): void {
  if (networkBinds(endpoints).length === 0) return;
  const lib = loadLibzmq();
  if (lib.boundsWholeMessages) return;
  print(
    `${label}: warning: libzmq ${lib.version} (${lib.path}) caps each frame, not whole ` +
      "messages: a connected peer can make this process hold many frames " +
      "(see docs/security-notes.md: scripts/libzmq.sh builds one that caps messages)",
  );
}

/** Endpoints that bind TCP on an address other than loopback. */
function networkBinds(endpoints: readonly Endpoint[]): Endpoint[] {
  return endpoints.filter((endpoint) => {
    if (!endpoint.bind || !endpoint.address.startsWith("tcp://")) return false;
    const host = endpoint.address.slice(6).replace(/:[^:]*$/, "").replace(/^\[|\]$/g, "");
    return !(host === "localhost" || host === "::1" || /^127\./.test(host));
  });
}
