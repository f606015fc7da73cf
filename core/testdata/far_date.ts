/**
 * BSON datetimes no JavaScript Date holds, for the tests of their refusal: the
 * bson package cannot write them, so a marker date is written and overwritten.
 *
 * @module
 */
import { BSON } from "bson";

const MARKER = 0x0123456789abn;

/**
 * An event of `type` whose datetime `ms` is its `time` (depth 0) or a field
 * nested `depth` levels down in documents and arrays.
 */
export function farDatedEvent(type: string, ms: bigint, depth = 0): Uint8Array {
  let value: unknown = new Date(Number(MARKER));
  for (let level = 1; level < depth; level++) value = level % 2 ? { at: value } : [value];
  const bytes = BSON.serialize(
    depth === 0
      ? { type, time: value, host: "h" }
      : { type, time: new Date(0), host: "h", at: value },
  );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (view.getBigInt64(at, true) !== MARKER) at++;
  view.setBigInt64(at, ms, true);
  return bytes;
}
