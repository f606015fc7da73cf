/**
 * Admission of CURVE clients: a ZAP handler (ZeroMQ RFC 27) and the directory of
 * public certificates it admits.
 *
 * @module
 */
import { UsageError } from "../flags.ts";
import { SocketType, type ZmqContext, type ZmqSocket } from "../zmq/socket.ts";
import { parseCertificate } from "./certificate.ts";
import { z85Encode } from "./z85.ts";

/** The inproc address libzmq sends ZAP requests to, in each context. */
const ZAP_ENDPOINT = "inproc://zeromq.zap.01";
/** Rescan at least this often even when the directory's mtime did not change (edits in place). */
const RESCAN_MS = 2000;

/**
 * The public keys allowed in: every certificate file in a directory but
 * `*_secret` ones (CZMQ's `zcertstore` layout), re-read when the directory changes, so adding or
 * removing a key needs no restart.
 *
 * @example
 * ```ts ignore
 * import { KeyDirectory } from "@eventstorm/core";
 * const keys = new KeyDirectory("/etc/eventstorm/clients");
 * keys.has("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
 * ```
 */
export class KeyDirectory {
  readonly #dir: string;
  readonly #warn: (line: string) => void;
  #keys = new Map<string, string>();
  #mtime = -1;
  #scannedAt = 0;
  readonly #warned = new Set<string>();

  /** Reads `dir` now: a missing or unreadable directory is a `UsageError`. */
  constructor(dir: string, warn: (line: string) => void = console.error) {
    this.#dir = dir;
    this.#warn = warn;
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(dir);
    } catch {
      throw new UsageError(`--allow-keys ${dir}: no such directory`);
    }
    if (!info.isDirectory) throw new UsageError(`--allow-keys ${dir}: not a directory`);
    this.#scan();
  }

  /** How many keys are allowed now. */
  get size(): number {
    this.#refresh();
    return this.#keys.size;
  }

  /** The certificate's `name` (or file name) when `key` (Z85) is allowed. */
  nameOf(key: string): string | undefined {
    this.#refresh();
    return this.#keys.get(key);
  }

  #refresh(): void {
    let mtime = -2;
    try {
      mtime = Deno.statSync(this.#dir).mtime?.getTime() ?? -2;
    } catch {
      // A directory that vanished admits nobody, as an empty one does.
    }
    if (mtime !== this.#mtime || Date.now() - this.#scannedAt >= RESCAN_MS) this.#scan();
  }

  #scan(): void {
    const keys = new Map<string, string>();
    let mtime = -2;
    try {
      mtime = Deno.statSync(this.#dir).mtime?.getTime() ?? -2;
      for (const entry of Deno.readDirSync(this.#dir)) {
        // As CZMQ's zcertstore: secret halves of pairs kept beside are not admissions.
        if (!entry.isFile || entry.name.startsWith(".") || entry.name.endsWith("_secret")) {
          continue;
        }
        const path = `${this.#dir}/${entry.name}`;
        try {
          if (Deno.statSync(path).size > 64 * 1024) throw new UsageError(`${path}: too large`);
          const certificate = parseCertificate(Deno.readTextFileSync(path), path);
          keys.set(certificate.publicKey, certificate.metadata.get("name") ?? entry.name);
        } catch (error) {
          if (!this.#warned.has(path)) {
            this.#warned.add(path);
            this.#warn(`skipping ${error instanceof UsageError ? error.message : path}`);
          }
        }
      }
    } catch {
      // Unreadable now: admit nobody until it is readable again.
    }
    this.#keys = keys;
    this.#mtime = mtime;
    this.#scannedAt = Date.now();
  }
}

/** One ZAP request, as the handler's decision sees it. */
export interface ZapRequest {
  /** ZAP domain of the socket that asks. */
  domain: string;
  /** The peer's IP address. */
  address: string;
  /** `CURVE`, `NULL` or `PLAIN`. */
  mechanism: string;
  /** The client's public key in Z85 (CURVE only). */
  key?: string;
}

/** A decision: admit with this user id, or refuse. */
export type ZapDecision = { admit: true; userId: string } | { admit: false; reason: string };

/** Counters of a {@linkcode ZapHandler}. */
export interface ZapStats {
  /** Requests answered 200. */
  admitted: number;
  /** Requests answered 400 (unknown key). */
  refused: number;
  /** Requests that were not valid ZAP (answered 500). */
  malformed: number;
}

/**
 * A ZAP handler on the JS thread: its socket must be polled with the owner's
 * other sockets (see {@linkcode ZapHandler.socket}), and {@linkcode ZapHandler.handle}
 * called when it is readable. One per context.
 *
 * @example
 * ```ts ignore
 * const zap = new ZapHandler(context, (request) =>
 *   request.key && keys.nameOf(request.key)
 *     ? { admit: true, userId: request.key }
 *     : { admit: false, reason: "unknown key" });
 * ```
 */
export class ZapHandler {
  readonly #socket: ZmqSocket;
  readonly #decide: (request: ZapRequest) => ZapDecision;
  readonly #buffers = Array.from({ length: 8 }, () => new Uint8Array(512));
  readonly #sizes = new Int32Array(8);
  readonly #decoder = new TextDecoder();
  readonly #encoder = new TextEncoder();
  readonly #stats: ZapStats = { admitted: 0, refused: 0, malformed: 0 };

  /** Binds the context's ZAP endpoint; `decide` answers each request. */
  constructor(context: ZmqContext, decide: (request: ZapRequest) => ZapDecision) {
    this.#decide = decide;
    this.#socket = context.socket(SocketType.REP);
    this.#socket.configure({ lingerMs: 0 });
    this.#socket.attach({ bind: true, address: ZAP_ENDPOINT });
  }

  /** The socket to poll. */
  get socket(): ZmqSocket {
    return this.#socket;
  }

  /** The counters. */
  stats(): ZapStats {
    return { ...this.#stats };
  }

  /** Answers every request waiting, without blocking. */
  handle(): void {
    while (true) {
      const frames = this.#socket.receive(this.#buffers, this.#sizes);
      if (frames === 0) return;
      this.#socket.send(this.#answer(frames));
    }
  }

  #answer(frames: number): Uint8Array[] {
    const text = (i: number) => this.#decoder.decode(this.#frame(i));
    const requestId = frames >= 2 ? this.#frame(1).slice() : new Uint8Array();
    const reply = (status: string, statusText: string, userId = "") => [
      this.#encoder.encode("1.0"),
      requestId,
      this.#encoder.encode(status),
      this.#encoder.encode(statusText),
      this.#encoder.encode(userId),
      new Uint8Array(),
    ];
    const truncated = Array.from({ length: Math.min(frames, 8) }, (_, i) => i)
      .some((i) => this.#sizes[i] > this.#buffers[i].length);
    if (frames < 6 || frames > 8 || truncated || text(0) !== "1.0") {
      this.#stats.malformed++;
      return reply("500", "malformed ZAP request");
    }
    const mechanism = text(5);
    const request: ZapRequest = { domain: text(2), address: text(3), mechanism };
    if (mechanism === "CURVE") {
      if (frames !== 7 || this.#sizes[6] !== 32) {
        this.#stats.malformed++;
        return reply("500", "malformed CURVE credentials");
      }
      request.key = z85Encode(this.#frame(6));
    }
    let decision: ZapDecision;
    try {
      decision = this.#decide(request);
    } catch {
      decision = { admit: false, reason: "internal error" };
    }
    if (decision.admit) {
      this.#stats.admitted++;
      return reply("200", "OK", decision.userId);
    }
    this.#stats.refused++;
    return reply("400", decision.reason);
  }

  #frame(i: number): Uint8Array {
    return this.#buffers[i].subarray(0, Math.min(this.#sizes[i], this.#buffers[i].length));
  }

  /** Unbinds the handler. */
  close(): void {
    this.#socket.close();
  }
}
