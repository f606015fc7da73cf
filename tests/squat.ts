/**
 * The `_id` squatting attack of issue 11: a publisher sends an event whose `_id`
 * is the id a sink derives for another source's event 5, before that event.
 *
 * @module
 */
import { Emitter } from "@eventstorm/core";
import { eventId, type SinkBackend, type SinkStats } from "@eventstorm/core/sink";
import { startRouter } from "./helpers.ts";
import { runSink } from "./sink_run.ts";
import { waitFor } from "./wait.ts";

/** The victim's source id; its event 5 is what the attacker's `_id` names. */
export const VICTIM = 0x7a11n;

/**
 * Runs the attack against a sink fed from `sources` (the router's source side);
 * resolves once all 21 events are accounted for in `stats`. The sink must show
 * 21 stored and 0 duplicates, and hold 21 rows.
 */
export async function squat(sources: string, stats: () => SinkStats): Promise<void> {
  const attacker = await Emitter.open({ endpoints: sources, host: "attacker", sourceId: 0xbadn });
  await waitFor(() => attacker.stats().subscriptions > 0, "the sink's subscription (attacker)");
  attacker.send({
    type: "app.tick",
    time: new Date(),
    host: "attacker",
    _id: eventId(VICTIM, "app.tick", 5),
    i: -1,
  });
  await attacker.close();
  await waitFor(() => stats().received === 1, "the attacker's event at the sink");
  const victim = await Emitter.open({ endpoints: sources, host: "victim", sourceId: VICTIM });
  await waitFor(() => victim.stats().subscriptions > 0, "the sink's subscription (victim)");
  for (let i = 0; i < 20; i++) victim.emit("app.tick", { i });
  await victim.close();
  await waitFor(() => {
    const now = stats();
    return now.received === 21 && now.buffered === 0;
  }, "21 events received and written");
}

/**
 * Runs the attack against `backend` behind a fresh router and sink runner;
 * resolves with the sink's counters once it stopped.
 */
export async function squatSink(backend: SinkBackend): Promise<SinkStats> {
  const r = startRouter();
  const sink = await runSink(backend, r.sinks);
  try {
    await squat(r.sources, () => sink.runner.stats());
  } finally {
    await sink.stop();
    await r.stop();
  }
  return sink.runner.stats();
}
