/**
 * The agent: runs the inputs of a config, each under its own signal, and
 * applies a new config by stopping removed or changed inputs (after they flush)
 * and starting new ones, leaving the unchanged ones running.
 *
 * @module
 */
import { localHostname } from "@eventstorm/core";
import { type Counters, StatsReporter, UsageError, waitingNotice } from "@eventstorm/core/cli";
import { EmitterLink } from "@eventstorm/core/source";
import { type AgentConfig, ConfigError, type InputConfig } from "./config.ts";
import { INPUT_TYPES, type InputContext, type InputKind, type PreparedInput } from "./inputs.ts";

/** A running input. */
interface Running {
  config: InputConfig;
  key: string;
  prepared: PreparedInput;
  controller: AbortController;
  done: Promise<void>;
  reporter: StatsReporter;
}

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
 * (values, nginx configs, durations); throws {@linkcode ConfigError}.
 *
 * @example
 * ```ts ignore
 * import { checkConfig, loadConfig } from "@eventstorm/agent";
 * await checkConfig(await loadConfig("agent.toml"));
 * ```
 */
export async function checkConfig(
  config: AgentConfig,
  link?: () => EmitterLink | undefined,
): Promise<Map<string, PreparedInput>> {
  const prepared = new Map<string, PreparedInput>();
  for (const input of config.inputs) {
    // Its values were built against this kind's spec (parseConfig).
    const kind: InputKind = INPUT_TYPES[input.type];
    try {
      prepared.set(input.name, await kind.prepare(input.values, contextOf(config, input, link)));
    } catch (error) {
      if (!(error instanceof UsageError || error instanceof SyntaxError)) throw error;
      // Flag-style messages name `--flag`; the config says `flag`.
      const message = error.message.replace(
        /--([a-z0-9-]+)/g,
        (_, f: string) => f.replaceAll("-", "_"),
      );
      throw new ConfigError(`${config.path}: inputs.${input.name}: ${message}`);
    }
  }
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
    const wanted = new Map(config.inputs.map((input) => [input.name, input]));
    const toStart = config.inputs.filter((input) =>
      this.#running.get(input.name)?.key !== keyOf(config, input)
    );
    // Only what starts is prepared: an unchanged input's config was checked already.
    const prepared = await checkConfig({ ...config, inputs: toStart }, () => this.#link?.link);
    const stopped: string[] = [];
    for (const [name, running] of this.#running) {
      if (wanted.has(name) && running.key === keyOf(config, wanted.get(name)!)) continue;
      await this.#stopOne(running);
      stopped.push(name);
    }
    // A new router or new keys: every input was restarted, so nothing uses the old link.
    if (this.#link !== undefined && this.#link.key !== linkKeyOf(config)) await this.#closeLink();
    if (toStart.length > 0 && this.#link === undefined) {
      this.#link = {
        key: linkKeyOf(config),
        link: await EmitterLink.open({
          endpoints: config.to,
          curve: config.curve,
          onWaiting: waitingNotice("agent", config.to),
        }),
      };
    }
    for (const input of toStart) this.#startOne(config, input, prepared.get(input.name)!);
    const started = toStart.map((input) => input.name);
    const kept = config.inputs.map((i) => i.name).filter((name) => !started.includes(name));
    return { started, stopped, kept };
  }

  #startOne(config: AgentConfig, input: InputConfig, prepared: PreparedInput): void {
    const controller = new AbortController();
    const reporter = new StatsReporter({
      component: `agent-${input.name}`,
      intervalMs: this.#options.statsIntervalMs,
      snapshot: () => prepared.counters() as Counters,
      format: (current, previous, elapsed) => prepared.format(current, previous, elapsed),
      print: (line) => this.#log(line),
      publish: this.#options.publish,
    });
    const running: Running = {
      config: input,
      key: keyOf(config, input),
      prepared,
      controller,
      reporter,
      done: prepared.run(controller.signal).then(
        () => {
          if (!controller.signal.aborted) this.#log(`agent: input ${input.name} ended`);
        },
        (error) => {
          this.#log(
            `agent: input ${input.name} failed: ${error instanceof Error ? error.message : error}`,
          );
        },
      ),
    };
    this.#running.set(input.name, running);
    reporter.start();
    this.#log(`agent: input ${input.name} (${input.type}) started → ${config.to.join(", ")}`);
  }

  async #stopOne(running: Running): Promise<void> {
    running.controller.abort();
    await running.done;
    running.reporter.stop();
    running.reporter.report();
    this.#running.delete(running.config.name);
    this.#log(`agent: input ${running.config.name} stopped`);
  }

  async #closeLink(): Promise<void> {
    const link = this.#link?.link;
    this.#link = undefined;
    await link?.close();
  }

  /** Stops every input (each flushes first), then closes the connection. */
  async stop(): Promise<void> {
    await this.#applying.catch(() => {});
    await Promise.all([...this.#running.values()].map((running) => this.#stopOne(running)));
    await this.#closeLink();
  }
}
