/**
 * Waiting in tests, with no imports, so that every package's tests can share it.
 *
 * @module
 */

/**
 * Polls `condition` every `intervalMs` until it holds or `timeoutMs` passes;
 * throws with `what` then.
 *
 * @example
 * ```ts ignore
 * await waitFor(() => batches.length === 3, "three batches");
 * ```
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Resolves after `ms`.
 *
 * @example
 * ```ts ignore
 * await sleep(50);
 * ```
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
