/**
 * Sink groups: 1, 2 and 3 store sinks (`--member I/N`, each its own process)
 * behind one router, fed by 12 sources, in the same run: events/s stored with 0
 * lost. On 2 cores the group shares the cores with the router and the senders,
 * so the figure shows the overhead of splitting, not the gain of more machines.
 *
 * @module
 */
import { Emitter } from "@eventstorm/core";
import { freeLoopbackPort, sampleEvent } from "./sample.ts";
import { storedCount } from "../tests/helpers.ts";

const cli = new URL("../cli.ts", import.meta.url).pathname;
const TOTAL = 600_000;
const SOURCES = 12;

async function group(size: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "group_bench_" });
  const [sources, sinks] = [freeLoopbackPort(), freeLoopbackPort()];
  const spawn = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, ...args],
      stdout: "null",
      stderr: "piped",
    }).spawn();
  const router = spawn([
    "router",
    "--sources",
    `@tcp://127.0.0.1:${sources}`,
    "--sinks",
    `@tcp://127.0.0.1:${sinks}`,
    "--stats-interval",
    "0s",
    "--sink-hwm",
    "100000",
  ]);
  const members = Array.from({ length: size }, (_, i) =>
    spawn([
      "sink",
      "store",
      "--db",
      `${dir}/m${i + 1}.db`,
      "--from",
      `>tcp://127.0.0.1:${sinks}`,
      "--member",
      `${i + 1}/${size}`,
      "--stats-interval",
      "1h",
      "--stats-to",
      "none",
      "--buffer",
      "1000000",
    ]));
  const emitters = await Promise.all(
    Array.from(
      { length: SOURCES },
      () => Emitter.open({ endpoints: `>tcp://127.0.0.1:${sources}`, maxPendingBytes: 1 << 30 }),
    ),
  );
  const deadline = Date.now() + 20_000;
  while (emitters.some((e) => e.stats().subscriptions === 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const started = performance.now();
  for (let i = 0; i < TOTAL; i++) {
    emitters[i % SOURCES].send(sampleEvent(i));
    if (i % 10_000 === 0) await Promise.all(emitters.map((e) => e.ready()));
  }
  await Promise.all(emitters.map((e) => e.close()));
  const dbs = members.map((_, i) => `${dir}/m${i + 1}.db`);
  let total = 0;
  const until = Date.now() + 120_000;
  while (
    (total = dbs.reduce((sum, db) => sum + storedCount(db), 0)) < TOTAL && Date.now() < until
  ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  const lines: string[] = [];
  for (const member of members) {
    member.kill("SIGTERM");
    const out = await member.output();
    lines.push(new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "");
  }
  router.kill("SIGTERM");
  await router.output();
  const lost = lines.reduce(
    (sum, line) => sum + Number(/lost on wire (\d+)/.exec(line)?.[1] ?? 0),
    0,
  );
  const perMember = dbs.map(storedCount);
  console.log(
    `group of ${size}: ${
      Math.round(total / seconds).toLocaleString("en").padStart(9)
    } ev/s stored, ` +
      `${total} of ${TOTAL}, lost ${lost}, per member ${perMember.join(" / ")}`,
  );
  await Deno.remove(dir, { recursive: true });
}

if (import.meta.main) {
  console.log(
    `groups: ${TOTAL} 250-byte events from ${SOURCES} sources, router and members in their own processes`,
  );
  for (const size of [1, 2, 3]) await group(size);
}
