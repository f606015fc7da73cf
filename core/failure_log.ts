/**
 * A sink's log of backend failures: each distinct error once per spell, on one
 * line and without credentials, and once more when writes succeed again.
 *
 * @module
 */

/**
 * Hides the password of every `scheme://user:password@host` in `text` (and the
 * value of `password=`, `pwd=` or `secret=` options), so an error that repeats a
 * connection string can be printed.
 *
 * @example
 * ```ts
 * import { redactCredentials } from "@eventstorm/core/sink";
 * redactCredentials("mongodb://app:s3cret@db1:27017/?authSource=admin");
 * // "mongodb://app:***@db1:27017/?authSource=admin"
 * ```
 */
export function redactCredentials(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^\s/@:]*):[^\s/@]*@/gi, "$1:***@")
    .replace(/\b(password|passwd|pwd|secret)=[^&;\s]*/gi, "$1=***");
}

/** Distinct errors said per failure spell at most; more would flood the log. */
const MAX_ERRORS_SAID = 10;

/**
 * Says why a backend fails, on one line each: the first time each distinct error
 * shows in a spell of failures, and once when writes succeed again.
 */
export class FailureLog {
  readonly #said = new Set<string>();
  #failures = 0;
  constructor(readonly label: string, readonly log: (line: string) => void) {}

  failed(doing: string, error: unknown): string {
    const message = oneLine(error);
    this.#failures++;
    const key = `${doing}\n${message}`;
    if (this.#said.has(key) || this.#said.size > MAX_ERRORS_SAID) return message;
    this.#said.add(key);
    this.log(
      this.#said.size > MAX_ERRORS_SAID
        ? `${this.label}: ${doing} fails with still other errors; not shown until it succeeds again`
        : `${this.label}: ${doing} fails (${message}); retrying`,
    );
    return message;
  }

  succeeded(doing: string): void {
    if (this.#failures === 0) return;
    if (this.#said.size > 0) {
      const times = this.#failures === 1 ? "1 failed attempt" : `${this.#failures} failed attempts`;
      this.log(`${this.label}: ${doing} succeeds again after ${times}`);
    }
    this.#said.clear();
    this.#failures = 0;
  }
}

/** An error's message, first line only, without credentials, at most 500 characters. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = redactCredentials(text.trim().split("\n")[0].trim()) ||
    (error instanceof Error ? error.name : "unknown error");
  return line.length > 500 ? `${line.slice(0, 497)}...` : line;
}
