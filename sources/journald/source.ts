/**
 * Follows the journal through `journalctl -o export`, with a cursor checkpoint.
 *
 * @module
 */
import type { Event, EventOutput } from "@eventstorm/core";
import {
  EventSender,
  flushUnlessStopped,
  type OutputResume,
  StreamCheckpointFile,
} from "@eventstorm/core/source";
import { UsageError } from "@eventstorm/core/cli";
import { sleep } from "@eventstorm/core/internal";
import { ExportParser } from "./export_format.ts";
import type { JournalRouter } from "./router.ts";
import { cursorPosition, entryPosition, SeqnumGaps } from "./seqnum.ts";
import { readsSystemJournal } from "./access.ts";

/** Options of {@linkcode JournaldSource}. */
export interface JournaldSourceOptions {
  /** Routes entries to parsers. */
  router: JournalRouter;
  /** Builds the output from the checkpoint's stream id and positions. */
  output: (resume: OutputResume) => EventOutput | Promise<EventOutput>;
  /** Host for entries without `_HOSTNAME`. */
  host: string;
  /** Host of every event. */
  hostOverride?: string;
  /** Only these units (`journalctl -u`). */
  units?: readonly string[];
  /** Only these syslog identifiers (`journalctl -t`). */
  identifiers?: readonly string[];
  /** Read this journal directory instead of the system journal. */
  directory?: string;
  /** Read these journal files instead of the system journal. */
  files?: readonly string[];
  /** Without a checkpoint: the whole journal first (default: only new entries). */
  fromStart?: boolean;
  /** Read to the end and stop (no `--follow`). */
  once?: boolean;
  /** The journalctl program. */
  journalctl?: string;
  /** Checkpoint file (cursor, stream numbering, open Postfix state). */
  checkpointPath?: string;
  /** Stops the source; it flushes and checkpoints first. */
  signal?: AbortSignal;
  /** Called with each journalctl command line started. */
  onJournalctl?: (args: string[], pid: number) => void;
}

/** Counters of a {@linkcode JournaldSource}. */
export interface JournaldSourceStats {
  /** Entries read. */
  entries: number;
  /** Events sent. */
  events: number;
  /** Entries a parser did not understand. */
  unparsed: number;
  /** Parser exceptions. */
  parserErrors: number;
  /** Invalid events, dropped. */
  rejected: number;
  /** Malformed export fields, skipped. */
  badFields: number;
  /** journalctl restarts after it ended on its own. */
  restarts: number;
  /** Checkpoints written. */
  checkpoints: number;
  /**
   * Entries gone from the journal before they were read (vacuumed or rotated away):
   * the seqnums skipped, counted only when journalctl shows every entry (no unit,
   * identifier or file filter).
   */
  lost: number;
}

/** The least time between two warnings of entries lost while following. */
const LOST_WARNING_MS = 60_000;

/** The wait before journalctl runs again after it ended, doubled while it fails at once. */
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;

/**
 * The journald source's run loop. Events are sent in journal order; the cursor
 * of the last entry handled is checkpointed with the stream positions after a
 * flush, so a restart (of the source or of journalctl) resumes after it: what
 * is read again is numbered as before and dropped by receivers.
 *
 * @example
 * ```ts ignore
 * import { PrintOutput } from "@eventstorm/core/source";
 * import { JournaldSource, JournalRouter } from "@eventstorm/source-journald";
 * await new JournaldSource({
 *   router: new JournalRouter({ generic: true }),
 *   output: (resume) => new PrintOutput(resume),
 *   host: "me",
 *   once: true,
 *   fromStart: true,
 * }).run();
 * ```
 */
export class JournaldSource {
  readonly #options: JournaldSourceOptions;
  readonly #counts: JournaldSourceStats = {
    entries: 0,
    events: 0,
    unparsed: 0,
    parserErrors: 0,
    rejected: 0,
    badFields: 0,
    restarts: 0,
    checkpoints: 0,
    lost: 0,
  };
  readonly #gaps = new SeqnumGaps();
  /** When entries lost while following were last said. */
  #lostSaidAt = -Infinity;
  #cursor: string | undefined;
  /** journalctl refused the checkpoint's cursor: run it again without. */
  #cursorDropped = false;
  /** The reason journalctl last failed, said once until it reads entries again. */
  #failedWith: string | undefined;
  readonly #sender: EventSender;
  /** The output, once open. */
  output: EventOutput | undefined;

  /** Creates the source; nothing runs before {@linkcode JournaldSource.run}. */
  constructor(options: JournaldSourceOptions) {
    this.#options = options;
    this.#sender = new EventSender(options.hostOverride);
    const filtered = !!(options.units?.length || options.identifiers?.length ||
      options.files?.length);
    this.#unreadable = !filtered && options.directory === undefined && !readsSystemJournal();
    this.#countsLoss = !filtered && !this.#unreadable;
  }

  /** Counters so far. */
  stats(): JournaldSourceStats {
    this.#counts.events = this.#sender.events;
    this.#counts.rejected = this.#sender.rejected;
    this.#counts.parserErrors = this.#sender.parserErrors;
    return { ...this.#counts };
  }

  /** The journalctl arguments for a run that starts after `cursor`. */
  args(cursor: string | undefined): string[] {
    const o = this.#options;
    const args = ["-o", "export", "--no-pager", "-q"];
    if (!o.once) args.push("--follow");
    // --cursor, not --after-cursor: when the cursor's entry is gone (vacuumed),
    // journalctl 252 seeks to the next entry and --after-cursor then skips that one
    // too, an entry that was still there. The cursor's own entry is dropped on reading.
    if (cursor !== undefined) args.push("--cursor", cursor, "--no-tail");
    else if (o.fromStart || o.once) args.push("--no-tail");
    else args.push("--lines=0");
    if (o.directory !== undefined) args.push("--directory", o.directory);
    for (const file of o.files ?? []) args.push("--file", file);
    for (const unit of o.units ?? []) args.push("--unit", unit);
    for (const id of o.identifiers ?? []) args.push("--identifier", id);
    return args;
  }

  /** Runs until the signal aborts (or, with `once`, the end of the journal). */
  async run(): Promise<JournaldSourceStats> {
    const o = this.#options;
    if (this.#unreadable) {
      console.error(
        "warning: this user cannot read the system journal, so journal entries lost are not " +
          "counted (its gaps would be other users' entries): run as root or in group " +
          "systemd-journal",
      );
    }
    const store = o.checkpointPath
      ? new StreamCheckpointFile(o.checkpointPath, "journald")
      : undefined;
    const saved = await store?.load();
    if (saved?.parser !== undefined) o.router.restore(saved.parser);
    this.#cursor = saved?.cursor;
    const output = await o.output(StreamCheckpointFile.resume(saved));
    this.output = output;
    const save = async () => {
      if (!store) return;
      await store.save(output, o.router.snapshot(), this.#cursor);
      this.#counts.checkpoints++;
    };
    const signal = o.signal;
    let flushed = true;
    let delay = RESTART_MIN_MS;
    try {
      await save();
      while (!signal?.aborted) {
        const entriesBefore = this.#counts.entries;
        const ended = await this.#follow(output, save);
        if (!ended) {
          flushed = false;
          break;
        }
        const again = this.#cursorDropped;
        this.#cursorDropped = false;
        if ((o.once && !again) || signal?.aborted) break;
        // journalctl ended on its own (killed, journal rotated away, crashed): start
        // it again after the last entry handled.
        this.#counts.restarts++;
        // One that keeps failing at once (a missing journal directory, no access) is
        // retried ever less often, as systemd restarts units, not twice a second for good.
        if (this.#counts.entries > entriesBefore) {
          delay = RESTART_MIN_MS;
          this.#failedWith = undefined;
        }
        await sleep(again ? 0 : delay, signal);
        delay = Math.min(delay * 2, RESTART_MAX_MS);
      }
      if (flushed && o.once && !signal?.aborted) {
        this.#sender.send(this.#sender.call(() => o.router.end()), output);
      }
      if (flushed && (await flushUnlessStopped(output, signal))) await save();
    } finally {
      await output.close();
    }
    return this.stats();
  }

  /** One journalctl run; false when stopped while the output could not flush. */
  async #follow(output: EventOutput, save: () => Promise<void>): Promise<boolean> {
    const o = this.#options;
    const signal = o.signal;
    const args = this.args(this.#cursor);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(o.journalctl ?? "journalctl", {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      throw new UsageError(`cannot run journalctl: ${(error as Error).message}`);
    }
    o.onJournalctl?.(args, child.pid);
    const stop = () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
    };
    signal?.addEventListener("abort", stop, { once: true });
    let stderr = "";
    const errors = (async () => {
      for await (const chunk of child.stderr) stderr += new TextDecoder().decode(chunk);
    })();
    const parser = new ExportParser();
    let lastSave = Date.now();
    let lastTick = Date.now();
    let ok = true;
    let failure: string | undefined;
    let countedBad = 0;
    const entriesBefore = this.#counts.entries;
    const resumed = this.#cursor;
    let first = resumed !== undefined;
    try {
      for await (const chunk of child.stdout) {
        for (const entry of parser.push(chunk)) {
          if (first) {
            first = false;
            if (this.#resumedAt(entry, resumed!)) continue;
          } else this.#countGap(entry);
          this.#handle(entry, output);
          if (entry.__CURSOR !== undefined) this.#cursor = entry.__CURSOR;
        }
        // As they happen: journalctl --follow runs for days, and counts that waited for
        // its end would read 0 on every stats line meanwhile.
        countedBad = this.#countBadFields(parser, countedBad);
        const now = Date.now();
        if (now - lastTick >= 1000) {
          lastTick = now;
          this.#sender.send(this.#sender.call(() => o.router.tick(new Date())), output);
        }
        if (now - lastSave >= 1000) {
          if (!(await flushUnlessStopped(output, signal))) {
            ok = false;
            break;
          }
          await save();
          lastSave = Date.now();
        }
        await output.ready?.(signal);
      }
    } finally {
      signal?.removeEventListener("abort", stop);
      stop();
      const status = await child.status;
      await errors;
      this.#countBadFields(parser, countedBad);
      if (!signal?.aborted && !status.success && status.signal === null) {
        const reason = stderr.trim().split("\n")[0];
        const cursor = this.#cursor;
        if (
          cursor !== undefined && this.#counts.entries === entriesBefore &&
          /cursor/i.test(reason)
        ) {
          // A cursor journalctl cannot seek to (a checkpoint edited, damaged or from
          // another machine) fails every restart the same way: without it, the source
          // starts as it would without a checkpoint instead of retrying forever.
          this.#cursor = undefined;
          this.#cursorDropped = true;
          console.error(
            `warning: journalctl cannot resume after the checkpoint's cursor (${reason}); ` +
              `reading ${
                o.fromStart || o.once ? "the whole journal" : "new entries only"
              } as without a checkpoint`,
          );
        } else if (o.once) failure = `journalctl ${args.join(" ")}: ${reason}`;
        else if (reason !== this.#failedWith) {
          this.#failedWith = reason;
          console.error(
            `warning: journalctl exited with ${status.code}: ${reason}; restarting, ` +
              `then with backoff up to ${RESTART_MAX_MS / 1000}s (counted in restarts)`,
          );
        }
      }
    }
    if (failure !== undefined) throw new UsageError(failure);
    return ok;
  }

  /**
   * Whether a seqnum journalctl skips is an entry gone, counted lost: only when it
   * shows every entry. With a unit or identifier filter the skipped ones are mostly
   * entries of other programs, with --file those of the journal's other files, and
   * for a user who cannot read the system journal its entries (the user journals
   * share the system journal's seqnums).
   */
  readonly #countsLoss: boolean;
  /** Unfiltered, but this user cannot read the system journal (see readsSystemJournal). */
  readonly #unreadable: boolean;

  /**
   * Checks the first entry after `cursor` against it: true for the cursor's own entry
   * (read before). Seqnums it skipped in the cursor's journal were vacuumed or rotated
   * away while the source was not reading, and are counted lost.
   */
  #resumedAt(entry: Record<string, string>, cursor: string): boolean {
    const at = entryPosition(entry);
    const saved = cursorPosition(cursor);
    if (at === undefined || saved === undefined) return entry.__CURSOR === cursor;
    if (at.id === saved.id && at.seqnum === saved.seqnum) {
      this.#gaps.seen(at);
      return true;
    }
    if (at.id !== saved.id) {
      if (this.#gaps.last(saved.id) === undefined) this.#gaps.seen(saved);
      this.#gaps.seen(at);
      console.error(
        `warning: the first journal entry after the checkpoint's cursor is from another ` +
          `journal (seqnum id ${at.id}, the cursor's is ${saved.id}): if the journal was ` +
          `replaced or vacuumed, the entries lost in between cannot be counted`,
      );
      return false;
    }
    this.#gaps.seen(saved);
    const missed = this.#gaps.next(at);
    if (missed > 0 && this.#countsLoss) {
      this.#counts.lost += missed;
      console.error(
        `warning: ${missed} journal entries lost: the checkpoint's cursor is entry ` +
          `${saved.seqnum} of journal ${saved.id}, the next one left is ${at.seqnum} ` +
          `(vacuumed or rotated away before they were read; counted in lost)`,
      );
    }
    return false;
  }

  /** Counts the seqnums skipped before `entry` while following (see `#countsLoss`). */
  #countGap(entry: Record<string, string>): void {
    const at = entryPosition(entry);
    if (at === undefined) return;
    const last = this.#gaps.last(at.id);
    const missed = this.#gaps.next(at);
    if (missed === 0 || !this.#countsLoss) return;
    this.#counts.lost += missed;
    const now = Date.now();
    if (now - this.#lostSaidAt < LOST_WARNING_MS) return;
    this.#lostSaidAt = now;
    console.error(
      `warning: ${missed} journal entries lost while following: journal ${at.id} went ` +
        `from entry ${last} to ${at.seqnum} (vacuumed or rotated away before journalctl ` +
        `read them; counted in lost, said at most once a minute)`,
    );
  }

  /** Adds the fields `parser` refused since `counted`; returns its count now. */
  #countBadFields(parser: ExportParser, counted: number): number {
    this.#counts.badFields += parser.stats.badFields - counted;
    return parser.stats.badFields;
  }

  #handle(entry: Record<string, string>, output: EventOutput): void {
    this.#counts.entries++;
    let events: Event[] | undefined;
    try {
      events = this.#options.router.route(entry, this.#options.host);
    } catch {
      this.#sender.parserErrors++;
    }
    if (events === undefined) {
      this.#counts.unparsed++;
      return;
    }
    this.#sender.send(events, output);
  }
}
