/**
 * Whether this process reads every journal whose sequence numbers it sees.
 *
 * @module
 */

/** Where journald keeps the system journal: persistent storage, then volatile. */
const JOURNAL_ROOTS = ["/var/log/journal", "/run/log/journal"];

/**
 * Whether this process may read the system journal under `roots`
 * (`ROOT/MACHINE-ID/system.journal`). The user journals continue its sequence
 * numbers, so a reader that sees only its own user journal finds gaps that are
 * entries it may not read, not entries lost. True when there is no system
 * journal at all.
 *
 * @example
 * ```ts
 * import { readsSystemJournal } from "@eventstorm/source-journald";
 * readsSystemJournal(["/nonexistent"]); // true: no system journal to miss
 * ```
 */
export function readsSystemJournal(roots: readonly string[] = JOURNAL_ROOTS): boolean {
  for (const root of roots) {
    let machines: Deno.DirEntry[];
    try {
      machines = [...Deno.readDirSync(root)];
    } catch (error) {
      if (error instanceof Deno.errors.PermissionDenied) return false;
      continue;
    }
    for (const machine of machines) {
      if (!machine.isDirectory) continue;
      try {
        Deno.openSync(`${root}/${machine.name}/system.journal`).close();
        return true;
      } catch (error) {
        if (error instanceof Deno.errors.PermissionDenied) return false;
      }
    }
  }
  return true;
}
