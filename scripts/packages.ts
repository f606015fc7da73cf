/**
 * Runs a check over every package of the workspace (the root, which is the
 * `@eventstorm/eventstorm` package, and each member): `doc-lint` runs
 * `deno doc --lint` on each package's export entry points, `publish` runs
 * `deno publish --dry-run --allow-dirty` in each package's folder (with a named
 * root, `deno publish` at the root publishes the root package alone).
 *
 * Usage: `deno run -A scripts/packages.ts doc-lint|publish`
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

interface PackageConfig {
  name?: string;
  exports?: string | Record<string, string>;
  workspace?: string[];
}

const root = fileURLToPath(new URL("..", import.meta.url));

async function config(dir: string): Promise<PackageConfig> {
  return JSON.parse(await Deno.readTextFile(join(dir, "deno.json")));
}

async function run(args: string[], cwd: string): Promise<boolean> {
  const { code } = await new Deno.Command(Deno.execPath(), { args, cwd }).spawn().status;
  return code === 0;
}

const task = Deno.args[0];
if (task !== "doc-lint" && task !== "publish") {
  console.error("usage: deno run -A scripts/packages.ts doc-lint|publish");
  Deno.exit(2);
}
const rootConfig = await config(root);
// A type a package takes from another workspace package (@eventstorm/core
// above all) is public when that package's entry points export it: those entry
// points are linted along, except core's unstable ./internal.
async function publicEntries(dir: string): Promise<string[]> {
  const { exports } = await config(dir);
  if (!exports) return [];
  const map = typeof exports === "string" ? { ".": exports } : exports;
  return Object.entries(map)
    .filter(([path]) => path !== "./internal")
    .map(([, file]) => join(dir, file));
}

async function importsOf(dir: string, name: string): Promise<boolean> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory && entry.name !== "node_modules" && !entry.name.startsWith(".")) {
      if (await importsOf(path, name)) return true;
    } else if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      const text = await Deno.readTextFile(path);
      if (text.includes(`"${name}"`) || text.includes(`"${name}/`)) return true;
    }
  }
  return false;
}

const dirs = [root, ...(rootConfig.workspace ?? []).map((member) => join(root, member))];
const packages: { dir: string; name: string; entries: string[] }[] = [];
for (const dir of dirs) {
  const { name } = await config(dir);
  if (name) packages.push({ dir, name, entries: await publicEntries(dir) });
}
const failed: string[] = [];
for (const { dir, name } of packages) {
  const { exports } = await config(dir);
  if (!exports) continue;
  const entries = typeof exports === "string" ? [exports] : Object.values(exports);
  console.error(`== ${name}`);
  let ok: boolean;
  if (task === "doc-lint") {
    const deps: string[] = [];
    for (const other of packages) {
      if (other.dir !== dir && other.dir !== root && await importsOf(dir, other.name)) {
        deps.push(...other.entries);
      }
    }
    ok = await run(["doc", "--lint", ...entries, ...deps], dir);
  } else {
    ok = await run(["publish", "--dry-run", "--allow-dirty"], dir);
  }
  if (!ok) failed.push(name);
}
if (failed.length > 0) {
  console.error(`${task} failed for: ${failed.join(", ")}`);
  Deno.exit(1);
}
