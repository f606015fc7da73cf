/**
 * The event catalogue (docs/events.ts) against what eventstorm really emits:
 * the nginx, Postfix and sshd sources run as processes on demo log files, the
 * metrics source on this machine, the demo source's generator, and the router's
 * `eventstorm.stats`; and docs/events.md is what docs/events.ts makes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fromJsonLine } from "@eventstorm/core/protocol";
import { DemoEvents } from "@eventstorm/source-demo";
import { LogGenerator, NGINX_TIMED_FORMAT } from "../cli/demo/loggen.ts";
import { catalogueMarkdown, catalogueProblems, specOf } from "../docs/events.ts";
import { HTTP_READS } from "../sinks/dashboard/panels/http.ts";
import { MAIL_READS } from "../sinks/dashboard/panels/mail.ts";
import { SSH_READS } from "../sinks/dashboard/panels/ssh.ts";
import { HOST_READS } from "../sinks/dashboard/panels/hosts.ts";
import { cli, finish, gather, startRouter, waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Checks every event, returns the types seen. */
function check(events: Record<string, unknown>[], where: string): Set<string> {
  const problems = events.flatMap(catalogueProblems);
  assert.deepEqual([...new Set(problems)].slice(0, 20), [], where);
  return new Set(events.map((event) => String(event.type)));
}

async function printed(args: string[]): Promise<Record<string, unknown>[]> {
  const { code, stdout, stderr } = await finish(cli(args));
  assert.equal(code, 0, stderr);
  return stdout.trim().split("\n").filter((line) => line !== "").map(fromJsonLine);
}

Deno.test("docs/events.md is what docs/events.ts makes", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "md", "-"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(catalogueMarkdown()));
  await writer.close();
  const formatted = new TextDecoder().decode((await child.output()).stdout);
  const file = await Deno.readTextFile(new URL("../docs/events.md", import.meta.url));
  assert.equal(file, formatted, "run: deno run -A docs/events.ts > docs/events.md && deno fmt");
});

Deno.test("the log sources emit what the catalogue says", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    let clock = Date.UTC(2026, 11, 3, 9);
    const logs = new LogGenerator({
      seed: 7,
      now: () => new Date(clock += 50),
      nginxFormat: "timed",
    });
    const lines = { access: [] as string[], mail: [] as string[], auth: [] as string[] };
    for (let i = 0; i < 2000; i++) lines.access.push(logs.nginxLine());
    for (let i = 0; i < 500; i++) lines.mail.push(...logs.postfixTransaction());
    for (let i = 0; i < 2000; i++) lines.auth.push(logs.sshdLine());
    for (const [name, text] of Object.entries(lines)) {
      // One line no parser understands, for the `--unparsed` events.
      await Deno.writeTextFile(`${dir}/${name}.log`, [...text, "%%garbage%%"].join("\n") + "\n");
    }
    const common = ["--once", "--print", "--unparsed", "--stats-interval", "0s"];
    const nginx = await printed([
      "source",
      "nginx",
      "--file",
      `${dir}/access.log`,
      "--format",
      NGINX_TIMED_FORMAT,
      ...common,
    ]);
    const postfix = await printed([
      "source",
      "postfix",
      "--file",
      `${dir}/mail.log`,
      "--utc",
      ...common,
    ]);
    const sshd = await printed(["source", "sshd", "--file", `${dir}/auth.log`, "--utc", ...common]);
    assert.deepEqual(check(nginx, "nginx"), new Set(["http.hit", "nginx.unparsed"]));
    assert.deepEqual(
      check(postfix, "postfix"),
      new Set(["smtp.transaction", "smtp.reject", "smtp.deferred", "postfix.unparsed"]),
    );
    assert.deepEqual(check(sshd, "sshd"), new Set(["ssh.login", "sshd.unparsed"]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the metrics and demo sources emit what the catalogue says", opts, async () => {
  const metrics = await printed(["source", "metrics", "--once", "--print"]);
  const seen = check(metrics, "metrics");
  for (const type of ["host.cpu", "host.memory", "host.disk", "host.load", "host.net"]) {
    assert.ok(seen.has(type), `metrics emitted no ${type}`);
  }
  const demo = new DemoEvents({ seed: 3 });
  const events = Array.from({ length: 2000 }, (_, i) => demo.next(new Date(i * 1000)));
  assert.deepEqual(
    check(events, "demo"),
    new Set(["http.hit", "ssh.login", "host.cpu", "host.memory"]),
  );
});

Deno.test("the router's eventstorm.stats matches the catalogue", opts, async () => {
  const router = startRouter({ statsIntervalMs: 100 });
  const stats = await gather({ endpoints: router.sinks, topics: ["eventstorm."] });
  try {
    await waitFor(() => stats.events.length >= 2, "two eventstorm.stats events");
    check(stats.events, "router stats");
    assert.equal(stats.events[0].component, "router");
  } finally {
    await stats.stop();
    await router.stop();
  }
});

Deno.test("the catalogue check names unknown types, fields and wrong BSON types", () => {
  const envelope = { time: new Date(0), host: "h" };
  assert.deepEqual(catalogueProblems({ ...envelope, type: "app.x" }), [
    "app.x: not in the catalogue",
  ]);
  assert.deepEqual(
    catalogueProblems({ ...envelope, type: "host.cpu", busy_percent: 1, cores: 2 }),
    [
      "host.cpu: field cores is not in the catalogue",
    ],
  );
  assert.deepEqual(catalogueProblems({ ...envelope, type: "host.load", load1: "high" }), [
    "host.load: load1 is string, not number",
  ]);
  assert.deepEqual(catalogueProblems({ ...envelope, type: "http.hit", status: 1.5 }), [
    "http.hit: status is number, not integer",
  ]);
  assert.deepEqual(catalogueProblems({ ...envelope, type: "ssh.login", user: "u", address: "a" }), [
    "ssh.login: no result",
  ]);
});

Deno.test("the dashboard's panels read only fields the catalogue lists for their types", () => {
  const reads = [HTTP_READS, MAIL_READS, SSH_READS, HOST_READS];
  let fields = 0;
  for (const read of reads) {
    for (const [type, names] of Object.entries(read)) {
      const spec = specOf(type);
      assert.ok(spec, `${type} is in the catalogue`);
      for (const name of names as readonly string[]) {
        assert.ok(spec.fields.some((field) => field.name === name), `${type}.${name}`);
        fields++;
      }
    }
  }
  assert.ok(fields >= 15, `${fields} fields checked`);
});
