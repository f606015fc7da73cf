import assert from "node:assert/strict";
import { ExportParser } from "./export_format.ts";
import { SshdParser } from "@eventstorm/source-sshd";
import { PostfixTracker } from "@eventstorm/source-postfix";
import { mulberry32 } from "@eventstorm/core/internal";
import { assertSendable, FUZZ_SEED, withSeed } from "../../tests/fuzz.ts";
import { JournalRouter, syslogLineOf } from "./router.ts";

const enc = new TextEncoder();

function binaryField(name: string, value: string): Uint8Array {
  const data = enc.encode(value);
  const out = new Uint8Array(name.length + 1 + 8 + data.length + 1);
  out.set(enc.encode(name + "\n"));
  new DataView(out.buffer).setUint32(name.length + 1, data.length, true);
  out.set(data, name.length + 9);
  out[out.length - 1] = 10;
  return out;
}

Deno.test("text and binary fields, entries split at every byte", () => {
  const parts = [
    enc.encode("__CURSOR=s=1;i=1\n__REALTIME_TIMESTAMP=1764741600000000\n"),
    binaryField("MESSAGE", "line one\nline two = x"),
    enc.encode("_PID=7\n\nMESSAGE=second\n\n"),
  ];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, (at += p.length) - p.length);
  for (const step of [1, 3, 7, all.length]) {
    const parser = new ExportParser();
    const entries = [];
    for (let i = 0; i < all.length; i += step) {
      entries.push(...parser.push(all.subarray(i, i + step)));
    }
    assert.equal(entries.length, 2, `step ${step}`);
    assert.equal(entries[0].MESSAGE, "line one\nline two = x");
    assert.equal(entries[0]._PID, "7");
    assert.equal(entries[1].MESSAGE, "second");
  }
});

Deno.test("the syslog line keeps the journal's microsecond time and hostname", () => {
  assert.equal(
    syslogLineOf({
      __REALTIME_TIMESTAMP: "1764741600123456",
      _HOSTNAME: "mx",
      SYSLOG_IDENTIFIER: "postfix/smtpd",
      _PID: "5",
      MESSAGE: "connect from x[192.0.2.1]",
    }),
    "2025-12-03T06:00:00.123456Z mx postfix/smtpd[5]: connect from x[192.0.2.1]",
  );
  assert.equal(syslogLineOf({ MESSAGE: "no time" }), undefined);
});

Deno.test("fuzz: random and mutated export streams never throw", () => {
  const rand = mulberry32(FUZZ_SEED);
  const valid = new Uint8Array([
    ...enc.encode("__REALTIME_TIMESTAMP=1764741600000000\nSYSLOG_IDENTIFIER=sshd\n"),
    ...binaryField("MESSAGE", "Accepted password for a from 192.0.2.1 port 1 ssh2"),
    10,
  ]);
  const router = new JournalRouter({
    sshd: new SshdParser({ utc: true }),
    postfix: new PostfixTracker({ utc: true }),
    generic: true,
  });
  withSeed(() => {
    for (let round = 0; round < 3000; round++) {
      const parser = new ExportParser(4096);
      const bytes = round % 2
        ? Uint8Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256))
        : valid.map((b) => (rand() < 0.05 ? Math.floor(rand() * 256) : b));
      for (let i = 0; i < bytes.length; i += 17) {
        for (const entry of parser.push(bytes.subarray(i, i + 17))) {
          assertSendable(router.route(entry, "h") ?? [], JSON.stringify(entry));
        }
      }
    }
  });
});

Deno.test("a timestamp later than a Date holds is an entry not understood, not a crash", () => {
  const sshd = new SshdParser({ utc: true });
  const router = new JournalRouter({ sshd, generic: true });
  for (const ident of ["sshd", "cron"]) {
    const entry = {
      __REALTIME_TIMESTAMP: "9999999999999999999",
      _HOSTNAME: "h",
      SYSLOG_IDENTIFIER: ident,
      MESSAGE: "Accepted password for a from 192.0.2.1 port 1 ssh2",
    };
    assert.equal(router.route(entry, "me"), undefined, ident);
    assert.equal(syslogLineOf(entry), undefined);
    const [event] = router.route({ ...entry, __REALTIME_TIMESTAMP: "1764741600000000" }, "me")!;
    assert.equal(event.time.getTime(), 1764741600000, ident);
  }
});
