/**
 * A component of a pipeline run as a child `eventstorm` process, its stderr kept
 * in a file, so that one command can start and stop a whole pipeline.
 *
 * @module
 */

const CLI = new URL("../../cli.ts", import.meta.url);

/**
 * How to run `eventstorm ARGS` again from this process: the compiled binary is
 * its own command line; from source it is `deno run -A cli.ts`.
 */
function selfCommand(args: string[]): { command: string; args: string[] } {
  const executable = Deno.execPath();
  const isDeno = /^deno(\.exe)?$/.test(executable.split(/[\\/]/).pop()!);
  if (!isDeno || CLI.protocol !== "file:") return { command: executable, args };
  return { command: executable, args: ["run", "-A", CLI.pathname, ...args] };
}

/**
 * One running child component.
 *
 * @example
 * ```ts ignore
 * import { ChildComponent } from "./child.ts";
 * const store = ChildComponent.start("sink-store", ["sink", "store"], "/tmp/store.log");
 * await store.stop();
 * ```
 */
export class ChildComponent {
  /** Name used in messages. */
  readonly name: string;
  /** File holding what the child printed on stderr. */
  readonly logPath: string;
  /** Resolves when the child has exited. */
  readonly exited: Promise<void>;
  readonly #process: Deno.ChildProcess;
  readonly #firstLine: Promise<string | undefined>;
  #code: number | undefined;

  private constructor(name: string, args: string[], logPath: string) {
    this.name = name;
    this.logPath = logPath;
    const log = Deno.openSync(logPath, { write: true, create: true, truncate: true });
    const { command, args: fullArgs } = selfCommand(args);
    this.#process = new Deno.Command(command, {
      args: fullArgs,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // A process group of its own: Ctrl-C in the terminal reaches only the parent,
      // which stops the pipeline in order (sources first), so nothing is lost.
      detached: true,
    }).spawn();
    const logging = this.#process.stderr.pipeTo(log.writable).catch(() => {});
    const lines = this.#process.stdout.pipeThrough(new TextDecoderStream())
      .pipeThrough(splitLines()).getReader();
    this.#firstLine = lines.read().then((result) => result.done ? undefined : result.value);
    // Keep reading, so a chatty child never blocks on a full pipe.
    const draining = this.#firstLine.then(async () => {
      while (!(await lines.read()).done) { /* only the first line matters */ }
    }).catch(() => {});
    this.exited = Promise.all([this.#process.status, logging, draining]).then(([status]) => {
      this.#code = status.code;
    });
  }

  /** Starts `eventstorm ARGS` with its stderr going to `logPath`. */
  static start(name: string, args: string[], logPath: string): ChildComponent {
    return new ChildComponent(name, args, logPath);
  }

  /** Whether the child has exited. */
  get done(): boolean {
    return this.#code !== undefined;
  }

  /** Exit code once exited. */
  get code(): number | undefined {
    return this.#code;
  }

  /** The first line the child prints on stdout, or undefined if none comes in `ms`. */
  async firstStdoutLine(ms: number): Promise<string | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) =>
      timer = setTimeout(() => resolve(undefined), ms)
    );
    try {
      return await Promise.race([this.#firstLine, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Asks the child to stop (SIGTERM, so it flushes), killing it after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.done) {
      try {
        this.#process.kill("SIGTERM");
      } catch { /* exited meanwhile */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) =>
        timer = setTimeout(() => resolve("late"), graceMs)
      );
      if (await Promise.race([this.exited, late]) === "late") {
        try {
          this.#process.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
      }
      clearTimeout(timer);
    }
    await this.exited;
  }

  /** A one-line account of a failure: the name, what happened and the last thing it said. */
  async failure(what: string): Promise<string> {
    let last = "";
    try {
      const text = await Deno.readTextFile(this.logPath);
      last = text.trim().split("\n").filter((line) => line.trim() !== "").pop() ?? "";
    } catch { /* no log yet */ }
    const code = this.#code === undefined ? "" : ` (exit code ${this.#code})`;
    return `${this.name} ${what}${code}${last ? `: ${last}` : ""}`;
  }
}

function splitLines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const part of parts) controller.enqueue(part);
    },
    flush(controller) {
      if (rest) controller.enqueue(rest);
    },
  });
}
