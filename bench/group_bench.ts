/**
 * Sink groups: 1, 2 and 3 store sinks (`--member I/N`, each its own process)
 * behind one router, fed by 12 sources, in the same run: events/s stored with 0
 * lost. On 2 cores the group shares the cores with the router and the senders,
 * so the figure shows the overhead of splitting, not the gain of more machines.
 *
 * Then what a member spends on a message it leaves to another member: one
 * collector drains the same queued messages once as their owner (decoding, as a
 * sink does) and once as another member (header only).
 *
 * @module
 */
import { Collector, Emitter } from "@eventstorm/core";
import { freeLoopbackPort, sampleEvent } from "./sample.ts";
import { storedCount, StoredSeqPoller } from "../tests/helpers.ts";
import { benchArgs } from "./args.ts";

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
  const pollers = dbs.map((db) => new StoredSeqPoller(db));
  let total = 0;
  const until = Date.now() + 120_000;
  while (
    (total = pollers.reduce((sum, poller) => sum + poller.read(), 0)) < TOTAL &&
    Date.now() < until
  ) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  for (const poller of pollers) poller[Symbol.dispose]();
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
  total = perMember.reduce((sum, n) => sum + n, 0);
  console.log(
    `group of ${size}: ${
      Math.round(total / seconds).toLocaleString("en").padStart(9)
    } ev/s stored, ` +
      `${total} of ${TOTAL}, lost ${lost}, per member ${perMember.join(" / ")}`,
  );
  await Deno.remove(dir, { recursive: true });
}

const SKIP_MESSAGES = 20_000;
const EVENTS_PER_MESSAGE = 10;

/**
 * Seconds one collector takes to drain SKIP_MESSAGES queued messages, as their
 * owner (`keep`) or as the other member of a group of 2. The messages are in the
 * collector's queue before the clock starts, so the sender costs nothing here.
 */
async function drainSeconds(keep: boolean): Promise<number> {
  // Source id 2 falls to member 1 of 2 (memberOf(2n, 2) = 1), so member 1 keeps
  // the measured stream and member 2 leaves it.
  const collector = await Collector.open({
    endpoints: "@tcp://127.0.0.1:*",
    receiveHwm: 1_000_000,
    member: { index: keep ? 1 : 2, count: 2 },
  });
  const options = { endpoints: `>${collector.boundEndpoint()}`, maxPendingBytes: 1 << 30 };
  const measured = await Emitter.open({
    ...options,
    sourceId: 2n,
    maxEvents: EVENTS_PER_MESSAGE,
    sendHwm: 1_000_000,
  });
  // One event this member keeps, to know the reader is running before the clock.
  const warmUp = await Emitter.open({ ...options, sourceId: keep ? 4n : 1n });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  let warmed!: () => void;
  const warm = new Promise<void>((resolve) => warmed = resolve);
  let events = 0;
  // libzmq attaches a bound socket's new peers only while its owner uses it, so
  // the reader runs from the start and holds at the gate after the warm-up.
  const reading = (async () => {
    let first = true;
    for await (const batch of collector.batches()) {
      if (first) {
        first = false;
        warmed();
        await gate;
      } else {
        events += batch.events.length;
      }
    }
  })();
  const subscribed = Date.now() + 10_000;
  while (
    (measured.stats().subscriptions === 0 || warmUp.stats().subscriptions === 0) &&
    Date.now() < subscribed
  ) {
    await Promise.all([measured.flush(), warmUp.flush()]);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  warmUp.send(sampleEvent(0));
  await warmUp.flush();
  await warm;
  for (let i = 0; i < SKIP_MESSAGES * EVENTS_PER_MESSAGE; i++) measured.send(sampleEvent(i));
  await measured.flush();
  // flush() says the messages left the emitter; give the I/O thread time to
  // move them into the collector's queue.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const idleMs = 50;
  const started = performance.now();
  collector.finish({ idleMs, maxMs: 120_000 });
  release();
  await reading;
  const seconds = (performance.now() - started - idleMs) / 1000;
  const handled = keep ? events : collector.stats().otherMembers * EVENTS_PER_MESSAGE;
  await Promise.all([measured.close(), warmUp.close()]);
  await collector.close();
  if (handled !== SKIP_MESSAGES * EVENTS_PER_MESSAGE) {
    throw new Error(
      `member skip bench: ${handled} of ${SKIP_MESSAGES * EVENTS_PER_MESSAGE} events drained`,
    );
  }
  return seconds;
}

async function skipCost(): Promise<void> {
  const kept = await drainSeconds(true);
  const skipped = await drainSeconds(false);
  const perMessage = (seconds: number) => (seconds * 1e6 / SKIP_MESSAGES).toFixed(2);
  console.log(
    `member skip cost: ${perMessage(skipped)} µs per message left to another member, ` +
      `${perMessage(kept)} µs per message kept and decoded ` +
      `(${EVENTS_PER_MESSAGE} events each); skipping costs ${
        (skipped / kept).toFixed(3)
      } of keeping`,
  );
}

if (import.meta.main) {
  const args = benchArgs("deno run -A bench/group_bench.ts [--skip-cost-only]", {
    options: { "skip-cost-only": { type: "boolean" } },
    strict: false,
  });
  console.log(
    `groups: ${TOTAL} 250-byte events from ${SOURCES} sources, router and members in their own processes`,
  );
  if (args.values["skip-cost-only"] !== true) {
    for (const size of [1, 2, 3]) await group(size);
  }
  await skipCost();
}
