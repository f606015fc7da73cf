/**
 * docs/events.ts is the catalogue the dashboard, the sinks and the C, Ruby and
 * nginx producers rely on: this runs the real sources (nginx, Postfix and sshd on
 * generated logs, metrics, demo) and a router through the real wire, and checks
 * every event against it, field by field, by BSON type. And docs/events.md must
 * be what docs/events.ts makes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { BSON } from "bson";
import { Collector } from "@eventstorm/core";
import { LogGenerator } from "@eventstorm/source-demo";
import { CATALOGUE, catalogueMarkdown, ENVELOPE, type FieldSpec } from "../docs/events.ts";
import { startRouter } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Whether a value decoded with promoteValues: false has the catalogue's type. */
function fits(value: unknown, spec: FieldSpec): boolean {
  const bsonType = (value as { _bsontype?: string })?._bsontype;
  switch (spec.type) {
    case "string":
      return typeof value === "string";
    case "date":
      return value instanceof Date;
    case "bool":
      return typeof value === "boolean";
    case "int32":
      return bsonType === "Int32" || bsonType === "Long";
    case "number":
      return bsonType === "Int32" || bsonType === "Long" || bsonType === "Double";
    case "array<number|null>":
      return Array.isArray(value) &&
        value.every((v) => v === null || fits(v, { type: "number", doc: "" }));
    case "array<document>":
      return Array.isArray(value) && value.every((element) => {
        if (element === null || typeof element !== "object") return false;
        return problems(element as Record<string, unknown>, spec.elements!, false).length === 0;
      });
  }
}

function problems(
  document: Record<string, unknown>,
  fields: Record<string, FieldSpec>,
  open: boolean,
): string[] {
  const found: string[] = [];
  for (const [name, value] of Object.entries(document)) {
    const spec = fields[name];
    if (!spec) {
      if (!open) found.push(`unknown field ${name}`);
      continue;
    }
    if (!fits(value, spec)) {
      found.push(`${name} is not ${spec.type}: ${BSON.EJSON.stringify(value)}`);
    }
  }
  for (const [name, spec] of Object.entries(fields)) {
    if (spec.always && !(name in document)) found.push(`${name} missing`);
  }
  return found;
}

async function writeLogs(dir: string): Promise<void> {
  const generator = new LogGenerator({ seed: 11 });
  const lines = (n: number, make: () => string | string[]) =>
    Array.from({ length: n }, () => [make()].flat().join("\n")).join("\n") + "\n";
  await Deno.writeTextFile(`${dir}/access.log`, lines(2000, () => generator.nginxLine()));
  await Deno.writeTextFile(`${dir}/mail.log`, lines(400, () => generator.postfixTransaction()));
  await Deno.writeTextFile(`${dir}/auth.log`, lines(1500, () => generator.sshdLine()));
}

Deno.test({
  name: "catalogue: every event the real sources and the router emit matches docs/events.ts",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "catalogue_" });
    const router = startRouter({ statsIntervalMs: 200 });
    const collector = await Collector.open({ endpoints: router.sinks });
    const counts = new Map<string, number>();
    const failures: string[] = [];
    const reading = (async () => {
      for await (const message of collector.messages()) {
        const view = new DataView(message.body.buffer, message.body.byteOffset);
        for (let offset = 0; offset < message.body.length;) {
          const size = view.getInt32(offset, true);
          const document = BSON.deserialize(message.body.subarray(offset, offset + size), {
            promoteValues: false,
          });
          offset += size;
          const type = String(document.type);
          counts.set(type, (counts.get(type) ?? 0) + 1);
          const spec = CATALOGUE[type];
          if (!spec) {
            failures.push(`${type}: not in the catalogue`);
            continue;
          }
          const found = problems(document, { ...ENVELOPE, ...spec.fields }, !!spec.openFields);
          if (found.length > 0 && failures.length < 20) {
            failures.push(`${type}: ${found.join("; ")}`);
          }
        }
      }
    })();
    try {
      await writeLogs(dir);
      const run = (args: string[]) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            new URL("../cli.ts", import.meta.url).pathname,
            ...args,
            "--to",
            router.sources,
          ],
          stdout: "null",
          stderr: "piped",
        }).output();
      const results = await Promise.all([
        run(["source", "nginx", "--file", `${dir}/access.log`, "--once", "--no-checkpoint"]),
        run(["source", "postfix", "--file", `${dir}/mail.log`, "--once", "--no-checkpoint"]),
        run(["source", "sshd", "--file", `${dir}/auth.log`, "--once", "--no-checkpoint"]),
        run(["source", "metrics", "--once"]),
        run(["source", "demo", "--limit", "2000", "--rate", "4000"]),
      ]);
      for (const result of results) {
        assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
      }
      const expected = Object.keys(CATALOGUE);
      const deadline = Date.now() + 10_000;
      while (expected.some((type) => !counts.has(type)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(failures, []);
      assert.deepEqual(expected.filter((type) => !counts.has(type)), [], "types never seen");
    } finally {
      await collector.close();
      await reading;
      await router.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("catalogue: docs/events.md is what docs/events.ts makes", async () => {
  const formatter = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=md", "-"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = formatter.stdin.getWriter();
  await writer.write(new TextEncoder().encode(catalogueMarkdown()));
  await writer.close();
  const formatted = new TextDecoder().decode((await formatter.output()).stdout);
  const file = await Deno.readTextFile(new URL("../docs/events.md", import.meta.url));
  assert.equal(file, formatted, "run: deno run -A docs/events.ts && deno fmt docs/events.md");
});
