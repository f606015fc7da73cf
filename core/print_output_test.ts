import assert from "node:assert/strict";
import { PrintOutput } from "./print_output.ts";

/** A writer that keeps what it is given. */
function capture() {
  const chunks: Uint8Array[] = [];
  return {
    writer: {
      write(bytes: Uint8Array) {
        chunks.push(bytes.slice());
        return Promise.resolve(bytes.length);
      },
    },
    text: () => chunks.map((chunk) => new TextDecoder().decode(chunk)).join(""),
    writes: () => chunks.length,
  };
}

Deno.test("print output: an event shows without a flush, the events sent together in one write", async () => {
  const out = capture();
  const print = new PrintOutput({ writer: out.writer });
  for (let i = 0; i < 3; i++) print.send({ type: "app.x", time: new Date(0), host: "h", i });
  const deadline = Date.now() + 5000;
  while (out.writes() === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(out.writes(), 1);
  assert.equal(out.text().split("\n").filter((line) => line !== "").length, 3);
  await print.close();
  assert.equal(out.writes(), 1);
});
