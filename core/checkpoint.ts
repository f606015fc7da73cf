/**
 * Checkpoint files: JSON written so that a crash at any moment leaves either the
 * old or the new content, never a mix or nothing.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";

const TEMP_SUFFIX = ".tmp";
let tempCounter = 0;

/**
 * Writes `value` as JSON to `path` atomically: a temporary file in the same
 * directory is written and fsynced, renamed over `path`, then the directory is
 * fsynced (where the platform allows) so the rename itself survives a power cut.
 * Missing directories are created.
 *
 * @example
 * ```ts
 * import { readJsonFile, writeJsonAtomic } from "./checkpoint.ts";
 * const path = await Deno.makeTempFile();
 * await writeJsonAtomic(path, { offset: 42 });
 * console.log(await readJsonFile<{ offset: number }>(path)); // { offset: 42 }
 * ```
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${Deno.pid}.${++tempCounter}${TEMP_SUFFIX}`);
  const bytes = new TextEncoder().encode(JSON.stringify(value) + "\n");
  await Deno.mkdir(dir, { recursive: true });
  try {
    const file = await Deno.open(temp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(dir);
}

/**
 * Checks that a checkpoint can be written at `path` (its directory made, a file
 * created and renamed there), without touching a checkpoint already there.
 * Throws the system's error when it cannot, and an `Error` saying so when `path`
 * is a directory or ends in `/`: the probe's file would go beside it and pass,
 * while every save onto the directory would fail.
 *
 * @example
 * ```ts
 * import { probeWritable } from "./checkpoint.ts";
 * await probeWritable(`${await Deno.makeTempDir()}/state/cp.json`);
 * ```
 */
export async function probeWritable(path: string): Promise<void> {
  let directory = /[\\/]$/.test(path);
  try {
    directory ||= (await Deno.stat(path)).isDirectory;
  } catch {
    // Nothing there yet (or unreadable): the probe below says what is wrong.
  }
  if (directory) {
    throw new Error(
      `it is a directory, not a file; name a file in it, like ${join(path, "checkpoint.json")}`,
    );
  }
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${Deno.pid}.${++tempCounter}${TEMP_SUFFIX}`);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(temp, new Uint8Array(), { mode: 0o600 });
  try {
    await Deno.rename(temp, `${temp}.probe`);
  } finally {
    await Deno.remove(temp).catch(() => {});
    await Deno.remove(`${temp}.probe`).catch(() => {});
  }
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await Deno.open(dir, { read: true });
    try {
      await handle.sync();
    } finally {
      handle.close();
    }
  } catch {
    // Windows cannot open directories; the rename is as durable as it gets there.
  }
}

/**
 * Reads a JSON file; `undefined` when it does not exist. Throws an `Error` naming
 * the file when it exists but is not valid JSON.
 *
 * @example
 * ```ts
 * import { readJsonFile } from "./checkpoint.ts";
 * console.log(await readJsonFile("/nonexistent/checkpoint.json")); // undefined
 * ```
 */
export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${(error as Error).message})`);
  }
}

/**
 * One checkpoint file: `load()` it at start, `save()` it as often as needed.
 * Saves never overlap (a save waits for the one before), and temporary files
 * left behind by a process that was killed mid-save are removed on `load()`.
 *
 * @example
 * ```ts
 * import { CheckpointStore } from "@eventstorm/core/source";
 * const store = new CheckpointStore<{ offset: number }>(await Deno.makeTempFile());
 * await store.save({ offset: 42 });
 * console.log((await store.load())?.offset); // 42
 * ```
 */
export class CheckpointStore<T> {
  /** The checkpoint file. */
  readonly path: string;
  #saving: Promise<void> = Promise.resolve();

  /** Creates a store for `path` (nothing is read or written yet). */
  constructor(path: string) {
    this.path = path;
  }

  /** Reads the checkpoint; `undefined` when there is none yet. */
  async load(): Promise<T | undefined> {
    await this.#removeStaleTemps();
    return await readJsonFile<T>(this.path);
  }

  /** Writes the checkpoint atomically, after any save still running. */
  save(value: T): Promise<void> {
    const next = this.#saving.catch(() => {}).then(() => writeJsonAtomic(this.path, value));
    this.#saving = next;
    return next;
  }

  async #removeStaleTemps(): Promise<void> {
    const prefix = `.${basename(this.path)}.`;
    try {
      for await (const entry of Deno.readDir(dirname(this.path))) {
        if (entry.isFile && entry.name.startsWith(prefix) && entry.name.endsWith(TEMP_SUFFIX)) {
          await Deno.remove(join(dirname(this.path), entry.name)).catch(() => {});
        }
      }
    } catch {
      // No directory yet: nothing to clean.
    }
  }
}
