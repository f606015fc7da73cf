/**
 * Setting fields whose names come from data (event fields, host names, types).
 *
 * @module
 */

/**
 * Sets an own enumerable property, even one named `__proto__`, which plain
 * assignment would take as the prototype (and drop the value).
 *
 * @example
 * ```ts
 * import { setField } from "@eventstorm/core/internal";
 * const hosts: Record<string, unknown> = {};
 * setField(hosts, "__proto__", 1);
 * Object.keys(hosts); // ["__proto__"]
 * ```
 */
export function setField<T>(target: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}
