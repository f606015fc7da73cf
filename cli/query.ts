/**
 * `eventstorm query`: events or time-bucket aggregates out of a store file, as
 * JSON lines or an aligned table.
 *
 * @example
 * ```ts ignore
 * import { command } from "./query.ts";
 * Deno.exit(await command.main(["--db", "events.db", "--type", "http.", "--since", "1h", "--every", "5m"]));
 * ```
 *
 * @module
 */
import {
  type Command,
  type FlagSpec,
  helpText,
  integerFlag,
  parseDuration,
  parseFlags,
  UsageError,
} from "@eventstorm/core/cli";
import { encodeValue, toJsonLine } from "@eventstorm/core/protocol";
import {
  type AggregateResult,
  DEFAULT_DB_PATH,
  formatTable,
  isValidField,
  parseMeasure,
  parseTimeBound,
  parseWhere,
} from "@eventstorm/sink-store";
import { StoreReader } from "@eventstorm/sink-store/reader";

const QUERY_FLAGS = {
  db: { type: "string", value: "PATH", default: DEFAULT_DB_PATH, help: "store file to read" },
  type: { type: "string", value: "PREFIX", help: "only types starting with PREFIX (http.)" },
  since: {
    type: "string",
    value: "WHEN",
    help: "from this time on: 1h (ago), now or an ISO date",
  },
  until: {
    type: "string",
    value: "WHEN",
    help: "before this time: 10m (ago), now or an ISO date",
  },
  where: {
    type: "string",
    multiple: true,
    value: "COND",
    help: "FIELD=VALUE, FIELD!=VALUE, or FIELD>N, <, >=, <= on numbers",
  },
  limit: { type: "string", value: "N", help: "at most N events" },
  newest: { type: "boolean", help: "newest events first" },
  every: {
    type: "string",
    value: "WIDTH",
    help: "aggregate in buckets of WIDTH (10s, 1m, 5m, 1h, 1d)",
  },
  measure: {
    type: "string",
    multiple: true,
    value: "M",
    help: "count, sum:F, avg:F, min:F, max:F or pNN:F (exact nearest-rank) [default: count]",
  },
  by: { type: "string", value: "FIELD", help: "break each bucket down by FIELD's top values" },
  top: { type: "string", value: "N", default: "10", help: "groups kept by --by" },
  table: { type: "boolean", help: "aligned columns instead of JSON lines" },
} as const satisfies Record<string, FlagSpec>;

/** The `eventstorm query` command line.
 *
 * @example
 * ```ts
 * import { helpText } from "@eventstorm/core/cli";
 * import { command } from "./query.ts";
 * console.log(helpText(command));
 * ```
 */
export const command: Command<typeof QUERY_FLAGS> = {
  name: "eventstorm query",
  summary: "print stored events, or aggregates of them in time buckets",
  flags: QUERY_FLAGS,
  epilog: `Examples:
  eventstorm query --db events.db --type http. --since 15m --where status>=500 --table
  eventstorm query --db events.db --type http.hit --since 1h --every 5m --measure count --measure p95:latency
  eventstorm query --db events.db --type http.hit --since 1d --every 1h --by host --top 5 --table

Times are UTC; buckets start at UTC multiples of their width.`,
  main: queryMain,
};

/** Options of {@linkcode queryMain}. */
export interface QueryMainOptions {
  /** Where output goes; default: standard output. */
  write?: (text: string) => Promise<void>;
  /** The current time, for `--since 1h` and empty buckets; default: now. */
  now?: Date;
}

/**
 * Runs `eventstorm query` with `args` (`command.main` with a clock and an output of your own); returns the exit code: 0, 2 for a bad
 * flag or store file (one line on stderr), 1 for any other failure.
 *
 * @example
 * ```ts ignore
 * import { queryMain } from "./query.ts";
 * Deno.exit(await queryMain(Deno.args, { now: new Date("2026-12-04T00:00:00Z") }));
 * ```
 */
export async function queryMain(args: string[], options: QueryMainOptions = {}): Promise<number> {
  const out = new Output(options.write ?? writeStdout);
  try {
    await runQuery(args, out, options.now ?? new Date());
    await out.flush();
    return 0;
  } catch (error) {
    if (error instanceof BrokenPipe) return 0;
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}`);
      return 2;
    }
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

async function runQuery(args: string[], out: Output, now: Date): Promise<void> {
  const { values, help } = parseFlags(args, command);
  if (help) {
    await out.write(helpText(command));
    return;
  }
  const type = values.type;
  if (type !== undefined && !/^[a-z0-9_.-]*$/.test(type)) {
    throw new UsageError(`--type must be a dotted lower-case prefix like http., got '${type}'`);
  }
  const sinceText = values.since;
  const untilText = values.until;
  const since = sinceText === undefined
    ? undefined
    : parseTimeBound(sinceText, { now, flag: "since" });
  const until = untilText === undefined
    ? undefined
    : parseTimeBound(untilText, { now, flag: "until" });
  const where = values.where.map(parseWhere);
  const limit = integerFlag(values, "limit", { min: 1 });
  const everyText = values.every;
  const measureTexts = values.measure;
  const by = values.by;
  const table = values.table;
  const filter = { type, since, until, where };

  if (everyText === undefined) {
    for (
      const [flag, given] of [["measure", measureTexts.length > 0], [
        "by",
        by !== undefined,
      ]] as const
    ) {
      if (given) throw new UsageError(`--${flag} needs --every (the bucket width)`);
    }
    const store = openStore(values.db);
    try {
      const events = store.events({
        ...filter,
        limit,
        order: values.newest ? "desc" : "asc",
      });
      if (table) {
        const rows = Array.from(events);
        const fields: string[] = ["time", "type", "host"];
        const seen = new Set(fields);
        for (const event of rows) {
          for (const key in event) {
            if (!seen.has(key)) {
              seen.add(key);
              fields.push(key);
            }
          }
        }
        await out.write(
          formatTable(fields, rows.map((event) => fields.map((field) => event[field]))),
        );
      } else {
        for (const event of events) await out.write(toJsonLine(event) + "\n");
      }
    } finally {
      store.close();
    }
    return;
  }

  if (limit !== undefined) {
    throw new UsageError("--limit applies to events, not to --every aggregates");
  }
  if (values.newest) throw new UsageError("--newest applies to events, not to --every aggregates");
  const every = parseDuration(everyText, "every", { span: true });
  if (every < 1) throw new UsageError(`--every must be at least 1ms, got '${everyText}'`);
  const measures = measureTexts.length > 0
    ? measureTexts.map(parseMeasure)
    : [parseMeasure("count")];
  if (new Set(measures.map((m) => m.label)).size !== measures.length) {
    throw new UsageError("--measure: the same measure is given twice");
  }
  if (by !== undefined && (!isValidField(by) || by === "time")) {
    throw new UsageError(`--by must be a field name other than time, got '${by}'`);
  }
  const top = integerFlag(values, "top", { min: 1, max: 10_000 });
  const store = openStore(values.db);
  let result: AggregateResult;
  try {
    result = store.aggregate({ ...filter, every, measures, by, top, now });
  } finally {
    store.close();
  }
  await writeAggregate(result, table, out);
}

async function writeAggregate(result: AggregateResult, table: boolean, out: Output): Promise<void> {
  // The breakdown column is named after its field unless that would hide a measure.
  const groupKey = result.by === undefined
    ? undefined
    : result.by === "time" || result.measures.includes(result.by)
    ? "group"
    : result.by;
  if (table) {
    const header = ["time", ...(groupKey === undefined ? [] : [groupKey]), ...result.measures];
    const rows = result.rows.map((row) => [
      row.time,
      ...(groupKey === undefined ? [] : [row.group === null ? "(none)" : row.group]),
      ...result.measures.map((label) => row.values[label]),
    ]);
    await out.write(formatTable(header, rows));
    return;
  }
  for (const row of result.rows) {
    const line: Record<string, unknown> = { time: encodeValue(row.time) };
    if (groupKey !== undefined) line[groupKey] = row.group;
    for (const label of result.measures) {
      // An int64 past ±2^53 (min, max) is printed as the dialect writes it.
      const value = row.values[label];
      line[label] = typeof value === "bigint" ? encodeValue(value) : value;
    }
    await out.write(JSON.stringify(line) + "\n");
  }
}

function openStore(path: string): StoreReader {
  try {
    return StoreReader.open(path);
  } catch (error) {
    throw new UsageError(`--db ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Output of the reader went away (`| head`): not an error. */
class BrokenPipe extends Error {}

const encoder = new TextEncoder();

async function writeStdout(text: string): Promise<void> {
  const bytes = encoder.encode(text);
  try {
    let written = 0;
    while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) throw new BrokenPipe();
    throw error;
  }
}

/** Gathers small writes into large ones: one write per JSON line would dominate. */
class Output {
  #write: (text: string) => Promise<void>;
  #pending: string[] = [];
  #size = 0;

  constructor(write: (text: string) => Promise<void>) {
    this.#write = write;
  }

  async write(text: string): Promise<void> {
    this.#pending.push(text);
    this.#size += text.length;
    if (this.#size >= 64 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const text = this.#pending.join("");
    this.#pending = [];
    this.#size = 0;
    await this.#write(text);
  }
}

if (import.meta.main) Deno.exit(await command.main(Deno.args));
