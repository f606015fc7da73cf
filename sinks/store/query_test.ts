import assert from "node:assert/strict";
import type { Event } from "@eventstorm/core";
import { UsageError } from "@eventstorm/core/cli";
import { EventStore } from "./store.ts";
import { queryEvents } from "./query.ts";
import { parseTimeBound, parseWhere, type WhereClause } from "./filter.ts";

const T0 = Date.UTC(2026, 3, 10, 8, 0, 0);

/** A small deterministic generator, so failures can be reproduced. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function sampleEvents(): Event[] {
  const next = random(42);
  const types = ["http.hit", "http.error", "httpx.probe", "ssh.login"];
  return Array.from({ length: 400 }, (_, i) => {
    const event: Event = {
      type: types[i % types.length],
      time: new Date(T0 + i * 1500),
      host: `web${i % 3}`,
      status: [200, 200, 301, 404, 500][Math.floor(next() * 5)],
      latency: Math.round(next() * 10_000) / 10,
      seq: i,
    };
    if (i % 10 === 0) event.status = String(event.status);
    if (i % 7 === 0) delete event.latency;
    if (i % 11 === 0) event.cached = i % 2 === 0;
    if (i % 13 === 0) event.big = BigInt(i) * 10n;
    return event;
  });
}

function withStore(run: (store: EventStore, events: Event[]) => void): void {
  const store = EventStore.open(":memory:");
  const events = sampleEvents();
  store.insertBatch(events);
  try {
    run(store, events);
  } finally {
    store.close();
  }
}

const seqs = (events: Event[]) => events.map((e) => e.seq as number);

Deno.test("type prefixes match like topics", () => {
  withStore((store, events) => {
    for (const prefix of ["http.", "http", "http.hit", "ssh", "", "zzz", "http.hit.more"]) {
      assert.deepEqual(
        seqs(queryEvents(store, { type: prefix })),
        seqs(events.filter((e) => e.type.startsWith(prefix))),
        `prefix '${prefix}'`,
      );
    }
    assert.throws(() => queryEvents(store, { type: "HTTP'" }), RangeError);
  });
});

Deno.test("since is inclusive, until exclusive", () => {
  withStore((store, events) => {
    const since = new Date(T0 + 30 * 1500);
    const until = T0 + 90 * 1500;
    const got = queryEvents(store, { since, until });
    assert.deepEqual(
      seqs(got),
      seqs(events.filter((e) => e.time.getTime() >= since.getTime() && e.time.getTime() < until)),
    );
    assert.equal(got[0].seq, 30);
    assert.equal(got[got.length - 1].seq, 89);
    assert.deepEqual(queryEvents(store, { since: until, until: since }), []);
  });
});

Deno.test("where operators compare numbers, and = matches the number or the text", () => {
  withStore((store, events) => {
    const num = (e: Event, f: string) =>
      typeof e[f] === "number"
        ? e[f] as number
        : typeof e[f] === "bigint"
        ? Number(e[f])
        : undefined;
    const cases: [string, (e: Event) => boolean][] = [
      ["latency>500", (e) => num(e, "latency")! > 500],
      ["latency<250.5", (e) => num(e, "latency")! < 250.5],
      ["latency>=999.9", (e) => num(e, "latency")! >= 999.9],
      ["latency<=10", (e) => num(e, "latency")! <= 10],
      // A string "500" is not ordered against numbers.
      ["status>=404", (e) => num(e, "status")! >= 404],
      ["status=500", (e) => e.status === 500 || e.status === "500"],
      ["status!=200", (e) => e.status !== undefined && e.status !== 200 && e.status !== "200"],
      ["host=web1", (e) => e.host === "web1"],
      ["host!=web1", (e) => e.host !== "web1"],
      ["type=ssh.login", (e) => e.type === "ssh.login"],
      ["cached=true", (e) => e.cached === true],
      ["cached!=true", (e) => e.cached === false],
      ["big>1000", (e) => num(e, "big")! > 1000],
      ["big=1300", (e) => e.big === 1300n],
      ["missing=x", () => false],
      ["missing!=x", () => false],
      [
        `time>=${new Date(T0 + 300 * 1500).toISOString()}`,
        (e) => e.time.getTime() >= T0 + 300 * 1500,
      ],
      [`time<${T0 + 3000}`, (e) => e.time.getTime() < T0 + 3000],
    ];
    for (const [text, predicate] of cases) {
      const expected = seqs(events.filter(predicate));
      assert.deepEqual(seqs(queryEvents(store, { where: [parseWhere(text)] })), expected, text);
    }
    const both = [parseWhere("status=404"), parseWhere("host=web2")];
    assert.deepEqual(
      seqs(queryEvents(store, { where: both, type: "http." })),
      seqs(
        events.filter((e) =>
          (e.status === 404 || e.status === "404") && e.host === "web2" &&
          e.type.startsWith("http.")
        ),
      ),
    );
  });
});

Deno.test("library where values: numbers, booleans and null match their JSON type only", () => {
  const store = EventStore.open(":memory:");
  store.insertBatch([
    { type: "t.a", time: new Date(T0), host: "h", v: 200, k: 1 },
    { type: "t.a", time: new Date(T0), host: "h", v: "200", k: 2 },
    { type: "t.a", time: new Date(T0), host: "h", v: true, k: 3 },
    { type: "t.a", time: new Date(T0), host: "h", v: "true", k: 4 },
    { type: "t.a", time: new Date(T0), host: "h", v: null, k: 5 },
    { type: "t.a", time: new Date(T0), host: "h", v: 1, k: 6 },
  ]);
  const keys = (value: WhereClause["value"], op: WhereClause["op"] = "=") =>
    queryEvents(store, { where: [{ field: "v", op, value }] }).map((e) => e.k);
  assert.deepEqual(keys(200), [1]);
  assert.deepEqual(keys("200"), [1, 2]);
  assert.deepEqual(keys(true), [3]);
  assert.deepEqual(keys("true"), [3, 4]);
  assert.deepEqual(keys(null), [5]);
  assert.deepEqual(keys(200, "!="), [2, 3, 4, 5, 6]);
  assert.deepEqual(keys(100, ">"), [1]);
  store.close();
});

Deno.test("field names with dots and dashes are one flat key", () => {
  const store = EventStore.open(":memory:");
  store.insertBatch([
    { type: "t.a", time: new Date(T0), host: "h", "resp.ms": 5, "user-agent": "curl", k: 1 },
    { type: "t.a", time: new Date(T0), host: "h", "resp.ms": 50, "user-agent": "wget", k: 2 },
    { type: "t.a", time: new Date(T0), host: "h", resp: { ms: 500 }, k: 3 },
  ]);
  const keys = (text: string) => queryEvents(store, { where: [parseWhere(text)] }).map((e) => e.k);
  assert.deepEqual(keys("resp.ms>1"), [1, 2]);
  assert.deepEqual(keys("user-agent=wget"), [2]);
  store.close();
});

Deno.test("limit and newest-first order", () => {
  withStore((store, events) => {
    assert.deepEqual(seqs(queryEvents(store, { limit: 5 })), [0, 1, 2, 3, 4]);
    assert.deepEqual(
      seqs(queryEvents(store, { limit: 3, order: "desc", type: "ssh." })),
      seqs(events.filter((e) => e.type === "ssh.login").reverse().slice(0, 3)),
    );
    assert.deepEqual(queryEvents(store, { limit: 0 }), []);
  });
});

Deno.test("field names that could reach SQL are refused", () => {
  const attacks = [`status') OR 1=1 --=1`, `a"b=1`, `1abc=2`, `a b=1`, `=5`, `x;y=1`];
  for (const text of attacks) assert.throws(() => parseWhere(text), UsageError, text);
  withStore((store) => {
    for (const field of [`x" OR 1=1 --`, "a'b", ""]) {
      assert.throws(
        () => queryEvents(store, { where: [{ field, op: "=", value: "1" }] }),
        RangeError,
      );
    }
    assert.throws(
      () => queryEvents(store, { where: [{ field: "n", op: "; DROP" as "=", value: "1" }] }),
      RangeError,
    );
    // A hostile value is only ever a bound parameter.
    assert.deepEqual(queryEvents(store, { where: [parseWhere(`host=x' OR '1'='1`)] }), []);
    assert.equal(store.count(), 400);
  });
});

Deno.test("parseWhere and parseTimeBound read the flag forms", () => {
  assert.deepEqual(parseWhere("a.b>=1.5"), { field: "a.b", op: ">=", value: "1.5" });
  assert.deepEqual(parseWhere("path=/a=b"), { field: "path", op: "=", value: "/a=b" });
  assert.deepEqual(parseWhere("msg="), { field: "msg", op: "=", value: "" });
  assert.deepEqual(parseWhere("x!=-3"), { field: "x", op: "!=", value: "-3" });
  assert.throws(() => parseWhere("status>high"), UsageError);
  assert.throws(() => parseWhere("host<5"), UsageError);
  assert.throws(() => parseWhere("no operator"), UsageError);
  assert.throws(() => parseWhere("time>yesterday"), UsageError);

  const now = new Date(Date.UTC(2026, 0, 1, 12));
  assert.equal(parseTimeBound("90m", { now }).getTime(), now.getTime() - 90 * 60_000);
  assert.equal(parseTimeBound("now", { now }).getTime(), now.getTime());
  assert.equal(parseTimeBound("2025-12-31", { now }).getTime(), Date.UTC(2025, 11, 31));
  assert.equal(
    parseTimeBound("2025-12-31T23:00:00+01:00", { now }).getTime(),
    Date.UTC(2025, 11, 31, 22),
  );
  assert.throws(() => parseTimeBound("yesterday", { now, flag: "since" }), /--since/);
  assert.throws(() => parseTimeBound("2025-13-45", { now }), UsageError);
  // A span back from now, not a timer: beyond 24d, up to 100 years (a Date's range
  // ends long after; 999999999d made an Invalid Date).
  assert.equal(parseTimeBound("400d", { now }).getTime(), now.getTime() - 400 * 86_400_000);
  assert.throws(
    () => parseTimeBound("999999999d", { now, flag: "since" }),
    /^UsageError: --since must be at most 36500d, got '999999999d'$/,
  );
});

Deno.test("--where compares int64 exactly, past 2^53 too (audit #1)", () => {
  const store = EventStore.open(":memory:");
  try {
    const snow = 1234567890123456789n;
    const events: Event[] = [
      { type: "t.snow", time: new Date(T0), host: "h", id: snow, who: "a" },
      { type: "t.snow", time: new Date(T0 + 1), host: "h", id: snow + 1n, who: "b" },
      { type: "t.snow", time: new Date(T0 + 2), host: "h", id: 2n ** 53n + 1n, who: "c" },
      { type: "t.snow", time: new Date(T0 + 3), host: "h", id: 5, who: "d" },
      { type: "t.snow", time: new Date(T0 + 4), host: "h", id: 5.5, who: "e" },
    ];
    store.insertBatch(events);
    const who = (...where: string[]) =>
      queryEvents(store, { type: "t.snow", where: where.map(parseWhere) }).map((e) => e.who);
    assert.deepEqual(who(`id=${snow}`), ["a"]);
    assert.deepEqual(who(`id>${snow}`), ["b"]);
    assert.deepEqual(who(`id>=${snow}`), ["a", "b"]);
    assert.deepEqual(who(`id!=${snow}`), ["b", "c", "d", "e"]);
    assert.deepEqual(who("id=9007199254740992"), []);
    assert.deepEqual(who("id=9007199254740993"), ["c"]);
    assert.deepEqual(who("id<9007199254740993", "id>5"), ["e"]);
    assert.deepEqual(who("id=5"), ["d"]);
    assert.deepEqual(who("id<5.5"), ["d"]);
  } finally {
    store.close();
  }
});
