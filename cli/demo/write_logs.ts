/**
 * Demo log files written at a steady rate and rotated as logrotate does.
 *
 * @module
 */
import { mulberry32, sleep } from "@eventstorm/core/internal";
import { LogGenerator, type LogGeneratorOptions } from "./loggen.ts";

/** Options of {@linkcode writeDemoLogs}. */
export interface WriteDemoLogsOptions {
  /** Directory that gets `access.log`, `mail.log` and `auth.log` (created if missing). */
  dir: string;
  /**
   * Log entries per second over all three files: about 80% nginx lines, 12% sshd
   * lines and 8% Postfix transactions (several lines each).
   */
  ratePerSecond: number;
  /** Rotate each file this often by rename-and-create (`access.log` → `access.log.1`). */
  rotateEveryMs?: number;
  /** Rotated generations kept (`.1` … `.keep`); older ones are overwritten. */
  keep?: number;
  /** Stops writing; the promise resolves once files are closed. */
  signal: AbortSignal;
  /** Generator options (seed, clock, host name, nginx format). */
  generator?: LogGeneratorOptions;
  /** Called with the lines of each write, before they are written (to count what they make). */
  onLines?: (file: "access.log" | "mail.log" | "auth.log", lines: string[]) => void;
}

const FILES = ["access.log", "mail.log", "auth.log"] as const;

/**
 * Lines {@linkcode writeDemoLogs} wrote to each file, rotated generations included.
 *
 * @example
 * ```ts
 * import type { DemoLogCounts } from "./write_logs.ts";
 * const counts: DemoLogCounts = { access: 0, mail: 0, auth: 0, rotations: 0 };
 * ```
 */
export interface DemoLogCounts {
  /** nginx lines in `access.log`: one request each. */
  access: number;
  /** Postfix lines in `mail.log`. */
  mail: number;
  /** sshd lines in `auth.log`. */
  auth: number;
  /** Rotations of all three files. */
  rotations: number;
}

/**
 * Appends generated lines to `dir/access.log`, `dir/mail.log` and `dir/auth.log`
 * at a steady rate and rotates them the way logrotate does without
 * `copytruncate`: rename to `.1` (shifting older ones up) and create a new file.
 * Resolves with the counts of lines written when `signal` aborts.
 *
 * @example
 * ```ts ignore
 * import { writeDemoLogs } from "./write_logs.ts";
 * const stop = new AbortController();
 * setTimeout(() => stop.abort(), 5000);
 * await writeDemoLogs({ dir: "/tmp/demo-logs", ratePerSecond: 50, signal: stop.signal });
 * ```
 */
export async function writeDemoLogs(options: WriteDemoLogsOptions): Promise<DemoLogCounts> {
  const { dir, signal, rotateEveryMs = 60_000, keep = 2 } = options;
  if (!(options.ratePerSecond > 0)) throw new RangeError("ratePerSecond must be positive");
  if (!(rotateEveryMs > 0)) throw new RangeError("rotateEveryMs must be positive");
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError("keep must be a whole number ≥ 1");
  const seed = options.generator?.seed ?? Date.now();
  const generator = new LogGenerator({ ...options.generator, seed });
  const mix = mulberry32(seed ^ 0x5bd1e995);
  await Deno.mkdir(dir, { recursive: true });
  const open = (name: string) =>
    Deno.open(`${dir}/${name}`, { append: true, create: true, write: true });
  const files = await Promise.all(FILES.map(open));
  const encoder = new TextEncoder();
  const started = performance.now();
  let lastRotation = started;
  let written = 0;
  const counts: DemoLogCounts = { access: 0, mail: 0, auth: 0, rotations: 0 };
  try {
    while (!signal.aborted) {
      const now = performance.now();
      const target = Math.floor(((now - started) / 1000) * options.ratePerSecond);
      // Catch up after a stall, but never by more than a second's worth at once.
      written = Math.max(written, target - Math.ceil(options.ratePerSecond));
      const chunks: string[][] = [[], [], []];
      for (; written < target; written++) {
        const r = mix();
        if (r < 0.8) chunks[0].push(generator.nginxLine());
        else if (r < 0.88) chunks[1].push(...generator.postfixTransaction());
        else chunks[2].push(generator.sshdLine());
      }
      chunks.forEach((lines, i) => lines.length > 0 && options.onLines?.(FILES[i], lines));
      await Promise.all(chunks.map(async (lines, i) => {
        if (lines.length > 0) await writeAll(files[i], encoder.encode(lines.join("\n") + "\n"));
      }));
      counts.access += chunks[0].length;
      counts.mail += chunks[1].length;
      counts.auth += chunks[2].length;
      if (now - lastRotation >= rotateEveryMs) {
        lastRotation = now;
        for (let i = 0; i < FILES.length; i++) {
          files[i].close();
          await rotate(`${dir}/${FILES[i]}`, keep);
          files[i] = await open(FILES[i]);
        }
        counts.rotations++;
      }
      await sleep(Math.min(100, rotateEveryMs), signal);
    }
  } finally {
    for (const file of files) file.close();
  }
  return counts;
}

async function rotate(path: string, keep: number): Promise<void> {
  for (let i = keep - 1; i >= 1; i--) {
    try {
      await Deno.rename(`${path}.${i}`, `${path}.${i + 1}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  await Deno.rename(path, `${path}.1`);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}
