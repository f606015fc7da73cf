/**
 * Temporary directories that remove themselves, with no imports, so that every
 * package's tests can share it (like `wait.ts`).
 *
 * @module
 */

/** A temporary directory; `await using` removes it with everything in it. */
export interface TempDir extends AsyncDisposable {
  /** Absolute path of the directory. */
  readonly path: string;
}

/**
 * Makes a temporary directory that is removed, recursively, when the `await using`
 * scope that holds it ends, whether the test passed or threw.
 *
 * @example
 * ```ts ignore
 * await using temp = await tempDir();
 * await Deno.writeTextFile(`${temp.path}/a.log`, "x\n");
 * ```
 */
export async function tempDir(options: Deno.MakeTempOptions = {}): Promise<TempDir> {
  const path = await Deno.makeTempDir(options);
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    },
  };
}
