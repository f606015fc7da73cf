/**
 * A process's memory (and CPU time) as the benches report it: RSS (what the targets are
 * written in) and private memory. A Deno process's RSS includes the pages of
 * the `deno` executable it has touched (40–50 MB under load): file-backed,
 * clean and shared by every Deno process on the host. Private memory (the
 * kernel's Private_Clean + Private_Dirty) is what the process itself costs.
 *
 * @module
 */

/**
 * CPU seconds process `pid` has used so far, all its threads (/proc/PID/stat:
 * utime + stime, in clock ticks of 1/100 s).
 */
export async function cpuSecondsOf(pid: number | string): Promise<number> {
  return cpuSecondsIn(await Deno.readTextFile(`/proc/${pid}/stat`));
}

/** The CPU seconds in the text of a process's or a thread's /proc `stat` file. */
function cpuSecondsIn(stat: string): number {
  // Fields after the command's closing parenthesis: utime is the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** What a process's threads do, by the name the kernel shows (`/proc/PID/task/TID/comm`). */
const THREAD_KINDS: [test: (name: string, main: boolean) => boolean, kind: string][] = [
  [(_, main) => main, "main (JavaScript)"],
  [(name) => name.startsWith("worker-"), "Web Workers"],
  [(name) => name.startsWith("V8 "), "V8's helpers (GC, compilers)"],
  [(name) => name.startsWith("ZMQbg/"), "libzmq's I/O"],
];

/**
 * CPU seconds each kind of thread of process `pid` has used so far (see THREAD_KINDS;
 * the rest as "other"): where a process's CPU goes, which its total does not tell.
 * Threads gone by then are not counted.
 */
export async function threadCpuOf(pid: number): Promise<Map<string, number>> {
  const kinds = new Map<string, number>();
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/stat`);
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const kind = THREAD_KINDS.find(([test]) => test(name, task.name === String(pid)))?.[1] ??
      "other";
    kinds.set(kind, (kinds.get(kind) ?? 0) + cpuSecondsIn(stat));
  }
  return kinds;
}

/** Memory of one process, in MB. */
export interface Memory {
  /** Resident set size. */
  rss: number;
  /** Resident pages no other process shares. */
  private: number;
}

/** The memory of process `pid`, or zeros once it is gone. */
export function memoryOf(pid: number): Memory {
  try {
    const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
    return {
      rss: kb("Rss") / 1024,
      private: (kb("Private_Clean") + kb("Private_Dirty")) / 1024,
    };
  } catch {
    return { rss: 0, private: 0 };
  }
}

/** The memory of several processes, summed. */
export function memoryOfAll(pids: number[]): Memory {
  return pids.map(memoryOf).reduce(
    (sum, one) => ({ rss: sum.rss + one.rss, private: sum.private + one.private }),
    { rss: 0, private: 0 },
  );
}

/**
 * The `DENO_V8_FLAGS` a unit in deploy/systemd sets (undefined when it sets
 * none), so that a bench measures a component the way its unit runs it.
 */
export function unitV8Flags(unit: string): string | undefined {
  const path = new URL(`../deploy/systemd/${unit}`, import.meta.url);
  const text = Deno.readTextFileSync(path);
  return /^Environment=DENO_V8_FLAGS=(\S+)$/m.exec(text)?.[1];
}

/** `DENO_V8_FLAGS` per component of the nginx → store pipeline; undefined: V8's defaults. */
export interface PipelineV8Flags {
  source: string | undefined;
  router: string | undefined;
  sink: string | undefined;
}

/** V8's defaults for every component: the baseline a bench compares the units' flags with. */
export const V8_DEFAULTS: PipelineV8Flags = {
  source: undefined,
  router: undefined,
  sink: undefined,
};

/**
 * The pipeline as deployed: each component with its unit's V8 flags (the source
 * as the agent's input runs), and the label a bench prints for that case.
 */
export function deployedPipeline(): { flags: PipelineV8Flags; label: string } {
  const flags: PipelineV8Flags = {
    source: unitV8Flags("eventstorm-agent.service"),
    router: unitV8Flags("eventstorm-router.service"),
    sink: unitV8Flags("eventstorm-sink-store.service"),
  };
  const each = (Object.keys(flags) as (keyof PipelineV8Flags)[])
    .map((name) => `${name} ${flags[name] ?? "none"}`).join("; ");
  return { flags, label: `as the units run them (DENO_V8_FLAGS: ${each})` };
}
