/**
 * Undoing the escaping nginx applies to variables in access logs.
 *
 * @module
 */

/** How a `log_format` escapes variable values (its `escape=` parameter). */
export type LogEscape = "default" | "json" | "none";

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** The byte of a `\xHH` escape at `i`, or -1 when there is none. */
function escapedByte(text: string, i: number): number {
  if (text.charCodeAt(i) !== 92 || text.charCodeAt(i + 1) !== 120) return -1;
  const high = hexValue(text.charCodeAt(i + 2));
  const low = hexValue(text.charCodeAt(i + 3));
  return high < 0 || low < 0 ? -1 : high * 16 + low;
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
  let next = text.indexOf("\\x");
  if (next === -1) return text;
  // Hand-decoded: this runs for every user agent with a quote or a non-ASCII byte,
  // and TextDecoder's per-call cost dominated the parser on such logs.
  let out = "";
  let plainStart = 0;
  while (next !== -1) {
    const lead = escapedByte(text, next);
    if (lead < 0) {
      next = text.indexOf("\\x", next + 1);
      continue;
    }
    out += text.slice(plainStart, next);
    let i = next + 4;
    if (lead < 0x80) {
      out += String.fromCharCode(lead);
    } else {
      // A UTF-8 sequence spread over consecutive escapes.
      let length: number;
      let point: number;
      let min: number;
      if (lead >= 0xc2 && lead <= 0xdf) [length, point, min] = [2, lead & 0x1f, 0x80];
      else if (lead >= 0xe0 && lead <= 0xef) [length, point, min] = [3, lead & 0x0f, 0x800];
      else if (lead >= 0xf0 && lead <= 0xf4) [length, point, min] = [4, lead & 0x07, 0x10000];
      else return text;
      for (let k = 1; k < length; k++) {
        const byte = escapedByte(text, i);
        if (byte < 0x80 || byte > 0xbf) return text;
        point = (point << 6) | (byte & 0x3f);
        i += 4;
      }
      if (point < min || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) return text;
      out += String.fromCodePoint(point);
    }
    plainStart = i;
    next = text.indexOf("\\x", i);
  }
  return out + text.slice(plainStart);
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
