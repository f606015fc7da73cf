/**
 * `router --when-full block`: a backfill through a sink that stops reading. The
 * sink is stopped (SIGSTOP) mid-stream while a file source sends a log larger than
 * every queue and socket buffer on the way. With `block` the router holds up the
 * source, which waits, and every line is stored once the sink resumes; with the
 * default (`drop-newest`) the router drops for the stopped sink, which counts
 * what it lost, exactly.
 */
import assert from "node:assert/strict";
import { Emitter } from "@eventstorm/core";
import { nginxLog } from "../cli/demo/nginx_lines.ts";
import {
  cli,
  routerProcess,
  sleep,
  storedCount,
  storedCountOf,
  tempDir,
  waitFor,
  watch,
} from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
/** About 70 MB of BSON: more than libzmq's queues and the loopback buffers hold. */
const LINES = 200_000;
/** More than every queue on the way holds with the restart test's router (about 900,000). */
const RESTART_LINES = 1_200_000;

interface Backfill {
  stored: number;
  lost: number;
  /** Whether the source was still sending when the stall ended. */
  sourceWaited: boolean;
  routerLine: string;
  routerStderr: string;
}

async function backfill(
  log: string,
  db: string,
  whenFull: string,
  stallMs: number,
): Promise<Backfill> {
  const router = await routerProcess([
    ...["--when-full", whenFull, "--sink-hwm", "4", "--source-hwm", "4"],
    ...["--stats-interval", "0s"],
  ]);
  const sink = storeSink(db, router.sinks);
  const source = watch(cli([
    ...["source", "nginx", "--file", log, "--once", "--to", router.sources],
    ...["--no-checkpoint", "--stats-interval", "0s"],
  ]));
  let sourceDone = false;
  const sourceExit = source.finish().then((result) => {
    sourceDone = true;
    return result;
  });
  try {
    await waitFor(() => storedCount(db) > 0, "the first events stored", 60_000);
    sink.child.kill("SIGSTOP");
    await sleep(stallMs);
    const sourceWaited = !sourceDone;
    sink.child.kill("SIGCONT");
    const sourceResult = await sourceExit;
    assert.equal(sourceResult.code, 0, sourceResult.stderr);
    if (whenFull === "block") {
      await waitFor(() => storedCount(db) === LINES, `all ${LINES} lines stored`, 60_000);
    } else {
      await settled(db);
      // The router announces a quiet stream's end each second: a lost tail is counted too.
      await sleep(2500);
    }
    sink.child.kill("SIGTERM");
    const sinkResult = await sink.finish();
    router.child.kill("SIGTERM");
    const routerResult = await router.finish();
    return {
      stored: storedCount(db),
      lost: Number(/lost on wire (\d+)/.exec(sinkResult.stderr)?.[1] ?? NaN),
      sourceWaited,
      routerLine: routerResult.stderr.trim().split("\n").at(-1) ?? "",
      routerStderr: routerResult.stderr,
    };
  } finally {
    killAll([source.child, sink.child, router.child]);
  }
}

/** A store sink writing to `db`, fed by the router's sinks endpoint `from`. */
function storeSink(db: string, from: string) {
  return watch(cli([
    ...["sink", "store", "--db", db, "--from", from],
    ...["--stats-interval", "0s", "--stats-to", "none"],
  ]));
}

/** Ends what is still running of `children`, stopped (SIGSTOP) ones too. */
function killAll(children: readonly (Deno.ChildProcess | undefined)[]): void {
  for (const child of children) {
    try {
      child?.kill("SIGCONT");
      child?.kill("SIGKILL");
    } catch {
      // Exited already.
    }
  }
}

/** Waits until the store's count stops growing for 1.5 s. */
async function settled(db: string): Promise<void> {
  const until = Date.now() + 60_000;
  let last = -1;
  let still = 0;
  while (still < 3) {
    if (Date.now() > until) throw new Error(`${db}: still growing after 60s`);
    await sleep(500);
    const count = storedCount(db);
    still = count === last ? still + 1 : 0;
    last = count;
  }
}

Deno.test(
  "router --when-full block: a stalled sink holds up the file source, nothing is lost",
  opts,
  async () => {
    await using dir = await tempDir();
    const log = `${dir.path}/access.log`;
    await nginxLog({ seed: 5 }).writeFile(log, LINES);

    // Well over the 5 s after which the router says it waits (its queues fill first).
    const blocked = await backfill(log, `${dir.path}/block.db`, "block", 8000);
    assert.equal(blocked.stored, LINES);
    assert.equal(blocked.lost, 0);
    assert.ok(blocked.sourceWaited, "the source was not held up");
    const waited = /blocked (\d+\.\d)s/.exec(blocked.routerLine);
    assert.ok(waited !== null && Number(waited[1]) >= 5, blocked.routerLine);
    assert.match(
      blocked.routerStderr,
      /router: a sink's queue has been full for 5s: nothing more is read/,
    );
    assert.match(blocked.routerStderr, /router: sinks take messages again, after \d+\.\ds/);

    // The same stall with the default drops for the stopped sink, which counts it.
    const dropped = await backfill(log, `${dir.path}/drop.db`, "drop-newest", 3000);
    assert.ok(dropped.lost > 0, `nothing lost: ${JSON.stringify(dropped)}`);
    assert.equal(dropped.stored + dropped.lost, LINES);
    assert.doesNotMatch(dropped.routerStderr, /blocked|queue has been full/);
  },
);

Deno.test(
  "router --when-full block: a stalled viewer behind a chained router in the default mode holds nothing up",
  opts,
  async () => {
    await using dir = await tempDir();
    const log = `${dir.path}/access.log`;
    const db = `${dir.path}/events.db`;
    await nginxLog({ seed: 6 }).writeFile(log, LINES);
    const hwm = ["--sink-hwm", "4", "--source-hwm", "4", "--stats-interval", "0s"];
    const router = await routerProcess(["--when-full", "block", ...hwm]);
    const viewers = await routerProcess(["--sources", router.sinks, ...hwm]);
    // A viewer that stops reading (tap, stopped), and a sink that takes every hit.
    const tap = cli(["tap", "--from", viewers.sinks]);
    const tapOut = tap.stdout.getReader();
    const sink = storeSink(db, router.sinks);
    try {
      // Probes until both have one: both subscriptions reached the first router, so the
      // backfill's first message goes to both (a late subscriber would miss it, rightly).
      const probe = await Emitter.open({ endpoints: router.sources });
      const tapped = tapOut.read();
      let tapSaw = false;
      void tapped.then(() => tapSaw = true);
      await waitFor(
        () => {
          probe.emit("http.probe", {});
          return tapSaw && storedCount(db) > 0;
        },
        "a probe at the tap and in the store",
        60_000,
      );
      await probe.close();
      assert.ok(!(await tapped).done, "tap printed nothing");
      tap.kill("SIGSTOP");
      const source = watch(cli([
        ...["source", "nginx", "--file", log, "--once", "--to", router.sources],
        ...["--no-checkpoint", "--stats-interval", "0s"],
      ]));
      const sourceResult = await source.finish();
      assert.equal(sourceResult.code, 0, sourceResult.stderr);
      await waitFor(
        () => storedCountOf(db, "http.hit") === LINES,
        `all ${LINES} lines stored`,
        60_000,
      );
      sink.child.kill("SIGTERM");
      assert.match((await sink.finish()).stderr, /lost on wire 0\b/);
      viewers.child.kill("SIGTERM");
      // What the stopped viewer could not take, its own router dropped.
      assert.match((await viewers.finish()).stderr, /total in 200\.0k out 200\.0k/);
    } finally {
      killAll([tap, sink.child, viewers.child, router.child]);
      await tap.status;
      await router.finish();
    }
  },
);

Deno.test(
  "router --when-full block: a source killed and restarted while held up loses no line, stores none twice",
  opts,
  async () => {
    await using dir = await tempDir();
    const log = `${dir.path}/access.log`;
    const db = `${dir.path}/events.db`;
    const checkpoint = `${dir.path}/checkpoint.json`;
    await nginxLog({ seed: 8 }).writeFile(log, RESTART_LINES);
    // The router's queue from the source (1000 messages) holds more than the source's
    // checkpoint lags behind what it sent (a few hundred messages held up, about 415
    // measured), so the resumed stream starts ahead of what the router has read.
    const router = await routerProcess([
      ...["--when-full", "block", "--sink-hwm", "10"],
      ...["--stats-interval", "0s"],
    ]);
    const sink = storeSink(db, router.sinks);
    const source = () =>
      watch(cli([
        ...["source", "nginx", "--file", log, "--once", "--to", router.sources],
        ...["--checkpoint", checkpoint, "--stats-interval", "0s"],
      ]));
    const first = source();
    let second: ReturnType<typeof source> | undefined;
    try {
      await waitFor(() => storedCount(db) > 0, "the first events stored", 60_000);
      sink.child.kill("SIGSTOP");
      // Held up: the queues are full, and its checkpoint stays short of the log's end.
      const size = (await Deno.stat(log)).size;
      let last = "";
      let still = 0;
      await waitFor(
        async () => {
          const text = await Deno.readTextFile(checkpoint).catch(() => "");
          still = text !== "" && text === last ? still + 1 : 0;
          last = text;
          return still >= 4;
        },
        "the source held up",
        60_000,
        250,
      );
      const offset = JSON.parse(last).files[0].offset;
      assert.ok(offset < size, `the source read the whole log: ${last}`);
      first.child.kill("SIGKILL");
      await first.finish();
      // The restarted source resumes the stream from its checkpoint while the router
      // still holds messages of the killed one's connection: they arrive interleaved.
      second = source();
      await sleep(1000);
      sink.child.kill("SIGCONT");
      const secondResult = await second.finish();
      assert.equal(secondResult.code, 0, secondResult.stderr);
      await waitFor(
        () => storedCount(db) >= RESTART_LINES,
        `all ${RESTART_LINES} lines stored`,
        60_000,
      );
      await settled(db);
      sink.child.kill("SIGTERM");
      const sinkResult = await sink.finish();
      router.child.kill("SIGTERM");
      const routerResult = await router.finish();
      assert.equal(storedCount(db), RESTART_LINES);
      assert.match(sinkResult.stderr, /lost on wire 0\b/);
      // The router, which holds no gap, saw the resumed stream jump ahead of the old
      // connection's messages: what it counts lost the sink stored, as late copies.
      const routerLost = Number(
        /lost (\d+)/.exec(routerResult.stderr.trim().split("\n").at(-1)!)?.[1],
      );
      assert.ok(routerLost > 0, `no interleaving: ${routerResult.stderr}`);
    } finally {
      killAll([first.child, second?.child, sink.child, router.child]);
    }
  },
);
