/**
 * Redundant routers: one source publishes through two real router processes; a
 * store sink, a file sink, `tap --stats` and the dashboard subscribe to both.
 * Either router is killed with SIGKILL at random moments mid-stream and
 * restarted, several times, while the other lags (SIGSTOP until the restarted
 * one carries the stream again, then SIGCONT): every event is kept exactly once, nothing is counted
 * lost, and the copies of the other path are counted as duplicates.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Emitter } from "@eventstorm/core";
import { EventStore, queryEvents } from "@eventstorm/sink-store";
import { cli, sleep, storedCount, waitFor, watch } from "./helpers.ts";
import { RouterProcess, streamWithKills } from "./redundant.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const MIN_EVENTS = 20_000;
const KILLS = 4;

async function fileLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  async function walk(path: string): Promise<void> {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      if (entry.isDirectory) await walk(full);
      else if (/\.jsonl(\.part)?$/.test(entry.name)) {
        // Whole lines only: a segment being written may end mid-line.
        lines.push(...(await Deno.readTextFile(full)).split("\n").slice(0, -1));
      }
    }
  }
  await walk(dir).catch(() => {});
  return lines;
}

async function dashboardTotals(port: number): Promise<Record<string, number> | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/api/state`);
    const state = await response.json();
    return (state.state ?? state).totals;
  } catch {
    return undefined;
  }
}

Deno.test(
  "redundant routers: SIGKILL either router mid-stream, every sink keeps each event once, lost 0",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "redundant_" });
    const routers = [new RouterProcess(), new RouterProcess()];
    const sinkProcesses: ReturnType<typeof watch>[] = [];
    let emitter: Emitter | undefined;
    try {
      await Promise.all(routers.map((router) => router.start()));
      const from = routers.map((router) => router.sinks).join(",");
      const quiet = ["--stats-interval", "1h", "--stats-to", "none"];
      const [store, file, tap, dashboard] = [
        cli([
          "sink",
          "store",
          "--db",
          `${dir}/events.db`,
          "--from",
          from,
          "--topic",
          "app.",
          ...quiet,
        ]),
        cli([
          "sink",
          "file",
          "--dir",
          `${dir}/files`,
          "--format",
          "jsonl",
          "--from",
          from,
          "--topic",
          "app.",
          ...quiet,
        ]),
        cli(["tap", "--from", from, "--topic", "app.", "--stats", "--interval", "1h"]),
        cli([
          "sink",
          "dashboard",
          "--from",
          from,
          "--topic",
          "app.",
          "--listen",
          "127.0.0.1:0",
          ...["--stats-interval", "1h"],
        ]),
      ].map(watch);
      sinkProcesses.push(store, file, tap, dashboard);
      // It binds a port the system picks and prints its address.
      await waitFor(() => /dashboard: http:/.test(dashboard.stdout()), "the dashboard's address");
      const dashboardPort = Number(
        new URL(dashboard.stdout().match(/dashboard: (http:\S+)/)![1]).port,
      );
      emitter = await Emitter.open({
        endpoints: routers.map((router) => router.sources).join(","),
      });
      const source = emitter;
      // Both routers must carry the stream from its first event, so that the
      // first kill finds the other path complete: wait for both subscriptions.
      await waitFor(
        async () =>
          source.stats().subscriptions > 0 && (await dashboardTotals(dashboardPort)) !== undefined,
        "subscriptions",
      );
      await sleep(1500);
      const { sent, kills } = await streamWithKills(routers, source, MIN_EVENTS, KILLS);
      const EVENTS = sent;

      await waitFor(() => storedCount(`${dir}/events.db`) >= EVENTS, "store", 60_000);
      await waitFor(async () => (await fileLines(`${dir}/files`)).length >= EVENTS, "file", 60_000);
      await waitFor(
        async () => ((await dashboardTotals(dashboardPort))?.events ?? 0) >= EVENTS,
        "dashboard",
        60_000,
      );
      const totals = (await dashboardTotals(dashboardPort))!;
      await sleep(500);

      const lines: string[] = [];
      for (const { child, finish } of sinkProcesses) {
        child.kill("SIGTERM");
        const result = await finish();
        assert.equal(result.code, 0, result.stderr);
        lines.push(result.stderr.trim());
      }
      sinkProcesses.length = 0;

      const db = EventStore.open(`${dir}/events.db`, { readOnly: true });
      const stored = queryEvents(db, { type: "app.", limit: EVENTS * 2 });
      db.close();
      assert.equal(stored.length, EVENTS, "store: each event once");
      assert.equal(new Set(stored.map((event) => event.i)).size, EVENTS);
      const archived = (await fileLines(`${dir}/files`)).map((line) => JSON.parse(line).i);
      assert.equal(archived.length, EVENTS, "file: each event once");
      assert.equal(new Set(archived).size, EVENTS);

      console.log(
        `redundant routers: ${EVENTS} events, ${kills} router kills, dashboard duplicates ` +
          `${totals.duplicates}, lost ${totals.lost}`,
      );
      assert.equal(totals.events, EVENTS, "dashboard events");
      assert.equal(totals.lost, 0, "dashboard lost");
      assert.ok(totals.duplicates > 0, "dashboard duplicates");
      for (const [name, text] of [["store", lines[0]], ["file", lines[1]], ["tap", lines[2]]]) {
        const last = text.split("\n").filter((line) => /lost/.test(line)).pop() ?? text;
        assert.match(last, /lost( on wire)? 0\b/, `${name}: ${last}`);
        assert.match(last, /duplicates( on wire)? [1-9]/, `${name}: ${last}`);
      }
    } finally {
      await emitter?.close();
      for (const { child, finish } of sinkProcesses) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
        const { stderr } = await finish();
        if (stderr.trim() !== "") console.error(stderr.trim().split("\n").slice(-5).join("\n"));
      }
      await Promise.all(routers.map((router) => router.kill()));
      await Deno.remove(dir, { recursive: true });
    }
  },
);
