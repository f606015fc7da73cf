/**
 * CURVE benchmark: 250-byte events batched 1000 per message through the router,
 * plaintext against CURVE in the same run, for each libzmq this machine has (the
 * system's, built with libsodium, and the copy inside npm `zeromq`), so that the
 * cost of encryption and the faster library are printed side by side.
 *
 * @module
 */
import { libzmqCandidates, loadLibzmq, writeKeyPair } from "@eventstorm/core";
import { run } from "./transport_bench.ts";

const TOTAL = 3_000_000;

/** Whether the libzmq at `path` loads and has CURVE. */
function hasCurve(path: string): boolean {
  try {
    const has = loadLibzmq(path).symbols.zmq_has;
    return has !== null && has(new TextEncoder().encode("curve\0")) === 1;
  } catch {
    return false;
  }
}

/** Runs the CURVE benchmark and prints figures and ratios. */
export async function curveBench(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "curve_bench_" });
  try {
    writeKeyPair(`${dir}/router`);
    writeKeyPair(`${dir}/client`);
    const libraries = libzmqCandidates().filter(hasCurve);
    const byDefault = loadLibzmq().path;
    console.log(
      `curve: 250-byte events, 1000/msg, through the router; default libzmq ${byDefault}`,
    );
    const seen = new Set<string>();
    for (const library of libraries) {
      const real = Deno.realPathSync(library);
      if (seen.has(real)) continue;
      seen.add(real);
      const label = library.endsWith("addon.node") ? "npm zeromq" : "system";
      const env = { EVENTSTORM_LIBZMQ: library };
      const plain = await run(`${label}: plaintext`, {
        viaRouter: true,
        total: TOTAL,
        per: 1000,
        send: "raw",
        receive: "raw",
        env,
      });
      const curve = await run(`${label}: CURVE`, {
        viaRouter: true,
        total: TOTAL,
        per: 1000,
        send: "raw",
        receive: "raw",
        env: { ...env, EVENTSTORM_BENCH_CURVE: dir },
      });
      console.log(
        `${label}: CURVE/plaintext ${
          (curve.eventsPerSecond / plain.eventsPerSecond).toFixed(2)
        }; ` +
          `target ≥1,000,000 ev/s with CURVE and 0 lost: ${
            curve.eventsPerSecond >= 1e6 && curve.lost === 0 ? "met" : "short"
          }`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await curveBench();
