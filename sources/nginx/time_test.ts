import assert from "node:assert/strict";
import { parseMsec, parseTimeIso8601, parseTimeLocal } from "./time.ts";

Deno.test("parseTimeLocal reads nginx's local time with its offset", () => {
  assert.equal(
    new Date(parseTimeLocal("17/May/2015:08:05:32 +0000")).toISOString(),
    "2015-05-17T08:05:32.000Z",
  );
  assert.equal(
    new Date(parseTimeLocal("29/Jun/2017:03:50:22 +0300")).toISOString(),
    "2017-06-29T00:50:22.000Z",
  );
  assert.equal(
    new Date(parseTimeLocal("31/Dec/1999:23:59:59 -0530")).toISOString(),
    "2000-01-01T05:29:59.000Z",
  );
  assert.equal(
    new Date(parseTimeLocal("29/Feb/2024:12:00:00 +0100")).toISOString(),
    "2024-02-29T11:00:00.000Z",
  );
});

Deno.test("parseTimeLocal agrees with Date.UTC on every month", () => {
  const months = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
  ];
  for (const [m, name] of months.entries()) {
    for (const year of [1970, 2000, 2023, 2024, 2100]) {
      const text = `28/${name}/${year}:13:14:15 +0000`;
      assert.equal(parseTimeLocal(text), Date.UTC(year, m, 28, 13, 14, 15), text);
    }
  }
});

Deno.test("parseTimeLocal rejects what is not a time_local", () => {
  for (
    const text of [
      "",
      "17/Mai/2015:08:05:32 +0000",
      "17/May/2015:08:05:32 0000",
      "17/May/2015:25:05:32 +0000",
      "1x/May/2015:08:05:32 +0000",
      "17/May/2015 08:05:32 +0000",
      "2015-05-17T08:05:32+00:00",
    ]
  ) {
    assert.ok(Number.isNaN(parseTimeLocal(text)), text);
  }
});

Deno.test("parseTimeIso8601 reads $time_iso8601", () => {
  assert.equal(
    new Date(parseTimeIso8601("2026-11-23T19:28:06+00:00")).toISOString(),
    "2026-11-23T19:28:06.000Z",
  );
  assert.equal(
    new Date(parseTimeIso8601("2017-06-30T03:28:23+03:00")).toISOString(),
    "2017-06-30T00:28:23.000Z",
  );
  assert.ok(Number.isNaN(parseTimeIso8601("2017-06-30 03:28:23+03:00")));
  assert.ok(Number.isNaN(parseTimeIso8601("2017-13-30T03:28:23+03:00")));
});

Deno.test("parseMsec reads $msec to the millisecond", () => {
  assert.equal(parseMsec("1795462086.953"), 1795462086953);
  assert.equal(parseMsec("1431849932"), 1431849932000);
  assert.ok(Number.isNaN(parseMsec("-")));
  assert.ok(Number.isNaN(parseMsec("1.2.3")));
});
