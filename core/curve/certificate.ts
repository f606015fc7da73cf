/**
 * CURVE key pairs and their files, in the CZMQ certificate format (`zcert`), so
 * that keys made by CZMQ tools, rsyslog omczmq setups or pyzmq's
 * `zmq.auth.create_certificates` work here unchanged, and ours work there.
 *
 * A pair is two files: `NAME` holds the public key, `NAME_secret` both keys (mode
 * 0600). Error messages name files, never key material.
 *
 * @module
 */
import { UsageError } from "../flags.ts";
import { loadLibzmq } from "../zmq/ffi.ts";
import { z85Decode } from "./z85.ts";

/** A CURVE key pair, both keys as 40-character Z85 text. */
export interface KeyPair {
  /** The public key, safe to share. */
  publicKey: string;
  /** The secret key. */
  secretKey: string;
}

/** What a certificate file holds. */
export interface Certificate {
  /** The public key (Z85). */
  publicKey: string;
  /** The secret key (Z85), present in `_secret` files only. */
  secretKey?: string;
  /** The `metadata` section, e.g. `name`. */
  metadata: Map<string, string>;
}

/** Certificate files are a few hundred bytes; anything far larger is not one. */
const MAX_CERTIFICATE_BYTES = 64 * 1024;

/**
 * Whether `text` is a CURVE key in Z85 (40 characters that decode to 32 bytes).
 *
 * @example
 * ```ts
 * import { isZ85Key } from "@eventstorm/core";
 * isZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"); // true
 * ```
 */
export function isZ85Key(text: string): boolean {
  return text.length === 40 && z85Decode(text)?.length === 32;
}

/**
 * A key as 32 bytes, from Z85 text or bytes; throws `UsageError` naming `what`.
 *
 * @example
 * ```ts
 * import { keyBytes } from "@eventstorm/core";
 * keyBytes("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "server key").length; // 32
 * ```
 */
export function keyBytes(key: string | Uint8Array, what: string): Uint8Array {
  if (key instanceof Uint8Array) {
    if (key.length !== 32) throw new UsageError(`${what} must be 32 bytes, not ${key.length}`);
    return key;
  }
  const bytes = key.length === 40 ? z85Decode(key) : undefined;
  if (!bytes) throw new UsageError(`${what} is not a 40-character Z85 CURVE key`);
  return bytes;
}

/**
 * Makes a new key pair with libzmq (which uses libsodium or its own TweetNaCl).
 *
 * @example
 * ```ts
 * import { generateKeyPair } from "@eventstorm/core";
 * const { publicKey, secretKey } = generateKeyPair();
 * ```
 */
export function generateKeyPair(): KeyPair {
  const lib = loadLibzmq();
  const keypair = lib.symbols.zmq_curve_keypair;
  if (!keypair || !curveAvailable()) {
    throw new UsageError(`the libzmq at ${lib.path} was built without CURVE support`);
  }
  const publicKey = new Uint8Array(41);
  const secretKey = new Uint8Array(41);
  if (keypair(publicKey, secretKey) !== 0) throw new Error("zmq_curve_keypair failed");
  const decoder = new TextDecoder();
  return {
    publicKey: decoder.decode(publicKey.subarray(0, 40)),
    secretKey: decoder.decode(secretKey.subarray(0, 40)),
  };
}

/**
 * The public key that belongs to a secret key (Z85 in, Z85 out).
 *
 * @example
 * ```ts
 * import { generateKeyPair, publicKeyOf } from "@eventstorm/core";
 * const pair = generateKeyPair();
 * publicKeyOf(pair.secretKey) === pair.publicKey; // true
 * ```
 */
export function publicKeyOf(secretKey: string): string {
  const lib = loadLibzmq();
  const derive = lib.symbols.zmq_curve_public;
  if (!derive) throw new UsageError(`the libzmq at ${lib.path} was built without CURVE support`);
  keyBytes(secretKey, "secret key");
  const out = new Uint8Array(41);
  if (derive(out, new TextEncoder().encode(secretKey + "\0")) !== 0) {
    throw new Error("zmq_curve_public failed");
  }
  return new TextDecoder().decode(out.subarray(0, 40));
}

/**
 * Whether the loaded libzmq can do CURVE.
 *
 * @example
 * ```ts
 * import { curveAvailable } from "@eventstorm/core";
 * if (!curveAvailable()) console.error("no CURVE in this libzmq");
 * ```
 */
export function curveAvailable(): boolean {
  const has = loadLibzmq().symbols.zmq_has;
  return has ? has(new TextEncoder().encode("curve\0")) === 1 : false;
}

/**
 * Parses a certificate's text. `path` only names the file in errors, which are
 * one line and never quote key material.
 *
 * @example
 * ```ts
 * import { parseCertificate } from "@eventstorm/core";
 * const cert = parseCertificate(
 *   'metadata\ncurve\n    public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"\n',
 *   "web1",
 * );
 * cert.publicKey; // "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
 * ```
 */
export function parseCertificate(text: string, path: string): Certificate {
  const sections = new Map<string, Map<string, string>>();
  let section: Map<string, string> | undefined;
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    if (!/^\s/.test(line)) {
      const name = line.trim();
      if (!/^[A-Za-z0-9_/.:-]+$/.test(name)) {
        throw new UsageError(`${path}: line ${n + 1} is not a certificate section name`);
      }
      section = new Map();
      sections.set(name, section);
      continue;
    }
    const match = /^\s+([A-Za-z0-9_.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S*))\s*(?:#.*)?$/.exec(
      line,
    );
    if (!match) {
      // Deliberately no quote of the line: it may hold a secret key.
      throw new UsageError(`${path}: line ${n + 1} is not a 'name = "value"' setting`);
    }
    if (!section) throw new UsageError(`${path}: line ${n + 1} is outside any section`);
    section.set(match[1], match[2] ?? match[3] ?? match[4] ?? "");
  }
  const curve = sections.get("curve");
  const publicKey = curve?.get("public-key");
  if (publicKey === undefined) {
    throw new UsageError(`${path}: not a CURVE certificate (no curve/public-key)`);
  }
  if (!isZ85Key(publicKey)) {
    throw new UsageError(`${path}: curve/public-key is not a 40-character Z85 key`);
  }
  const secretKey = curve?.get("secret-key");
  if (secretKey !== undefined && !isZ85Key(secretKey)) {
    throw new UsageError(`${path}: curve/secret-key is not a 40-character Z85 key`);
  }
  return { publicKey, secretKey, metadata: sections.get("metadata") ?? new Map() };
}

/**
 * Whether `text` looks like CURVE key material rather than a file name: 36 to 44
 * characters of the Z85 alphabet, with a character paths rarely hold (or no `/`
 * at all). Such text is never echoed in an error: a key pasted where a file was
 * wanted would otherwise end up in a terminal's scrollback or a journal.
 *
 * @example
 * ```ts
 * import { looksLikeKey } from "./certificate.ts";
 * looksLikeKey("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"); // true
 * looksLikeKey("/etc/eventstorm/router_secret"); // false
 * ```
 */
export function looksLikeKey(text: string): boolean {
  if (text.length < 36 || text.length > 44 || !Z85_TEXT.test(text)) return false;
  return !/^[A-Za-z0-9/._-]*$/.test(text) || !text.includes("/");
}

const Z85_TEXT = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]*$/;

/**
 * Reads a certificate file. With `secret`, the file must hold a secret key and be
 * readable by its owner only, as ssh insists for private keys. A `path` that
 * {@linkcode looksLikeKey} and names no file is not quoted in the error.
 *
 * @example
 * ```ts ignore
 * import { readCertificate } from "@eventstorm/core";
 * const mine = readCertificate("/etc/eventstorm/web1_secret", { secret: true });
 * ```
 */
export function readCertificate(path: string, options: { secret?: boolean } = {}): Certificate {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (looksLikeKey(path)) {
      throw new UsageError(
        "cannot read certificate: no such file, and the value looks like a key (not shown); " +
          "give a certificate FILE (from eventstorm keygen)",
      );
    }
    throw new UsageError(`cannot read certificate ${path}: ${reason(error)}`);
  }
  if (!info.isFile) throw new UsageError(`certificate ${path} is not a file`);
  if (info.size > MAX_CERTIFICATE_BYTES) {
    throw new UsageError(`${path}: ${info.size} bytes is too large for a certificate`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Deno.readFileSync(path));
  } catch (error) {
    throw new UsageError(`cannot read certificate ${path}: ${reason(error)}`);
  }
  const certificate = parseCertificate(text, path);
  // Before the mode: a public certificate is 0644 by design, and "chmod 600" would
  // be the wrong advice for the wrong file.
  if (options.secret && certificate.secretKey === undefined) {
    throw new UsageError(
      path.endsWith("_secret")
        ? `${path} holds no secret key: it is a public certificate (give a keygen NAME_secret file)`
        : `${path} holds no secret key: it is a public certificate; ` +
          `give its pair's secret file, ${path}_secret`,
    );
  }
  if (
    options.secret && info.mode !== null && (info.mode & 0o077) !== 0 && !isCredential(path)
  ) {
    throw new UsageError(
      `secret key file ${path} is readable by group or others (mode ${
        (info.mode & 0o777).toString(8)
      }): chmod 600 ${path}`,
    );
  }
  return certificate;
}

/**
 * Whether `path` is a systemd credential of this service (`LoadCredential=`, in
 * `$CREDENTIALS_DIRECTORY`): systemd makes it 0400 and grants the service's user
 * read access by an ACL (whose mask then shows as the group bits: mode 0440), or
 * by ownership where the file system has no ACLs. Only that user and root can
 * reach the directory, so the group bits there expose the key to no one.
 */
function isCredential(path: string): boolean {
  let dir: string | undefined;
  try {
    dir = Deno.env.get("CREDENTIALS_DIRECTORY");
  } catch {
    return false; // no permission to read the environment: no exemption
  }
  if (!dir) return false;
  try {
    const real = Deno.realPathSync(path);
    return real.slice(0, real.lastIndexOf("/")) === Deno.realPathSync(dir);
  } catch {
    return false;
  }
}

function reason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof TypeError) return "not UTF-8 text";
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}

/**
 * The text of a certificate in the CZMQ format; with a secret key it is the
 * `_secret` file's text.
 *
 * @example
 * ```ts
 * import { certificateText, generateKeyPair } from "@eventstorm/core";
 * const pair = generateKeyPair();
 * const publicText = certificateText({ publicKey: pair.publicKey, metadata: new Map([["name", "web1"]]) });
 * ```
 */
export function certificateText(certificate: Certificate, now: Date = new Date()): string {
  const secret = certificate.secretKey !== undefined;
  const stamp = now.toISOString().replace("T", " ").replace(/\.\d+Z$/, "");
  const lines = [
    `#   ****  Generated on ${stamp} by eventstorm  ****`,
    `#   ZeroMQ CURVE ${secret ? "**Secret**" : "Public"} Certificate`,
    ...(secret ? ["#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."] : [
      "#   Exchange securely, or use a secure mechanism to verify the contents",
      "#   of this file after exchange.",
    ]),
    "",
    "metadata",
  ];
  for (const [key, value] of certificate.metadata) {
    lines.push(`    ${key} = "${value.replaceAll('"', "'")}"`);
  }
  lines.push("curve", `    public-key = "${certificate.publicKey}"`);
  if (secret) lines.push(`    secret-key = "${certificate.secretKey}"`);
  return lines.join("\n") + "\n";
}

/**
 * Writes a new key pair as `base` (public, mode 0644) and `base_secret` (mode
 * 0600). Refuses to overwrite either file unless `overwrite` is set.
 *
 * @example
 * ```ts ignore
 * import { writeKeyPair } from "@eventstorm/core";
 * const pair = writeKeyPair("/etc/eventstorm/router");
 * console.log(pair.publicKey); // share this one
 * ```
 */
export function writeKeyPair(
  base: string,
  options: { name?: string; overwrite?: boolean } = {},
): KeyPair {
  const secretPath = `${base}_secret`;
  // Both paths are checked before anything is written: a failure half way would
  // leave a secret file with no public one, and block the next try as "exists".
  if (base === "") throw new UsageError("a key pair needs a NAME (e.g. router)");
  if (base.endsWith("/") || isDirectory(base)) {
    const dir = base.replace(/\/+$/, "") || "";
    throw new UsageError(
      `${base} is a directory: give a NAME for the pair in it (e.g. ${dir}/router)`,
    );
  }
  for (const path of [secretPath, base]) {
    if (!options.overwrite && existsNoFollow(path)) {
      throw new UsageError(`${path} exists already (remove it, or pass --force)`);
    }
    if (isDirectory(path)) throw new UsageError(`cannot write ${path}: it is a directory`);
  }
  const pair = generateKeyPair();
  const metadata = new Map([["name", options.name ?? base.replace(/^.*\//, "")]]);
  const write = (path: string, text: string, mode: number) => {
    try {
      Deno.writeTextFileSync(path, text, { mode, createNew: !options.overwrite });
      // An existing file keeps its old mode when overwritten: set it explicitly.
      Deno.chmodSync(path, mode);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) {
        throw new UsageError(`${path} exists already (remove it, or pass --force)`);
      }
      throw new UsageError(`cannot write ${path}: ${reason(error)}`);
    }
  };
  // The secret first: a public file without its secret would be a useless half.
  write(secretPath, certificateText({ ...pair, metadata }), 0o600);
  try {
    write(base, certificateText({ publicKey: pair.publicKey, metadata }), 0o644);
  } catch (error) {
    // No half pair left behind: the secret just written is of no use alone.
    try {
      Deno.removeSync(secretPath);
    } catch {
      // Already gone; the error below is what matters.
    }
    throw error;
  }
  return pair;
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function existsNoFollow(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
