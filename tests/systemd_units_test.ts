/**
 * The units in deploy/systemd pass `systemd-analyze verify`, and the example agent
 * config passes `eventstorm agent --check`. verify insists that ExecStart's program
 * exists, so each unit is checked in a copy that points at a stand-in executable.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const UNITS = join(ROOT, "deploy", "systemd");
const CI = Deno.env.get("CI") === "true";

const analyze = await new Deno.Command("systemd-analyze", { args: ["--version"] }).output()
  .then((out) => out.success, () => false);
if (!analyze && !CI) console.warn("skipping unit verification: no systemd-analyze");

Deno.test({
  name: "deploy/systemd units pass systemd-analyze verify and are hardened",
  ignore: !analyze && !CI,
  async fn() {
    assert.ok(analyze, "systemd-analyze is required under CI (apt-get install systemd)");
    const dir = await Deno.makeTempDir({ prefix: "units_" });
    try {
      const bin = join(dir, "eventstorm");
      await Deno.writeTextFile(bin, "#!/bin/sh\nexit 0\n");
      await Deno.chmod(bin, 0o755);
      const names = [];
      for await (const entry of Deno.readDir(UNITS)) {
        if (!entry.name.endsWith(".service")) continue;
        names.push(entry.name);
        const text = await Deno.readTextFile(join(UNITS, entry.name));
        for (const key of ["ProtectSystem=strict", "NoNewPrivileges=yes", "Restart=on-failure"]) {
          assert.ok(text.includes(key), `${entry.name} has ${key}`);
        }
        assert.match(text, /^DynamicUser=yes$/m, entry.name);
        assert.match(text, /^CapabilityBoundingSet=$/m, `${entry.name} keeps no capability`);
        await Deno.writeTextFile(
          join(dir, entry.name),
          text.replaceAll("/usr/local/bin/eventstorm", bin),
        );
      }
      assert.deepEqual(names.sort(), [
        "eventstorm-agent.service",
        "eventstorm-router.service",
        "eventstorm-sink-store.service",
      ]);
      const out = await new Deno.Command("systemd-analyze", {
        args: ["verify", "--man=no", ...names.map((name) => join(dir, name))],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const said = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      // Lines about units other than ours (the host's own) are not our business.
      const ours = said.split("\n").filter((line) => line.includes("eventstorm"));
      assert.ok(out.success, said);
      assert.deepEqual(ours, [], said);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the example agent config passes eventstorm agent --check", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(ROOT, "cli.ts"),
      "agent",
      "--check",
      "--config",
      join(UNITS, "agent.toml"),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(
    text,
    /ok, 4 input\(s\): web \(nginx\), mail \(postfix\), auth \(sshd\), host \(metrics\)/,
  );
});
