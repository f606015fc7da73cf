/**
 * Aligned text columns for `eventstorm query --table`.
 *
 * @module
 */
import { encodeValue } from "@eventstorm/core/protocol";

/**
 * How one value reads in a table cell: dates as ISO, strings bare, numbers with
 * at most three decimals, other values as compact Extended JSON, absent as empty.
 *
 * @example
 * ```ts
 * import { formatCell } from "@eventstorm/sink-store";
 * formatCell(new Date(0)); // "1970-01-01T00:00:00.000Z"
 * formatCell(2 / 3); // "0.667"
 * ```
 */
export function formatCell(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value.replace(/[\r\n\t]/g, " ");
  if (typeof value === "number") {
    return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(3)));
  }
  if (typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  }
  return JSON.stringify(encodeValue(value)) ?? "";
}

/**
 * Lays rows out under a header in columns padded to their widest cell; columns
 * whose cells are all numbers are aligned right.
 *
 * @example
 * ```ts
 * import { formatTable } from "@eventstorm/sink-store";
 * formatTable(["host", "count"], [["web1", 3], ["web22", 10]]);
 * // "host   count\nweb1       3\nweb22     10\n"
 * ```
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly unknown[])[],
): string {
  const cells = rows.map((row) => header.map((_, i) => formatCell(row[i])));
  const numeric = header.map((_, i) =>
    rows.length > 0 &&
    rows.every((row) => {
      const value = row[i];
      return value === undefined || value === null || typeof value === "number" ||
        typeof value === "bigint";
    })
  );
  const widths = header.map((name, i) =>
    Math.max(name.length, ...cells.map((row) => row[i].length))
  );
  const line = (row: readonly string[]) =>
    row.map((cell, i) => {
      if (i === row.length - 1 && !numeric[i]) return cell;
      return numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
    }).join("  ");
  const head = header.map((name, i) =>
    numeric[i] ? name.padStart(widths[i]) : i === header.length - 1 ? name : name.padEnd(widths[i])
  );
  return [head.join("  "), ...cells.map(line)].map((text) => text.trimEnd()).join("\n") + "\n";
}
