/**
 * The handle of the checkpoint thread (checkpoint_worker.ts), kept by the
 * store writer's handle on the sink's main thread, which passes on what the
 * two threads need to know of each other with the batches it hands over.
 *
 * @module
 */

/** What the sink's main thread tells the checkpoint thread. */
export type CheckpointRequest =
  | { kind: "open"; path: string; restartPages: number }
  | { kind: "committed" }
  | { kind: "resume"; startedOver: boolean }
  | { kind: "close" };

/**
 * What the checkpoint thread answers: `ready` once its connection is open, `full` when the
 * WAL should start over, `failed` once, after which it does nothing more.
 */
export type CheckpointReply =
  | { kind: "ready" }
  | { kind: "full" }
  | { kind: "failed"; error: string }
  | { kind: "closed" };

/** WAL pages (16 KiB each in a store the sink created) past which the WAL starts over. */
const RESTART_PAGES = 4096;

/**
 * Starts the checkpoint thread and keeps what it said: whether it is ready
 * (until then, and after it failed, SQLite checkpoints in the writer's commits),
 * and whether the WAL is full (the writer's next commit then copies what is
 * left first and starts the WAL over).
 *
 * @example
 * ```ts ignore
 * import { CheckpointThread } from "./checkpoints.ts";
 * const checkpoints = new CheckpointThread("events.db");
 * checkpoints.ready; // false until its connection is open
 * checkpoints.committed(); // after each commit of the writer thread
 * await checkpoints.close();
 * ```
 */
export class CheckpointThread {
  #thread: Worker | undefined;
  #ready = false;
  #full = false;
  #closed: (() => void) | undefined;

  /** Starts the thread on the store at `path`; the WAL starts over past `restartPages`. */
  constructor(path: string, restartPages = RESTART_PAGES) {
    const thread = new Worker(new URL("./checkpoint_worker.ts", import.meta.url), {
      type: "module",
    });
    thread.onmessage = (event: MessageEvent<CheckpointReply>) => {
      const reply = event.data;
      if (reply.kind === "ready") this.#ready = true;
      else if (reply.kind === "full") this.#full = true;
      else if (reply.kind === "failed") this.#stop();
      else this.#closed?.();
    };
    thread.onerror = (event) => {
      event.preventDefault();
      this.#stop();
    };
    thread.postMessage({ kind: "open", path, restartPages } satisfies CheckpointRequest);
    this.#thread = thread;
  }

  /** Whether the thread does the checkpoints (else SQLite does, in the commits). */
  get ready(): boolean {
    return this.#ready;
  }

  /**
   * Whether the WAL is full: true once per time the thread said so, for the
   * commit that is to start it over. The thread waits for {@linkcode resume}.
   */
  takeFull(): boolean {
    const full = this.#full;
    this.#full = false;
    return full;
  }

  /**
   * The commit that was to start the WAL over is done, and did (`startedOver`) or
   * not (a reader's snapshot still needed the WAL): the thread copies again.
   */
  resume(startedOver: boolean): void {
    this.#post({ kind: "resume", startedOver });
  }

  /** A commit is done (or failed): the thread copies it (with any others it has not yet). */
  committed(): void {
    if (this.#ready) this.#post({ kind: "committed" });
  }

  /** Closes the thread's connection, then ends the thread. */
  async close(): Promise<void> {
    const thread = this.#thread;
    if (thread === undefined) return;
    await new Promise<void>((resolve) => {
      this.#closed = resolve;
      thread.postMessage({ kind: "close" } satisfies CheckpointRequest);
    });
    this.#stop();
  }

  #post(request: CheckpointRequest): void {
    this.#thread?.postMessage(request);
  }

  /** The thread failed, and says nothing more, or closed: SQLite checkpoints again. */
  #stop(): void {
    this.#thread?.terminate();
    this.#thread = undefined;
    this.#ready = this.#full = false;
    this.#closed?.();
  }
}
