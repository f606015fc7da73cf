// Saves {n, pad} checkpoints as fast as it can, counting n up, until killed.
import { writeJsonAtomic } from "../checkpoint.ts";

const path = Deno.args[0];
// Big enough that a write takes more than one syscall-sized step.
const pad = "x".repeat(200_000);
for (let n = 1;; n++) {
  await writeJsonAtomic(path, { n, pad, check: n * 7 });
  if (n === 1) console.log("started");
}
