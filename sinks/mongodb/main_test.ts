import assert from "node:assert/strict";
import { command } from "./main.ts";

Deno.test("mongodb help says the sink sets _id, replacing the sender's (audit #8)", () => {
  const epilog = command.epilog ?? "";
  assert.ok(!epilog.includes("keeps its _id"), epilog);
  assert.ok(epilog.includes("an _id the sender put is replaced"), epilog);
});
