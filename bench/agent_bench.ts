/**
 * Memory of the edge agent against separate processes: the agent with nginx,
 * postfix, sshd and metrics inputs while 50,000 lines/s in total are appended to
 * the three logs (30k nginx, 15k postfix, 5k sshd), beside the same four inputs as
 * four `eventstorm source` processes under the same load. Prints RSS over time
 * (flat or not), its peak, the sum of the four processes' and their ratio, and
 * whether the events kept up with the lines, for the agent with V8's defaults and as its
 * systemd unit runs it (with the unit's DENO_V8_FLAGS). Issue 15 asks ≤ 80 MB for the agent.
 *
 *   deno run -A bench/agent_bench.ts [--duration SECONDS] [--rate LINES_PER_S]
 *
 * @module
 */
import { benchArgs } from "./args.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Collector } from "@eventstorm/core";
import { LogGenerator } from "../cli/demo/loggen.ts";
import { cpuSecondsOf, type Memory, memoryOfAll, unitV8Flags } from "./memory.ts";
import { freeLoopbackPort } from "./sample.ts";
import { verdict } from "./verdict.ts";

const args = benchArgs(
  "deno run -A bench/agent_bench.ts [--duration SECONDS] [--rate LINES_PER_S] [--keep]",
  {
    options: {
      duration: { type: "string", default: "60" },
      rate: { type: "string", default: "50000" },
      keep: { type: "boolean", default: false },
    },
  },
);
const durationS = Number(args.values.duration);
const rate = Number(args.values.rate);
if (!(durationS >= 5) || !(rate >= 100)) {
  console.error("--duration must be at least 5 (seconds) and --rate at least 100");
  Deno.exit(2);
}
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SHARES = { nginx: 0.6, postfix: 0.3, sshd: 0.1 } as const;

/** A few thousand lines of each log, cycled by the writer. */
function pools(): Record<keyof typeof SHARES, string[]> {
  let clock = Date.now();
  const gen = new LogGenerator({ seed: 1, hostname: "web1", now: () => new Date(clock += 3) });
  const postfix: string[] = [];
  while (postfix.length < 20_000) postfix.push(...gen.postfixTransaction());
  return {
    nginx: Array.from({ length: 20_000 }, () => gen.nginxLine()),
    postfix,
    sshd: Array.from({ length: 5_000 }, () => gen.sshdLine()),
  };
}

/** The V8 flags `deploy/systemd/eventstorm-agent.service` sets, so the bench measures what runs. */
function deployedV8Flags(): string {
  const flags = unitV8Flags("eventstorm-agent.service");
  if (flags === undefined) throw new Error("eventstorm-agent.service sets no DENO_V8_FLAGS");
  return flags;
}

interface CaseResult {
  samples: Memory[];
  peak: number;
  peakPrivate: number;
  lines: number;
  events: number;
  /** CPU time of the case's processes over the run, as a share of one core. */
  cpuShare: number;
}

async function runCase(
  label: string,
  dir: string,
  start: (port: number) => Deno.ChildProcess[],
): Promise<CaseResult> {
  const lines = pools();
  const files = Object.fromEntries(
    Object.keys(SHARES).map((name) => [name, join(dir, `${name}.log`)]),
  ) as Record<keyof typeof SHARES, string>;
  for (const file of Object.values(files)) await Deno.writeTextFile(file, "");
  const port = freeLoopbackPort();
  const collector = await Collector.open({ endpoints: `@tcp://127.0.0.1:${port}` });
  let events = 0;
  const receiving = (async () => {
    for await (const batch of collector.batches()) events += batch.events.length;
  })();
  const children = start(port);
  await new Promise((resolve) => setTimeout(resolve, 5000)); // start-up and first stat
  const cursors = { nginx: 0, postfix: 0, sshd: 0 };
  let written = 0;
  const samples: Memory[] = [];
  const started = performance.now();
  let nextSample = started;
  const encoder = new TextEncoder();
  while (performance.now() - started < durationS * 1000) {
    const tickStart = performance.now();
    for (const name of Object.keys(SHARES) as (keyof typeof SHARES)[]) {
      const count = Math.round(rate * SHARES[name] / 10);
      const pool = lines[name];
      const chunk: string[] = [];
      for (let i = 0; i < count; i++) chunk.push(pool[(cursors[name]++) % pool.length]);
      const file = await Deno.open(files[name], { append: true });
      await file.write(encoder.encode(chunk.join("\n") + "\n"));
      file.close();
      written += count;
    }
    if (performance.now() >= nextSample) {
      samples.push(memoryOfAll(children.map((child) => child.pid)));
      nextSample += 5000;
    }
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, 100 - (performance.now() - tickStart)))
    );
  }
  const elapsed = (performance.now() - started) / 1000;
  // The inputs get a moment to catch up before the last sample; CPU counts that time too.
  const settleS = 3;
  await new Promise((resolve) => setTimeout(resolve, settleS * 1000));
  samples.push(memoryOfAll(children.map((child) => child.pid)));
  const cpuSeconds = (await Promise.all(children.map((child) => cpuSecondsOf(child.pid))))
    .reduce((sum, seconds) => sum + seconds, 0);
  const cpuShare = cpuSeconds / (elapsed + settleS);
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch {
      console.log(`${label}: a process had exited early (code ${(await child.status).code})`);
    }
  }
  for (const child of children) await child.status;
  await collector.close();
  await receiving;
  const peak = Math.max(...samples.map((sample) => sample.rss));
  const peakPrivate = Math.max(...samples.map((sample) => sample.private));
  console.log(
    `${label}: ${(written / elapsed / 1000).toFixed(1)}k lines/s written for ${
      elapsed.toFixed(0)
    }s, ` +
      `${events} events received (${written} lines); MB every 5s, RSS: ` +
      samples.map((s) => s.rss.toFixed(0)).join(" ") + "; private: " +
      samples.map((s) => s.private.toFixed(0)).join(" ") +
      `; CPU ${(cpuShare * 100).toFixed(0)}% of a core`,
  );
  return { samples, peak, peakPrivate, lines: written, events, cpuShare };
}

const dir = await Deno.makeTempDir({ prefix: "agent_bench_" });
try {
  const deno = Deno.execPath();
  const cli = join(ROOT, "cli.ts");
  const agentCase = (label: string, env: Record<string, string>) =>
    runCase(label, dir, (port) => {
      const config = join(dir, "agent.toml");
      Deno.writeTextFileSync(
        config,
        `to = ">tcp://127.0.0.1:${port}"\nstate_dir = "${dir}/state-agent"\nstats_interval = "0s"\n` +
          `[inputs.web]\ntype = "nginx"\nfile = ["${dir}/nginx.log"]\n` +
          `[inputs.mail]\ntype = "postfix"\nfile = ["${dir}/postfix.log"]\n` +
          `[inputs.auth]\ntype = "sshd"\nfile = ["${dir}/sshd.log"]\n` +
          `[inputs.host]\ntype = "metrics"\ninterval = "10s"\n`,
      );
      return [
        new Deno.Command(deno, {
          args: ["run", "-A", cli, "agent", "--config", config],
          env,
          stdout: "null",
          stderr: "null",
        }).spawn(),
      ];
    });
  const agent = await agentCase("agent (one process, 4 inputs), V8 defaults", {});
  const unitFlags = deployedV8Flags();
  const deployed = await agentCase(
    `agent as its systemd unit runs it (DENO_V8_FLAGS=${unitFlags})`,
    { DENO_V8_FLAGS: unitFlags },
  );
  const separate = await runCase("four processes (eventstorm source ...)", dir, (port) => {
    const to = `tcp://127.0.0.1:${port}`;
    const common = ["--to", to, "--stats-interval", "0s"];
    return [
      ["nginx", "--file", `${dir}/nginx.log`, "--checkpoint", `${dir}/cp-nginx.json`],
      ["postfix", "--file", `${dir}/postfix.log`, "--checkpoint", `${dir}/cp-postfix.json`],
      ["sshd", "--file", `${dir}/sshd.log`, "--checkpoint", `${dir}/cp-sshd.json`],
      ["metrics", "--interval", "10s"],
    ].map((source) =>
      new Deno.Command(deno, {
        args: ["run", "-A", cli, "source", ...source, ...common],
        stdout: "null",
        stderr: "null",
      }).spawn()
    );
  });
  // One decimal: a peak of 80.4 MB must not print as "80 MB (short)".
  const budget = (peak: number) => `${peak.toFixed(1)} MB (${verdict(peak <= 80)})`;
  const own = (peak: number) => `${peak.toFixed(0)} MB`;
  console.log(
    `peak RSS against issue 15's 80 MB: agent ${budget(agent.peak)}, as deployed ` +
      `${budget(deployed.peak)}; four processes ${separate.peak.toFixed(0)} MB in total; ` +
      `agent / four processes = ${(agent.peak / separate.peak).toFixed(2)}, as deployed ` +
      `${(deployed.peak / separate.peak).toFixed(2)}`,
  );
  // RSS counts the deno executable's touched pages, shared by every Deno process.
  console.log(
    `peak private memory (RSS without shared pages): agent ${own(agent.peakPrivate)}, as ` +
      `deployed ${own(deployed.peakPrivate)}; four processes ${own(separate.peakPrivate)} in total`,
  );
  const cpu = (result: CaseResult) => `${(result.cpuShare * 100).toFixed(0)}%`;
  console.log(
    `CPU, share of one core: agent ${cpu(agent)}, as deployed ${cpu(deployed)}; four processes ` +
      `${cpu(separate)} in total`,
  );
} finally {
  if (!args.values.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
}
