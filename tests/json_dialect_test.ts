/**
 * The one JSON dialect end to end: what `tap` prints and what the file sink
 * writes as `.jsonl` reads back (core's `fromJsonLine`) to the very BSON values
 * that were emitted, int64 past 2^53, dates before 1970 and after 2038, binary,
 * ObjectId and Decimal128 included (relaxed Extended JSON rounded the int64),
 * an int64 within ±2^53 (an int64, not an int32) and -0 (its sign kept).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Binary, BSON, Decimal128, ObjectId } from "bson";
import { fromJsonLine } from "@eventstorm/core/protocol";
import { cli, emitter, finish, startRouter, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const FIELDS: Record<string, unknown> = {
  above: 2n ** 53n + 1n,
  max: 2n ** 63n - 1n,
  min: -(2n ** 63n),
  moon: new Date(Date.UTC(1969, 6, 20, 20, 17, 40)),
  ancient: new Date(Date.UTC(-500, 0, 1)),
  after2038: new Date(Date.UTC(2100, 0, 1, 0, 0, 0, 1)),
  bytes: new Binary(Uint8Array.from([0, 1, 2, 254, 255])),
  oid: new ObjectId("5f1d7e3c9b1e8a0012345678"),
  price: Decimal128.fromString("1234567890.123456789"),
  ratio: 0.1,
  small: 7,
  small64: 5n,
  negz: -0,
  flag: false,
  nothing: null,
  nested: { list: [1, "two", { deep: 2n ** 60n + 3n }] },
};

function assertSameBson(line: string, where: string): void {
  const back = fromJsonLine(line);
  assert.equal(back.type, "app.json");
  for (const [key, value] of Object.entries(FIELDS)) {
    assert.deepEqual(
      BSON.serialize({ [key]: back[key] }),
      BSON.serialize({ [key]: value }),
      `${where}: ${key} in ${line}`,
    );
  }
}

Deno.test("tap and the file sink's .jsonl keep every BSON value exact", opts, async () => {
  const router = startRouter();
  const dir = await Deno.makeTempDir();
  const tap = cli(["tap", "--from", router.sinks, "--topic", "app.json", "--limit", "1"]);
  const sink = cli([
    "sink",
    "file",
    "--dir",
    dir,
    "--format",
    "jsonl",
    "--from",
    router.sinks,
    "--topic",
    "app.json",
    "--stats-to",
    "none",
  ]);
  const out = await emitter({ endpoints: router.sources, host: "json" });
  const jsonl = () => {
    try {
      return [...Deno.readDirSync(`${dir}/app.json`)].map((entry) =>
        `${dir}/app.json/${entry.name}`
      );
    } catch {
      return [];
    }
  };
  try {
    const tapped = finish(tap);
    let tapDone = false;
    tapped.then(() => tapDone = true, () => tapDone = true);
    // Resent until both subscribers have one (either may subscribe late): each copy
    // carries the same values.
    await waitFor(
      async () => {
        out.emit("app.json", FIELDS);
        await out.ready();
        return tapDone && jsonl().some((path) => Deno.statSync(path).size > 0);
      },
      "an event in the file sink's segment",
      20_000,
      200,
    );
    const { code, stdout, stderr } = await tapped;
    assert.equal(code, 0, stderr);
    assertSameBson(stdout.trim(), "tap");
    sink.kill("SIGTERM");
    const stopped = await finish(sink);
    assert.equal(stopped.code, 0, stopped.stderr);
    const lines = jsonl().flatMap((path) => Deno.readTextFileSync(path).trim().split("\n"));
    assert.ok(lines.length >= 1);
    for (const line of lines) assertSameBson(line, "file sink");
  } finally {
    await out.close();
    try {
      sink.kill("SIGKILL");
    } catch { /* already stopped */ }
    await router.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
