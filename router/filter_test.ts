import assert from "node:assert/strict";
import { parseFlags, UsageError } from "@eventstorm/core/cli";
import { ROUTER_COMMAND, routerConfigFromFlags } from "./config.ts";
import { deniedAllows, TopicFilter, topicMatches } from "./filter.ts";
import { policyLines } from "./main.ts";

const TOPICS = [
  "http",
  "http.hit",
  "http.debug",
  "http.debugger",
  "http.debug.x",
  "httpd.access",
  "https.x",
  "smtp.x",
];

Deno.test("topic filter: a type matches itself and its dotted children, a dotted prefix its family (audit #4)", () => {
  const filter = new TopicFilter({ allow: ["http"], deny: ["http.debug"] });
  assert.deepEqual(TOPICS.filter((topic) => filter.passes(topic)), [
    "http",
    "http.hit",
    "http.debugger",
  ]);
  const family = new TopicFilter({ allow: ["http."], deny: ["http.debug."] });
  assert.deepEqual(TOPICS.filter((topic) => family.passes(topic)), [
    "http.hit",
    "http.debug",
    "http.debugger",
  ]);
  assert.ok(topicMatches("", "anything"));
  assert.ok(!topicMatches("http.", "http"));
});

Deno.test("topic filter: upstream subscriptions follow the same rule", () => {
  const filter = new TopicFilter({ allow: ["http"], deny: ["http.debug"] });
  assert.deepEqual(filter.upstreamFor(""), ["http"]);
  assert.deepEqual(filter.upstreamFor("http.hit"), ["http.hit"]);
  // httpd is no child of http: nothing upstream serves it.
  assert.deepEqual(filter.upstreamFor("httpd"), []);
  // http.debugger passes, so a subscription to http.debug still needs it upstream...
  assert.deepEqual(filter.upstreamFor("http.debug"), ["http.debug"]);
  // ...but everything under http.debug. is denied.
  assert.deepEqual(filter.upstreamFor("http.debug.x"), []);
});

Deno.test("router flags: an empty --allow or --deny prefix is a usage error (audit #5)", () => {
  for (const args of [["--deny", ""], ["--allow", ""], ["--allow", "http.", "--deny", ""]]) {
    assert.throws(
      () => routerConfigFromFlags(parseFlags(args, ROUTER_COMMAND).values),
      (error: Error) => error instanceof UsageError && /matches every topic/.test(error.message),
      args.join(" "),
    );
  }
});

Deno.test("router start lines: a warning when every allowed prefix is denied (audit #5)", () => {
  assert.deepEqual(deniedAllows(["http.", "smtp."], ["http"]), ["http."]);
  assert.deepEqual(policyLines({ allow: ["http.", "smtp."], deny: ["http"] }), []);
  assert.deepEqual(policyLines({ allow: [], deny: ["http."] }), []);
  assert.deepEqual(policyLines({ allow: ["http.debug"], deny: ["http.debug.", "x"] }), []);
  for (
    const [allow, deny] of [
      [["http."], ["http."]],
      [["http.", "smtp.x"], ["http", "smtp."]],
      [["http.debug"], ["http"]],
    ]
  ) {
    const lines = policyLines({ allow, deny });
    assert.equal(lines.length, 1, `${allow} / ${deny}`);
    assert.match(lines[0], /^router: warning: every --allow prefix is denied .*no topic can pass$/);
  }
});
