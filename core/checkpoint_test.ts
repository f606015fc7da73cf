import assert from "node:assert/strict";
import { tempDir } from "../tests/temp.ts";
import { CheckpointStore, probeWritable, readJsonFile, writeJsonAtomic } from "./checkpoint.ts";

Deno.test("writeJsonAtomic then readJsonFile round-trips, creating directories", async () => {
  await using temp = await tempDir();
  const dir = temp.path;
  const path = `${dir}/state/deep/cp.json`;
  await writeJsonAtomic(path, { a: 1, b: ["x"] });
  assert.deepEqual(await readJsonFile(path), { a: 1, b: ["x"] });
  await writeJsonAtomic(path, { a: 2 });
  assert.deepEqual(await readJsonFile(path), { a: 2 });
  // No temporary file is left next to it.
  const names = [...Deno.readDirSync(`${dir}/state/deep`)].map((e) => e.name);
  assert.deepEqual(names, ["cp.json"]);
});

Deno.test("readJsonFile: missing is undefined, bad JSON is an error naming the file", async () => {
  await using temp = await tempDir();
  const dir = temp.path;
  assert.equal(await readJsonFile(`${dir}/none.json`), undefined);
  await Deno.writeTextFile(`${dir}/bad.json`, '{"a":');
  await assert.rejects(
    () => readJsonFile(`${dir}/bad.json`),
    (e: Error) => e.message.includes("bad.json"),
  );
});

Deno.test("CheckpointStore serialises saves and the last one wins", async () => {
  await using temp = await tempDir();
  const dir = temp.path;
  const store = new CheckpointStore<{ n: number }>(`${dir}/cp.json`);
  assert.equal(await store.load(), undefined);
  await Promise.all(Array.from({ length: 20 }, (_, n) => store.save({ n })));
  assert.deepEqual(await store.load(), { n: 19 });
});

Deno.test("a writer killed at random moments always leaves a whole checkpoint", async () => {
  await using temp = await tempDir();
  const dir = temp.path;
  const path = `${dir}/cp.json`;
  const script = new URL("./testdata/checkpoint_writer.ts", import.meta.url).pathname;
  let last = 0;
  for (let kill = 0; kill < 8; kill++) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-check", script, path],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    // Wait until it has saved at least once, then kill it somewhere in a save.
    const reader = child.stdout.getReader();
    await reader.read();
    reader.releaseLock();
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 60));
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    const value = await readJsonFile<{ n: number; pad: string; check: number }>(path);
    assert.ok(value, "checkpoint exists");
    assert.equal(value.check, value.n * 7);
    assert.equal(value.pad.length, 200_000);
    last = value.n;
  }
  assert.ok(last >= 1);
  // Temporary files of killed writers are cleaned up by the next load.
  const store = new CheckpointStore(path);
  await store.load();
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["cp.json"]);
});

Deno.test("probeWritable refuses a directory, or a path ending in /", async () => {
  // The probe's temporary file goes beside the path, so it passed, and then every
  // save failed or the load said to remove the directory (audit findings 9, 17).
  await using temp = await tempDir();
  const dir = temp.path;
  for (
    const [path, like] of [
      [dir, dir],
      [`${dir}/`, dir],
      [`${dir}/state/`, `${dir}/state`],
    ]
  ) {
    await assert.rejects(
      () => probeWritable(path),
      new Error(`it is a directory, not a file; name a file in it, like ${like}/checkpoint.json`),
      path,
    );
  }
  await probeWritable(`${dir}/state/cp.json`);
  assert.deepEqual([...Deno.readDirSync(`${dir}/state`)], [], "the probe leaves nothing");
});
