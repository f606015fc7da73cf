/**
 * `deno task bench [NAME…] [--FLAG…]`: runs the benchmarks one after another, each in its
 * own process, and prints their figures. Not a test: nothing here fails on a
 * number, since the machine is shared and noisy; ratios against a baseline
 * measured in the same run are what to compare.
 *
 * @module
 */
const BENCHES: Record<string, string> = {
  transport: "transport_bench.ts",
  curve: "curve_bench.ts",
  groups: "group_bench.ts",
  c: "c_emitter_bench.ts",
  nginx: "nginx_bench.ts",
  "nginx-module": "nginx_module_bench.ts",
  postfix: "postfix_bench.ts",
  store: "store_bench.ts",
  "store-sink": "store_sink_bench.ts",
  databases: "sinks_db_bench.ts",
  dashboard: "dashboard_bench.ts",
  ruby: "ruby_bench.ts",
  agent: "agent_bench.ts",
  e2e: "e2e_bench.ts",
  steady: "steady_bench.ts",
};

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(
    "usage: deno task bench [NAME…] [--FLAG…]\n\n" +
      "Runs the benchmarks NAME (all of them when none is named) one after another, each\n" +
      "in its own process, and prints their figures; the flags go to every one named.\n\n" +
      "benchmarks (a benchmark's own flags: deno run -A FILE --help):\n" +
      Object.entries(BENCHES).map(([name, file]) =>
        `  ${name.padEnd(14)}${new URL(file, "file:///bench/").pathname.slice(1)}`
      ).join("\n"),
  );
  Deno.exit(0);
}

// Flags (`--lines 100000`, `--keep`) go to every benchmark named; names pick them.
const firstFlag = Deno.args.findIndex((arg) => arg.startsWith("-"));
const names = firstFlag < 0 ? Deno.args : Deno.args.slice(0, firstFlag);
const flags = firstFlag < 0 ? [] : Deno.args.slice(firstFlag);
const wanted = names.length > 0 ? names : Object.keys(BENCHES);
let failed = 0;
for (const name of wanted) {
  const file = BENCHES[name];
  if (!file) {
    console.error(
      `error: unknown benchmark '${name}' (one of: ${Object.keys(BENCHES).join(", ")})`,
    );
    Deno.exit(2);
  }
  const path = new URL(file, import.meta.url).pathname;
  try {
    await Deno.stat(path);
  } catch {
    console.log(`\n== ${name}: not present (${file})`);
    continue;
  }
  console.log(`\n== ${name}`);
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", path, ...flags],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) {
    console.log(`== ${name}: exited with ${status.code}`);
    failed++;
  }
}
Deno.exit(failed ? 1 : 0);
