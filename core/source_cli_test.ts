import assert from "node:assert/strict";
import { localHostname } from "./event.ts";
import { UsageError } from "./flags.ts";
import { sourceFlags } from "./source_cli.ts";

const values = {
  to: [">tcp://127.0.0.1:5555"],
  "curve-server": [],
  "curve-secret": undefined,
  "stats-interval": "10s",
  "stats-to": "none",
};

Deno.test("sourceFlags reads the flags every source has, and checks them even with --print", () => {
  assert.deepEqual(sourceFlags(values), {
    print: false,
    to: [">tcp://127.0.0.1:5555"],
    curve: undefined,
    host: localHostname(),
    hostOverride: undefined,
    statsIntervalMs: 10_000,
    statsTo: undefined,
  });
  const given = sourceFlags({ ...values, print: true, host: "web1", "stats-to": ">tcp://r:1" });
  assert.deepEqual([given.print, given.host, given.hostOverride, given.statsTo], [
    true,
    "web1",
    "web1",
    ">tcp://r:1",
  ]);
  // A mistake shows before the flag is needed: --to and CURVE are read with --print too.
  for (
    const bad of [
      { to: ["tcp://"] },
      { "curve-server": ["/no/such/router.key"] },
      { "stats-interval": "soon" },
    ]
  ) {
    assert.throws(
      () => sourceFlags({ ...values, print: true, ...bad }),
      UsageError,
      JSON.stringify(bad),
    );
  }
});
