import assert from "node:assert/strict";
import { redactCredentials } from "./failure_log.ts";

Deno.test("redactCredentials hides passwords in connection strings", () => {
  assert.equal(
    redactCredentials("bad auth for mongodb+srv://app:p%40ss@a.example,b.example/db?w=1"),
    "bad auth for mongodb+srv://app:***@a.example,b.example/db?w=1",
  );
  assert.equal(redactCredentials("host=db password=hunter2 user=x"), "host=db password=*** user=x");
  assert.equal(redactCredentials("tcp://127.0.0.1:5555 is down"), "tcp://127.0.0.1:5555 is down");
  assert.equal(redactCredentials("mongodb://db1:27017/x"), "mongodb://db1:27017/x");
});
