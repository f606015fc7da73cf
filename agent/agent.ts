/**
 * The agent: runs the inputs of a config, each under its own signal, and
 * applies a new config by stopping removed or changed inputs (after they flush)
 * and starting new ones, leaving the unchanged ones running. An input that fails
 * is restarted with backoff; a reload restarts it at once.
 *
 * @module
 */
import { localHostname } from "@eventstorm/core";
import { type Counters, StatsReporter, UsageError, waitingNotice } from "@eventstorm/core/cli";
import { EmitterLink, SOURCE_SEND_HWM } from "@eventstorm/core/source";
import { sleep } from "@eventstorm/core/internal";
import { type AgentConfig, ConfigError, type InputConfig } from "./config.ts";
import { INPUT_TYPES, type InputContext, type InputKind, type PreparedInput } from "./inputs.ts";

/** A running input. */
interface Running {
  config: InputConfig;
  key: string;
  prepared: PreparedInput;
  /** Stops it for good (a restart after a failure keeps it). */
  controller: AbortController;
  /** Its runs and restarts, until it stops or ends. */
  done: Promise<void>;
  reporter: StatsReporter;
  /** Times it failed since it started. */
  failures: number;
  /** Why it failed last, while it has not run well since. */
  error: string | undefined;
  /** Whether it is waiting to run again after a failure. */
  retrying: boolean;
}

/** First wait before a failed input runs again; it doubles each failure up to the max. */
export const RETRY_MIN_MS = 1000;
/** Longest wait between runs of a failing input. */
export const RETRY_MAX_MS = 60_000;
/** An input that ran this long after a restart counts as recovered. */
const RECOVERED_MS = 5000;

function contextOf(
  config: AgentConfig,
  input: InputConfig,
  link?: () => EmitterLink | undefined,
): InputContext {
  return {
    name: input.name,
    to: config.to,
    curve: config.curve,
    link,
    host: config.host ?? localHostname(),
    stateDir: config.stateDir,
  };
}

/** What makes the agent's connection the same across reloads. */
function linkKeyOf(config: AgentConfig): string {
  const curve = config.curve && [config.curve.serverKey, config.curve.publicKey];
  return JSON.stringify([config.to, curve]);
}

/** What makes an input the same across reloads: its table and the shared settings. */
function keyOf(config: AgentConfig, input: InputConfig): string {
  return JSON.stringify([input.fingerprint, linkKeyOf(config), config.host, config.stateDir]);
}

/**
 * Checks every input of `config` as far as it can without opening anything
 * (values, nginx configs, durations); throws {@linkcode ConfigError} naming
 * every input's mistake, one line each. With `probe`, as `--check` asks, it
 * also looks for what a running agent would meet as a failure and retry (a
 * missing directory for a Unix socket, a journalctl that is not there).
 *
 * @example
 * ```ts ignore
 * import { checkConfig, loadConfig } from "@eventstorm/agent";
 * await checkConfig(await loadConfig("agent.toml"), undefined, { probe: true });
 * ```
 */
export async function checkConfig(
  config: AgentConfig,
  link?: () => EmitterLink | undefined,
  options: { probe?: boolean } = {},
): Promise<Map<string, PreparedInput>> {
  const prepared = new Map<string, PreparedInput>();
  const problems: string[] = [];
  // Flag-style messages name `--flag`; the config says `flag`.
  const asKeys = (message: string) =>
    message.replace(/--([a-z0-9-]+)/g, (_, f: string) => f.replaceAll("-", "_"));
  for (const input of config.inputs) {
    // Its values were built against this kind's spec (parseConfig).
    const kind: InputKind = INPUT_TYPES[input.type];
    const context = contextOf(config, input, link);
    const at = `${config.path}: inputs.${input.name}`;
    try {
      prepared.set(input.name, await kind.prepare(input.values, context));
    } catch (error) {
      if (!(error instanceof UsageError || error instanceof SyntaxError)) throw error;
      problems.push(`${at}: ${asKeys(error.message)}`);
      continue;
    }
    if (options.probe && kind.probe) {
      for (const problem of await kind.probe(input.values, context)) {
        problems.push(`${at}: ${asKeys(problem)}`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return prepared;
}

/** Options of {@linkcode Agent}. */
export interface AgentOptions {
  /** Stats line interval in ms (0: only at the end). */
  statsIntervalMs: number;
  /** Where messages go (stderr by default). */
  log?: (line: string) => void;
  /** Publishes each input's counters as `eventstorm.stats` (component `agent-NAME`). */
  publish?: (fields: Record<string, number | string>) => void;
}

/**
 * Runs inputs and swaps configs.
 *
 * @example
 * ```ts ignore
 * import { Agent, loadConfig } from "@eventstorm/agent";
 * const agent = new Agent({ statsIntervalMs: 60_000 });
 * await agent.apply(await loadConfig("agent.toml"));
 * await agent.stop();
 * ```
 */
export class Agent {
  readonly #running = new Map<string, Running>();
  readonly #options: AgentOptions;
  #applying: Promise<unknown> = Promise.resolve();
  /** The one connection every input publishes on (each its own stream). */
  #link: { key: string; link: EmitterLink } | undefined;

  /** Creates an agent with nothing running. */
  constructor(options: AgentOptions) {
    this.#options = options;
  }

  #log(line: string): void {
    (this.#options.log ?? ((text: string) => console.error(text)))(line);
  }

  /** Names of the inputs running now. */
  get inputs(): string[] {
    return [...this.#running.keys()];
  }

  /**
   * Applies `config`: every input is checked first (a bad config throws and
   * changes nothing), then removed and changed inputs stop, after flushing,
   * and new and changed ones start. Returns what changed.
   */
  apply(config: AgentConfig): Promise<{ started: string[]; stopped: string[]; kept: string[] }> {
    const next = this.#applying.catch(() => {}).then(() => this.#apply(config));
    this.#applying = next;
    return next;
  }

  async #apply(config: AgentConfig) {
    // An unchanged input runs on, unless it failed and waits to retry: then it starts again.
    const unchanged = (running: Running | undefined, input: InputConfig | undefined) =>
      running !== undefined && input !== undefined && !running.retrying &&
      running.key === keyOf(config, input);
    const wanted = new Map(config.inputs.map((input) => [input.name, input]));
    const toStart = config.inputs.filter((input) =>
      !unchanged(this.#running.get(input.name), input)
    );
    // Only what starts is prepared: an unchanged input's config was checked already.
    const prepared = await checkConfig({ ...config, inputs: toStart }, () => this.#link?.link);
    const toStop = [...this.#running.values()].filter((running) =>
      !unchanged(running, wanted.get(running.config.name))
    );
    // A new router or new keys: every input restarts, so nothing will use the old link.
    const closing = this.#link !== undefined && this.#link.key !== linkKeyOf(config)
      ? this.#closeLink()
      : undefined;
    await Promise.all(toStop.map((running) => this.#stopOne(running)));
    await closing;
    const stopped = toStop.map((running) => running.config.name);
    if (toStart.length > 0 && this.#link === undefined) {
      this.#link = {
        key: linkKeyOf(config),
        link: await EmitterLink.open({
          endpoints: config.to,
          curve: config.curve,
          onWaiting: waitingNotice("agent", config.to),
          sendHwm: SOURCE_SEND_HWM,
        }),
      };
    }
    for (const input of toStart) this.#startOne(config, input, prepared.get(input.name)!);
    const started = toStart.map((input) => input.name);
    const kept = config.inputs.map((i) => i.name).filter((name) => !started.includes(name));
    return { started, stopped, kept };
  }

  #startOne(config: AgentConfig, input: InputConfig, prepared: PreparedInput): void {
    const reporter = new StatsReporter({
      component: `agent-${input.name}`,
      intervalMs: this.#options.statsIntervalMs,
      snapshot: () => ({
        ...prepared.counters() as Counters,
        failures: running.failures,
        failing: running.error === undefined ? 0 : 1,
      }),
      format: (current, previous, elapsed) =>
        prepared.format(current, previous, elapsed) +
        (current.failures > 0 ? `, failures ${current.failures}` : "") +
        (running.error === undefined ? "" : `; FAILING, retrying: ${running.error}`),
      print: (line) => this.#log(line),
      publish: this.#options.publish,
    });
    const running: Running = {
      config: input,
      key: keyOf(config, input),
      prepared,
      controller: new AbortController(),
      reporter,
      done: Promise.resolve(),
      failures: 0,
      error: undefined,
      retrying: false,
    };
    running.done = this.#supervise(running);
    this.#running.set(input.name, running);
    reporter.start();
    this.#log(`agent: input ${input.name} (${input.type}) started → ${config.to.join(", ")}`);
  }

  /**
   * Runs the input until it is stopped; a failure is logged (once per distinct
   * error) and the input runs again after a wait that doubles up to
   * {@linkcode RETRY_MAX_MS}, as Fluent Bit and Vector retry theirs.
   */
  async #supervise(running: Running): Promise<void> {
    const name = running.config.name;
    const signal = running.controller.signal;
    let delay = RETRY_MIN_MS;
    let logged: string | undefined;
    while (true) {
      // Ran well long enough: the next failure is news again, and waits the least.
      const recovered = setTimeout(() => {
        if (running.error !== undefined) this.#log(`agent: input ${name} running again`);
        running.error = logged = undefined;
        delay = RETRY_MIN_MS;
      }, RECOVERED_MS);
      try {
        await running.prepared.run(signal);
        if (!signal.aborted) this.#log(`agent: input ${name} ended`);
        return;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (signal.aborted) {
          this.#log(`agent: input ${name} failed: ${message}`);
          return;
        }
        running.failures++;
        running.error = message;
        if (message !== logged) {
          this.#log(
            `agent: input ${name} failed: ${message}; retrying in ${delay / 1000}s, ` +
              `then with backoff up to ${RETRY_MAX_MS / 1000}s (a reload retries at once)`,
          );
          logged = message;
        }
      } finally {
        clearTimeout(recovered);
      }
      running.retrying = true;
      const slept = await sleep(delay, signal);
      running.retrying = false;
      if (!slept) return;
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  async #stopOne(running: Running): Promise<void> {
    running.controller.abort();
    await running.done;
    running.reporter.stop();
    running.reporter.report();
    this.#running.delete(running.config.name);
    this.#log(`agent: input ${running.config.name} stopped`);
  }

  /**
   * Closes the link once every input on it has closed its stream: those closing
   * meanwhile wait for it to drain, so that their last checkpoints cover all
   * they sent (an input stopped while the link stays open makes sure of that
   * itself: see `Emitter.close`).
   */
  #closeLink(): Promise<void> {
    const link = this.#link?.link;
    this.#link = undefined;
    return link?.close({ afterEmitters: true }) ?? Promise.resolve();
  }

  /** Stops every input (each flushes first), then closes the connection. */
  async stop(): Promise<void> {
    await this.#applying.catch(() => {});
    const closing = this.#closeLink();
    await Promise.all([...this.#running.values()].map((running) => this.#stopOne(running)));
    await closing;
  }
}
