/**
 * Splitting an HTTP request line as nginx logs it in `$request`.
 *
 * @module
 */

/** The parts of a request line; a part is absent when the line does not have it. */
export interface RequestLine {
  /** Request method as sent (`GET`, `PROPFIND`). */
  method?: string;
  /** Request target up to the first `?` (`/search`, `http://x/`, `*`, `host:443`). */
  path?: string;
  /** Text after the first `?`, without it (`q=1`); absent when there is no `?`. */
  query?: string;
  /** Protocol version (`HTTP/1.1`, `HTTP/2.0`); absent for HTTP/0.9 style lines. */
  protocol?: string;
}

function isMethod(text: string, end: number): boolean {
  // nginx itself accepts upper-case letters, `_` and `-`; lower case is kept because
  // clients that send it still get a logged (400) request worth reading.
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (!letter && (i === 0 || !((c >= 48 && c <= 57) || c === 95 || c === 45))) return false;
  }
  return end > 0;
}

/** Whether `text[start..]` is `HTTP/<digits>[.<digits>]`. */
function isProtocol(text: string, start: number): boolean {
  if (!text.startsWith("HTTP/", start)) return false;
  let i = start + 5;
  let digits = 0;
  while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++, digits++;
  if (digits === 0) return false;
  if (i === text.length) return true;
  if (text.charCodeAt(i) !== 46) return false;
  i++;
  digits = 0;
  while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++, digits++;
  return digits > 0 && i === text.length;
}

/**
 * Writes the parts of a request line into `target` (`method`, `path`, `query`,
 * `protocol`), leaving out those the line does not have; the allocation-free core of
 * {@linkcode parseRequestLine}.
 *
 * @example
 * ```ts
 * import { splitRequestLineInto } from "@eventstorm/source-nginx";
 * const event: Record<string, unknown> = {};
 * splitRequestLineInto("OPTIONS * HTTP/1.1", event); // event.path === "*"
 * ```
 */
export function splitRequestLineInto(request: string, target: Record<string, unknown>): void {
  const first = request.indexOf(" ");
  if (first <= 0 || !isMethod(request, first)) return;
  target.method = request.slice(0, first);
  let end = request.length;
  let protocol: string | undefined;
  const last = request.lastIndexOf(" ");
  if (last > first && isProtocol(request, last + 1)) {
    protocol = request.slice(last + 1);
    end = last;
  }
  if (end > first + 1) {
    const question = request.indexOf("?", first + 1);
    if (question >= 0 && question < end) {
      target.path = request.slice(first + 1, question);
      target.query = request.slice(question + 1, end);
    } else {
      target.path = request.slice(first + 1, end);
    }
  }
  if (protocol !== undefined) target.protocol = protocol;
}

/**
 * Splits a request line into method, path, query and protocol. Lines that are not
 * HTTP at all (TLS handshakes sent to a plain port, scanners' probes, `-`) yield an
 * empty object, so an event keeps only its raw `request`.
 *
 * @example
 * ```ts
 * import { parseRequestLine } from "@eventstorm/source-nginx";
 * parseRequestLine("GET /search?q=nginx HTTP/1.1");
 * // { method: "GET", path: "/search", query: "q=nginx", protocol: "HTTP/1.1" }
 * parseRequestLine("\x16\x03\x01\x00\xa5"); // {}
 * ```
 */
export function parseRequestLine(request: string): RequestLine {
  const parts: RequestLine = {};
  splitRequestLineInto(request, parts as Record<string, unknown>);
  return parts;
}
