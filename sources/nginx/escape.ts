/**
 * Undoing the escaping nginx applies to variables in access logs.
 *
 * @module
 */

/** How a `log_format` escapes variable values (its `escape=` parameter). */
export type LogEscape = "default" | "json" | "none";

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });
const utf8 = new TextEncoder();

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/**
 * Decodes nginx's default escaping, where `"`, `\`, control bytes and every byte
 * from 0x7F up are written as `\xHH`. The bytes are read as UTF-8; when they are not
 * valid UTF-8 (a TLS handshake sent to a plain-HTTP port) the text is returned as
 * logged, escapes included, so nothing is lost or replaced.
 *
 * @example
 * ```ts
 * import { decodeDefaultEscapes } from "@eventstorm/source-nginx";
 * decodeDefaultEscapes("say \\x22hi\\x22 \\xC3\\xA9"); // 'say "hi" é'
 * decodeDefaultEscapes("\\x16\\x03\\x01\\x00\\xA5"); // unchanged: not UTF-8
 * ```
 */
export function decodeDefaultEscapes(text: string): string {
  if (text.indexOf("\\x") === -1) return text;
  const bytes: number[] = [];
  let plainStart = 0;
  const flushPlain = (end: number) => {
    if (end > plainStart) {
      for (const byte of utf8.encode(text.slice(plainStart, end))) bytes.push(byte);
    }
  };
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 92 || text.charCodeAt(i + 1) !== 120) continue;
    const high = hexValue(text.charCodeAt(i + 2));
    const low = hexValue(text.charCodeAt(i + 3));
    if (high < 0 || low < 0) continue;
    flushPlain(i);
    bytes.push(high * 16 + low);
    i += 3;
    plainStart = i + 1;
  }
  flushPlain(text.length);
  try {
    return fatalUtf8.decode(new Uint8Array(bytes));
  } catch {
    return text;
  }
}

/**
 * Decodes `escape=json` values (`\"`, `\\`, `\n`, `\u0001`...); text that is not a
 * valid JSON string body is returned unchanged.
 *
 * @example
 * ```ts
 * import { decodeJsonEscapes } from "@eventstorm/source-nginx";
 * decodeJsonEscapes('say \\"hi\\"'); // 'say "hi"'
 * ```
 */
export function decodeJsonEscapes(text: string): string {
  if (text.indexOf("\\") === -1) return text;
  try {
    const decoded = JSON.parse(`"${text}"`);
    return typeof decoded === "string" ? decoded : text;
  } catch {
    return text;
  }
}
