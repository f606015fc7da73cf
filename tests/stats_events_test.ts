/**
 * docs/specs/stats.md: every long-running component publishes `eventstorm.stats`
 * where `--stats-to` says (the agent: `stats_to`), with the counters of its stats
 * line, and these events agree with the catalogue.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { catalogueProblems } from "../docs/events.ts";
import { cli, finish, gather, startRouter, tempDir, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

type Stats = Record<string, unknown>;

/**
 * Runs `eventstorm ARGS` (ROUTER in them is a router's sources endpoint) until it
 * has published an `eventstorm.stats` event of `component` that is `ready`;
 * `before` prepares what the command reads (a config naming the router).
 */
async function statsOf(
  args: string[],
  component: string,
  ready: (event: Stats) => boolean,
  before?: (router: string) => Promise<void>,
): Promise<Stats[]> {
  const router = startRouter();
  await before?.(router.sources);
  const stats = await gather({ endpoints: router.sinks, topics: ["eventstorm.stats"] });
  const child = cli([...args.map((arg) => arg.replace("ROUTER", router.sources))]);
  try {
    const mine = () => stats.events.filter((event) => event.component === component);
    await waitFor(() => mine().some(ready), `${component} publishes its counters`, 30_000);
    for (const event of mine()) assert.deepEqual(catalogueProblems(event), [], component);
    return mine();
  } finally {
    child.kill("SIGTERM");
    const result = await finish(child);
    await stats.stop();
    await router.stop();
    assert.equal(result.code, 0, result.stderr);
  }
}

Deno.test("a file source publishes its counters with --stats-to", opts, async () => {
  await using dir = await tempDir({ prefix: "stats_source_" });
  const log = join(dir.path, "access.log");
  const line = '10.0.0.1 - - [04/Dec/2026:03:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl"\n';
  await Deno.writeTextFile(log, line.repeat(25));
  const events = await statsOf(
    [
      ...["source", "nginx", "--file", log, "--from-start", "--no-checkpoint"],
      ...["--to", "ROUTER", "--stats-to", "ROUTER", "--stats-interval", "200ms"],
    ],
    "source-nginx",
    (event) => event.lines === 25,
  );
  const last = events.at(-1)!;
  assert.equal(last.events, 25);
  assert.equal(last.unparsed, 0);
  assert.equal(typeof last.interval_ms, "number");
});

Deno.test("the syslog source publishes its counters with --stats-to", opts, async () => {
  await statsOf(
    [
      ...["source", "syslog", "--listen", "udp://127.0.0.1:0", "--no-checkpoint"],
      ...["--to", "ROUTER", "--stats-to", "ROUTER", "--stats-interval", "200ms"],
    ],
    "source-syslog",
    (event) => typeof event.messages === "number" && typeof event.kernel_drops === "number",
  );
});

Deno.test("the dashboard publishes its counters with --stats-to", opts, async () => {
  await statsOf(
    [
      ...["sink", "dashboard", "--listen", "127.0.0.1:0", "--from", "ROUTER"],
      ...["--stats-to", "ROUTER", "--stats-interval", "200ms"],
    ],
    "sink-dashboard",
    // The sink runner's counters, as every sink's, and the dashboard's own.
    (event) =>
      ["received", "stored", "buffered", "dropped_full", "lost", "clients", "frames"].every((
        name,
      ) => typeof event[name] === "number"),
  );
});

Deno.test("the agent publishes each input's counters with stats_to", opts, async () => {
  await using dir = await tempDir({ prefix: "stats_agent_" });
  const log = join(dir.path, "auth.log");
  await Deno.writeTextFile(
    log,
    "Dec  4 03:00:00 web1 sshd[1]: Accepted publickey for ops from 10.0.0.2 port 5000 ssh2\n"
      .repeat(3),
  );
  const config = join(dir.path, "agent.toml");
  const write = (router: string) =>
    Deno.writeTextFile(
      config,
      `to = "${router}"\nstats_interval = "200ms"\nstats_to = "${router}"\n` +
        `state_dir = "${dir.path}"\n[inputs.auth]\ntype = "sshd"\nfile = ["${log}"]\n` +
        "from_start = true\n",
    );
  await statsOf(
    ["agent", "--config", config],
    "agent-auth",
    (event) => event.events === 3,
    write,
  );
});
