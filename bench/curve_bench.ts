/**
 * CURVE benchmark: 250-byte events, 1000 per message, through a router whose two
 * sides are CURVE servers, against plaintext through the same router in the same
 * run; once per libzmq that has CURVE (the system `libzmq5`, built on libsodium,
 * and the copy inside npm `zeromq`'s addon). Sender, router and receiver are
 * separate processes; `EVENTSTORM_LIBZMQ` picks the library in each.
 *
 * @module
 */
import { generateKeyPair } from "@eventstorm/core";
import { libzmqCandidates, loadLibzmq } from "../core/zmq/ffi.ts";
import { runTransport, type TransportResult } from "./transport_bench.ts";
import { verdict } from "./verdict.ts";
import { benchArgs } from "./args.ts";

const TOTAL = 3_000_000;
const PER_MESSAGE = 1000;
const ROUNDS = 2;

/** One libzmq that loads, with whether it has CURVE. */
interface Library {
  kind: "system" | "npm zeromq addon";
  path: string;
  version: string;
  curve: boolean;
}

function libraries(): Library[] {
  const chosen = Deno.env.get("EVENTSTORM_LIBZMQ");
  // The candidates list collapses to the variable when it is set; the bench wants all.
  Deno.env.delete("EVENTSTORM_LIBZMQ");
  const candidates = libzmqCandidates();
  if (chosen) Deno.env.set("EVENTSTORM_LIBZMQ", chosen);
  const found = new Map<Library["kind"], Library>();
  for (const path of candidates) {
    const kind = path.endsWith("addon.node") ? "npm zeromq addon" : "system";
    if (found.get(kind)?.curve) continue;
    try {
      const lib = loadLibzmq(path);
      const curve = lib.symbols.zmq_has?.(new TextEncoder().encode("curve\0")) === 1;
      if (!found.has(kind) || curve) found.set(kind, { kind, path, version: lib.version, curve });
    } catch {
      // Not loadable here (another glibc, another Node ABI): not a candidate.
    }
  }
  return [...found.values()];
}

function label(library: Library): string {
  return `${library.kind} ${library.version}`;
}

function defaultLibrary(): string {
  try {
    return loadLibzmq().path;
  } catch {
    return "none";
  }
}

/** Runs the CURVE benchmark and prints figures and ratios. */
export async function curveBench(): Promise<void> {
  console.log(
    `curve: 250-byte events, ${PER_MESSAGE}/msg, through the router; ` +
      "sender / router / receiver in separate processes",
  );
  const server = generateKeyPair();
  const client = generateKeyPair();
  const keys = JSON.stringify({
    server: server.publicKey,
    serverSecret: server.secretKey,
    client: client.publicKey,
    clientSecret: client.secretKey,
  });
  const usable = libraries().filter((library) => {
    if (!library.curve) {
      console.log(`${label(library)}: built without CURVE (${library.path}), skipped`);
    }
    return library.curve;
  });
  const base = {
    viaRouter: true,
    total: TOTAL,
    per: PER_MESSAGE,
    send: "raw",
    receive: "raw",
  } as const;
  // Rounds alternate the libraries, and each keeps its best run, so that a burst
  // of load from other work on the machine does not decide the comparison.
  const best = new Map<Library, { plain?: TransportResult; curve?: TransportResult }>();
  const faster = (a: TransportResult | undefined, b: TransportResult) =>
    a === undefined || b.eventsPerSecond > a.eventsPerSecond ? b : a;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const library of usable) {
      const name = `${label(library)}, round ${round}`;
      const plain = await runTransport(`${name}: plaintext`, {
        ...base,
        env: { EVENTSTORM_LIBZMQ: library.path },
      });
      const curve = await runTransport(`${name}: CURVE`, {
        ...base,
        env: { EVENTSTORM_LIBZMQ: library.path, EVENTSTORM_BENCH_CURVE: keys },
      });
      const kept = best.get(library) ?? {};
      best.set(library, { plain: faster(kept.plain, plain), curve: faster(kept.curve, curve) });
    }
  }
  const results = usable.map((library) => ({ library, ...best.get(library)! }) as const);
  for (const { library, plain, curve } of results) {
    console.log(
      `${label(library)} (${library.path}), best of ${ROUNDS}: CURVE ${
        Math.round(curve!.eventsPerSecond).toLocaleString("en")
      } ev/s, CURVE/plaintext ratio ${
        (curve!.eventsPerSecond / plain!.eventsPerSecond).toFixed(2)
      }; ` +
        `target ≥1,000,000 ev/s with 0 lost: ${
          verdict(curve!.eventsPerSecond >= 1e6 && curve!.lost === 0)
        }`,
    );
  }
  if (results.length === 2) {
    const [a, b] = results;
    console.log(
      `CURVE ${a.library.kind}/${b.library.kind} ratio: ${
        (a.curve!.eventsPerSecond / b.curve!.eventsPerSecond).toFixed(2)
      }`,
    );
  }
  console.log(`default libzmq (no EVENTSTORM_LIBZMQ): ${defaultLibrary()}`);
}

if (import.meta.main) {
  // No flags of its own: those `deno task bench` hands every benchmark are ignored.
  benchArgs("deno run -A bench/curve_bench.ts", { options: {}, strict: false });
  await curveBench();
}
