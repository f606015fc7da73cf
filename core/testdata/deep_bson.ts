/**
 * Deeply nested BSON built without recursion, for the depth tests (issue 11 item 3):
 * the bson package itself cannot serialize 100,000 levels.
 *
 * @module
 */

/** `{a: {a: … {} …}}` with `depth` levels below the top, as BSON bytes. */
export function nestedDocument(depth: number, arrays = false): Uint8Array {
  // Level i opens at 7 * i (length, child's type, its one-byte name, NUL); every
  // terminator is a zero at the end, which a new array already holds.
  const total = 5 + 8 * depth;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  for (let i = 0; i <= depth; i++) {
    view.setInt32(7 * i, total - 8 * i, true);
    if (i === depth) break;
    const array = arrays && i % 2 === 1;
    out[7 * i + 4] = array ? 0x04 : 0x03;
    // Array elements are named "0", documents' "a".
    out[7 * i + 5] = array ? 0x30 : 0x61;
  }
  return out;
}

const utf8 = new TextEncoder();

/** A valid event of `type` (envelope first) whose field `deep` nests `depth` levels. */
export function deepEvent(type: string, depth: number, time = new Date()): Uint8Array {
  const parts: Uint8Array[] = [];
  const string = (name: string, value: string) => {
    const text = utf8.encode(value);
    const bytes = new Uint8Array(1 + name.length + 1 + 4 + text.length + 1);
    bytes[0] = 0x02;
    bytes.set(utf8.encode(name), 1);
    new DataView(bytes.buffer).setInt32(name.length + 2, text.length + 1, true);
    bytes.set(text, name.length + 6);
    parts.push(bytes);
  };
  string("type", type);
  const date = new Uint8Array(1 + 5 + 8);
  date[0] = 0x09;
  date.set(utf8.encode("time"), 1);
  new DataView(date.buffer).setBigInt64(6, BigInt(time.getTime()), true);
  parts.push(date);
  string("host", "deep");
  const nested = nestedDocument(depth - 2);
  const field = new Uint8Array(1 + 5 + nested.length);
  field[0] = 0x03;
  field.set(utf8.encode("deep"), 1);
  field.set(nested, 6);
  parts.push(field);
  const length = 4 + parts.reduce((sum, part) => sum + part.length, 0) + 1;
  const out = new Uint8Array(length);
  new DataView(out.buffer).setInt32(0, length, true);
  let offset = 4;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
