/**
 * The nginx parser against goaccess, an independent reader of the same `combined`
 * log: request count, failures, bandwidth and per-status hits and bytes must agree.
 * goaccess is installed by scripts/nginx.sh; without it the test is skipped, or fails
 * under CI=true.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { nginxParser } from "@eventstorm/source-nginx";
import { nginxLog } from "../cli/demo/nginx_lines.ts";

const SCRIPT = fileURLToPath(new URL("../scripts/nginx.sh", import.meta.url));
const CI = Deno.env.get("CI") === "true";

async function installGoaccess(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("bash", { args: [SCRIPT, "install"], stderr: "piped" })
      .output();
    if (!out.success) {
      return `scripts/nginx.sh install failed: ${new TextDecoder().decode(out.stderr).trim()}`;
    }
    const which = await new Deno.Command("bash", { args: ["-c", "command -v goaccess"] }).output();
    return which.success ? undefined : "goaccess is not on PATH after install";
  } catch (error) {
    return `cannot run scripts/nginx.sh: ${error instanceof Error ? error.message : error}`;
  }
}

const unavailable = await installGoaccess();
if (unavailable && !CI) console.warn(`skipping goaccess comparison: ${unavailable}`);

interface Totals {
  requests: number;
  failed: number;
  bytes: number;
  byStatus: Map<number, { hits: number; bytes: number }>;
}

function ourTotals(lines: string[]): Totals {
  const parser = nginxParser();
  const context = { path: "access.log", host: "test", readAt: new Date() };
  const totals: Totals = { requests: 0, failed: 0, bytes: 0, byStatus: new Map() };
  for (const line of lines) {
    const events = parser.parse(line, context);
    if (events === undefined) {
      totals.failed++;
      continue;
    }
    for (const event of events) {
      const status = event.status as number;
      const bytes = (event.body_bytes_sent as number | undefined) ?? 0;
      totals.requests++;
      totals.bytes += bytes;
      const entry = totals.byStatus.get(status) ?? { hits: 0, bytes: 0 };
      entry.hits++;
      entry.bytes += bytes;
      totals.byStatus.set(status, entry);
    }
  }
  return totals;
}

interface GoaccessItem {
  data: string;
  hits: { count: number };
  bytes: { count: number };
}

async function goaccessTotals(logPath: string, dir: string): Promise<Totals> {
  const report = join(dir, "report.json");
  const out = await new Deno.Command("goaccess", {
    args: [logPath, "--log-format=COMBINED", "--no-global-config", "-o", report],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, `goaccess failed: ${new TextDecoder().decode(out.stderr)}`);
  const json = JSON.parse(await Deno.readTextFile(report));
  const general = json.general;
  const totals: Totals = {
    requests: general.valid_requests,
    failed: general.failed_requests,
    bytes: general.bandwidth,
    byStatus: new Map(),
  };
  for (const group of json.status_codes.data as { items: GoaccessItem[] }[]) {
    for (const item of group.items) {
      // Items read like "404 - Not Found: Requested Resource Not Found".
      const status = Number(item.data.slice(0, 3));
      totals.byStatus.set(status, { hits: item.hits.count, bytes: item.bytes.count });
    }
  }
  return totals;
}

Deno.test({
  name: "nginx parser counts what goaccess counts on the same combined log",
  ignore: unavailable !== undefined && !CI,
  async fn() {
    if (unavailable) throw new Error(`goaccess is required under CI: ${unavailable}`);
    const dir = await Deno.makeTempDir({ prefix: "nginx_goaccess_" });
    try {
      const lines = nginxLog({ seed: 20240302 }).lines(20_000);
      // Lines neither reader should accept: goaccess counts them as failed.
      lines.splice(
        5_000,
        0,
        "this is not an access log line",
        '2024/03/02 10:11:12 [error] 7#7: *1 open() "/srv/x" failed (2: No such file or directory)',
        '1.2.3.4 - - [02/Mar/2024:10:00:06 +0000] "GET / HTTP/1.1" abc 0 "-" "-"',
      );
      const logPath = join(dir, "access.log");
      await Deno.writeTextFile(logPath, lines.join("\n") + "\n");

      const ours = ourTotals(lines);
      const theirs = await goaccessTotals(logPath, dir);

      assert.equal(ours.requests, 20_000);
      assert.equal(ours.failed, 3);
      assert.equal(ours.requests, theirs.requests, "valid requests");
      assert.equal(ours.failed, theirs.failed, "failed lines");
      assert.equal(ours.bytes, theirs.bytes, "bandwidth");
      const sorted = (m: Totals["byStatus"]) => [...m.entries()].sort(([a], [b]) => a - b);
      assert.deepEqual(sorted(ours.byStatus), sorted(theirs.byStatus), "per-status hits and bytes");
      assert.ok(ours.byStatus.size >= 15, "the log exercises many statuses");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
