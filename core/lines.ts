/**
 * Lines from a byte stream, for commands that read stdin.
 *
 * @module
 */

/**
 * Yields the lines of a byte stream without their `\n` (or `\r\n`); invalid
 * UTF-8 becomes U+FFFD rather than an error. A last line without a newline is
 * yielded too.
 *
 * @example
 * ```ts
 * import { readLines } from "@eventstorm/core/internal";
 * const stream = ReadableStream.from([new TextEncoder().encode("a\nb\n")]);
 * for await (const line of readLines(stream)) console.log(line);
 * ```
 */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    rest = lines.pop()!;
    for (const line of lines) yield line.endsWith("\r") ? line.slice(0, -1) : line;
  }
  rest += decoder.decode();
  if (rest !== "") yield rest.endsWith("\r") ? rest.slice(0, -1) : rest;
}
