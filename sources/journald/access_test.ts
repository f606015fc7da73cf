import assert from "node:assert/strict";
import { readsSystemJournal } from "./access.ts";

Deno.test("readsSystemJournal: a system journal this process may not open is not read; none at all is", async () => {
  const root = await Deno.makeTempDir({ prefix: "journal_access_" });
  try {
    await Deno.mkdir(`${root}/0123456789abcdef0123456789abcdef`);
    const journal = `${root}/0123456789abcdef0123456789abcdef/system.journal`;
    await Deno.writeTextFile(journal, "");
    await Deno.chmod(journal, 0o600);
    assert.equal(readsSystemJournal([root]), true, "its owner reads it");
    assert.equal(readsSystemJournal([`${root}/missing`]), true, "no system journal to miss");
    // Another owner's 0600 file, read by a process without the capability to pass file
    // modes: what a user outside group systemd-journal meets. Root only drops it by setpriv.
    if (Deno.uid() !== 0) {
      assert.notEqual(Deno.env.get("CI"), "true", "dropping the capability needs root");
      return;
    }
    await Deno.chown(journal, 65534, 65534);
    const script = `import { readsSystemJournal } from ${
      JSON.stringify(new URL("./access.ts", import.meta.url).href)
    }; console.log(readsSystemJournal([${JSON.stringify(root)}]));`;
    const dropped = "-dac_override,-dac_read_search";
    const output = await new Deno.Command("setpriv", {
      args: [
        `--bounding-set=${dropped}`,
        `--inh-caps=${dropped}`,
        Deno.execPath(),
        "eval",
        script,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    assert.equal(new TextDecoder().decode(output.stdout).trim(), "false");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
