import assert from "node:assert/strict";
import { mulberry32 } from "@eventstorm/core/internal";
import { LogGenerator } from "./loggen.ts";
import { writeDemoLogs } from "./write_logs.ts";
import { waitFor } from "../../tests/wait.ts";

const START = Date.parse("2025-03-01T12:00:00Z");
const fixedClock = () => new Date(START);
function steppingClock(stepMs: number): () => Date {
  let t = START;
  return () => new Date(t += stepMs);
}

// nginx escapes `"`, `\` and control bytes as \xHH, so quoted fields hold no quote.
const QUOTED = String.raw`"((?:[^"\\]|\\x[0-9A-F]{2})*)"`;
const COMBINED = new RegExp(
  String.raw`^(\S+) - (\S+) \[(\d{2})/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/(\d{4}):` +
    String.raw`(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\] ${QUOTED} (\d{3}) (\d+) ${QUOTED} ${QUOTED}`,
);
const COMBINED_LINE = new RegExp(COMBINED.source + "$");
const TIMED_LINE = new RegExp(
  COMBINED.source + String.raw` (\d+\.\d{3}) (-|\d+\.\d{3}(?:, \d+\.\d{3})*)$`,
);
const SYSLOG =
  /^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d:\d\d:\d\d) (\S+) ([\w/-]+)\[(\d+)\]: (.+)$/;

const SSHD_MESSAGES = [
  /^Failed password for (invalid user )?\S* from (\S+) port \d+ ssh2$/,
  /^Invalid user \S* from (\S+) port \d+$/,
  /^Accepted (password|publickey) for \S+ from (\S+) port \d+ ssh2(: (RSA|ED25519|ECDSA) SHA256:[A-Za-z0-9+/]{43})?$/,
  /^pam_unix\(sshd:session\): session opened for user \S+\(uid=\d+\) by \(uid=0\)$/,
  /^pam_unix\(sshd:session\): session closed for user \S+$/,
  /^Received disconnect from (\S+) port \d+:11: disconnected by user$/,
  /^Disconnected from user \S+ (\S+) port \d+$/,
  /^Connection (closed|reset) by (authenticating user \S+ |invalid user \S* )?(\S+) port \d+ \[preauth\]$/,
  /^error: maximum authentication attempts exceeded for root from (\S+) port \d+ ssh2 \[preauth\]$/,
  /^banner exchange: Connection from (\S+) port \d+: invalid format$/,
  /^Did not receive identification string from (\S+) port \d+$/,
];

function nginxLines(n: number, options: ConstructorParameters<typeof LogGenerator>[0]): string[] {
  const gen = new LogGenerator(options);
  return Array.from({ length: n }, () => gen.nginxLine());
}

Deno.test("nginxLine writes the combined format with a realistic mix", () => {
  const lines = nginxLines(5000, { seed: 1, now: fixedClock, utcOffsetMinutes: 0 });
  const statuses = new Map<number, number>();
  for (const line of lines) {
    const m = line.match(COMBINED_LINE);
    assert.ok(m, `not combined: ${line}`);
    assert.equal(
      `${m[3]}/${m[4]}/${m[5]}:${m[6]}:${m[7]}:${m[8]} ${m[9]}`,
      "01/Mar/2025:12:00:00 +0000",
    );
    statuses.set(Number(m[11]), (statuses.get(Number(m[11])) ?? 0) + 1);
    if (m[11] === "304") assert.equal(m[12], "0");
  }
  const share = (pred: (s: number) => boolean) =>
    [...statuses].filter(([s]) => pred(s)).reduce((sum, [, n]) => sum + n, 0) / lines.length;
  assert.equal([...statuses].sort((a, b) => b[1] - a[1])[0][0], 200);
  assert.ok(share((s) => s < 300) > 0.6 && share((s) => s < 300) < 0.9, "2xx share");
  assert.ok(share((s) => s === 404) > 0.02, "404s from scanners");
  assert.ok(share((s) => s >= 500) > 0.002, "some 5xx");
  assert.ok(lines.some((l) => /^[0-9a-f]+:[0-9a-f:]+ /.test(l)), "IPv6 clients");
  assert.ok(lines.some((l) => l.endsWith(' ""')), "an empty User-Agent");
  assert.ok(lines.some((l) => l.endsWith(' "-"')), "a missing User-Agent");
  assert.ok(lines.some((l) => l.endsWith('"<script>alert(1)</script>"')), "a hostile User-Agent");
  assert.ok(lines.some((l) => l.includes('"\\x16\\x03\\x01')), "a TLS handshake on port 80");
  assert.ok(lines.some((l) => l.includes('"GET /.env HTTP/1.1" 404')), "scanner probes");
  // Clients are skewed: the busiest address sends far more than an even share.
  const perClient = new Map<string, number>();
  for (const line of lines) {
    const ip = line.split(" ")[0];
    perClient.set(ip, (perClient.get(ip) ?? 0) + 1);
  }
  assert.ok(Math.max(...perClient.values()) > (3 * lines.length) / perClient.size);
});

Deno.test("nginxLine with the timed format adds request and upstream times", () => {
  const lines = nginxLines(3000, { seed: 2, now: fixedClock, nginxFormat: "timed" });
  let upstreamMissing = 0;
  let retried = 0;
  for (const line of lines) {
    const m = line.match(TIMED_LINE);
    assert.ok(m, `not timed: ${line}`);
    const [requestTime, upstreamTime] = [m[15], m[16]];
    if (upstreamTime === "-") upstreamMissing++;
    else if (upstreamTime.includes(",")) retried++;
    else assert.ok(Number(upstreamTime) <= Number(requestTime), `upstream slower: ${line}`);
  }
  assert.ok(upstreamMissing > 0 && upstreamMissing < lines.length, "static files have no upstream");
  assert.ok(retried > 0, "a retried upstream lists several times");
});

function assertStarts(line: string, start: string): void {
  assert.ok(line.startsWith(start), `expected '${start}…', got '${line}'`);
}

Deno.test("timestamps follow the clock and the UTC offset", () => {
  const clock = () => new Date("2025-12-05T03:04:05Z");
  const plus3 = new LogGenerator({ seed: 3, now: clock, utcOffsetMinutes: 180 });
  assert.match(plus3.nginxLine(), /\[05\/Dec\/2025:06:04:05 \+0300\]/);
  assertStarts(plus3.sshdLine(), "Dec  5 06:04:05 demo sshd[");
  const minus = new LogGenerator({
    seed: 3,
    now: clock,
    utcOffsetMinutes: -330,
    hostname: "bastion",
  });
  assert.match(minus.nginxLine(), /\[04\/Dec\/2025:21:34:05 -0530\]/);
  assertStarts(minus.sshdLine(), "Dec  4 21:34:05 bastion sshd[");
  const last = minus.postfixTransaction().at(-1)!;
  assertStarts(last, "Dec  4 21:34:05 bastion postfix/");
});

Deno.test("postfixTransaction follows each message from arrival to removal", () => {
  const gen = new LogGenerator({ seed: 4, now: steppingClock(20_000), utcOffsetMinutes: 0 });
  const statuses = new Map<string, number>();
  const deferred = new Set<string>();
  const removed = new Set<string>();
  let rejects = 0;
  for (let i = 0; i < 2000; i++) {
    const lines = gen.postfixTransaction();
    assert.ok(lines.length >= 2);
    const stamps = lines.map((line) => {
      const m = line.match(SYSLOG);
      assert.ok(m, `not syslog: ${line}`);
      assert.match(m[5], /^postfix\/(smtpd|cleanup|qmgr|smtp|local|pickup|bounce)$/);
      return m[3];
    });
    assert.deepEqual(stamps, [...stamps].sort(), "time goes forward within a transaction");
    if (lines.some((l) => l.includes("NOQUEUE: reject: RCPT from"))) {
      rejects++;
      assert.match(lines[0], /: connect from \S+\[[\d.]+\]$/);
      assert.match(lines.at(-1)!, /: disconnect from /);
      continue;
    }
    const ids = new Set<string>();
    for (const line of lines) {
      const m = line.match(/\]: ([0-9A-F]+): (.*)$/);
      if (!m) continue;
      assert.match(m[1], /^[0-9A-F]{10,11}$/);
      ids.add(m[1]);
      const status = m[2].match(/, status=(sent|deferred|bounced) \(/)?.[1];
      if (status) {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        assert.match(
          m[2],
          /^to=<[^>]+>, (orig_to=<[^>]+>, )?relay=\S+, delay=[\d.]+, delays=[\d.]+\/[\d.]+\/[\d.]+\/[\d.]+, dsn=\d\.\d\.\d, status=/,
        );
        if (status === "deferred") deferred.add(m[1]);
      }
      if (m[2] === "removed") removed.add(m[1]);
    }
    for (const id of ids) {
      const mine = lines.filter((l) => l.includes(`: ${id}: `));
      const from = mine.findIndex((l) =>
        /: from=<[^>]*>, size=\d+, nrcpt=\d+ \(queue active\)$/.test(l)
      );
      const delivery = mine.findIndex((l) => l.includes(", status="));
      assert.ok(
        from >= 0 && delivery > from,
        `queue ${id}: qmgr from= before delivery\n${lines.join("\n")}`,
      );
      const gone = mine.findIndex((l) => l.endsWith(": removed"));
      assert.ok(gone === -1 || gone === mine.length - 1, "removed comes last");
      if (mine.some((l) => l.includes("message-id="))) {
        assert.ok(
          mine.findIndex((l) => l.includes("message-id=")) < from,
          "cleanup before qmgr",
        );
      }
    }
  }
  assert.ok(rejects > 300 && rejects < 700, `rejects: ${rejects}`);
  assert.ok((statuses.get("sent") ?? 0) > (statuses.get("deferred") ?? 0));
  assert.ok((statuses.get("deferred") ?? 0) > 0 && (statuses.get("bounced") ?? 0) > 0);
  // Deferred mail is retried later and most of it finally leaves the queue.
  const finished = [...deferred].filter((id) => removed.has(id)).length;
  assert.ok(finished > 0.8 * deferred.size, `${finished} of ${deferred.size} deferred finished`);
});

Deno.test("sshdLine writes known sshd messages; connections keep their pid and address", () => {
  const gen = new LogGenerator({ seed: 5, now: fixedClock });
  const addressOfPid = new Map<string, string>();
  const failuresByAddress = new Map<string, number>();
  const kinds = new Set<number>();
  for (let i = 0; i < 3000; i++) {
    const line = gen.sshdLine();
    const m = line.match(SYSLOG);
    assert.ok(m, `not syslog: ${line}`);
    assert.equal(m[5], "sshd");
    const kind = SSHD_MESSAGES.findIndex((re) => re.test(m[7]));
    assert.ok(kind >= 0, `unknown sshd message: ${m[7]}`);
    kinds.add(kind);
    const address = m[7].match(/(?:from|by|user \S* ) ?([0-9a-f.:]+) port/)?.[1];
    if (address) {
      const seen = addressOfPid.get(m[6]);
      if (seen) assert.equal(address, seen, `pid ${m[6]} changed address`);
      addressOfPid.set(m[6], address);
    }
    if (m[7].startsWith("Failed password")) {
      const ip = m[7].match(/from (\S+) port/)![1];
      failuresByAddress.set(ip, (failuresByAddress.get(ip) ?? 0) + 1);
    }
  }
  assert.equal(kinds.size, SSHD_MESSAGES.length, "every kind of message occurs");
  const worst = Math.max(...failuresByAddress.values());
  assert.ok(worst > 100, `brute force: at most ${worst} failures from one address`);
  assert.ok([...failuresByAddress.keys()].some((ip) => ip.includes(":")), "an IPv6 attacker");
});

Deno.test("equal seeds give equal lines, other seeds other lines", () => {
  const run = (seed: number) => {
    const gen = new LogGenerator({ seed, now: steppingClock(7_000) });
    const out: string[] = [];
    for (let i = 0; i < 300; i++) {
      out.push(gen.nginxLine(), gen.sshdLine(), ...gen.postfixTransaction());
    }
    return out;
  };
  assert.deepEqual(run(42), run(42));
  assert.notDeepEqual(run(42), run(43));
  const a = mulberry32(9), b = mulberry32(9);
  const values = Array.from({ length: 100 }, () => a());
  assert.deepEqual(values, Array.from({ length: 100 }, () => b()));
  assert.ok(values.every((v) => v >= 0 && v < 1));
  assert.ok(new Set(values).size === 100);
});

const exists = (path: string) =>
  Deno.stat(path).then(() => true, (error) => {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  });

Deno.test("writeDemoLogs appends at the rate and rotates by rename", async () => {
  const dir = await Deno.makeTempDir();
  const stop = new AbortController();
  try {
    const writing = writeDemoLogs({
      dir,
      ratePerSecond: 500,
      rotateEveryMs: 1000,
      signal: stop.signal,
      generator: { seed: 6 },
    });
    await waitFor(() => exists(`${dir}/access.log`), "access.log");
    const first = (await Deno.stat(`${dir}/access.log`)).ino;
    await waitFor(() => exists(`${dir}/access.log.1`), "the first rotation");
    stop.abort();
    const counts = await writing;
    assert.ok(counts.rotations >= 1);
    if (counts.rotations <= 2) {
      // Every generation is still there (two are kept): the counts are the lines.
      const files: [string, number][] = [["access.log", counts.access], ["auth.log", counts.auth]];
      for (const [name, written] of files) {
        let lines = 0;
        for (const suffix of ["", ".1", ".2"]) {
          const text = await Deno.readTextFile(`${dir}/${name}${suffix}`).catch(() => "");
          lines += text.split("\n").length - 1;
        }
        assert.equal(lines, written, name);
      }
    }
    // Renamed, not copied: the file written first is now access.log.1.
    assert.equal((await Deno.stat(`${dir}/access.log.1`)).ino, first);
    for (const name of ["access.log", "mail.log", "auth.log"]) {
      const old = await Deno.readTextFile(`${dir}/${name}.1`);
      assert.ok(old.length > 0 && old.endsWith("\n"), `${name}.1 holds whole lines`);
      const current = await Deno.readTextFile(`${dir}/${name}`);
      assert.ok(current === "" || current.endsWith("\n"));
      for (const line of (old + current).split("\n").filter(Boolean)) {
        if (name === "access.log") assert.match(line, COMBINED_LINE);
        else assert.match(line, SYSLOG);
      }
    }
    const nginx = (await Deno.readTextFile(`${dir}/access.log.1`)).split("\n").length - 1;
    assert.ok(nginx > 100, `only ${nginx} nginx lines in the first second at 500/s`);
  } finally {
    stop.abort();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeDemoLogs keeps only the asked number of generations", async () => {
  const dir = await Deno.makeTempDir();
  const stop = new AbortController();
  try {
    const writing = writeDemoLogs({
      dir,
      ratePerSecond: 100,
      rotateEveryMs: 50,
      keep: 2,
      signal: stop.signal,
      generator: { seed: 7 },
    });
    let rotations = 0;
    let lastIno: number | null = null;
    await waitFor(async () => {
      const ino = (await Deno.stat(`${dir}/auth.log`).catch(() => null))?.ino ?? null;
      if (ino !== lastIno) rotations++;
      lastIno = ino;
      return rotations >= 5;
    }, "five rotations");
    stop.abort();
    await writing;
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, [
      "access.log",
      "access.log.1",
      "access.log.2",
      "auth.log",
      "auth.log.1",
      "auth.log.2",
      "mail.log",
      "mail.log.1",
      "mail.log.2",
    ]);
  } finally {
    stop.abort();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeDemoLogs rejects nonsense options and returns at once when aborted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const signal = AbortSignal.abort();
    await assert.rejects(writeDemoLogs({ dir, ratePerSecond: 0, signal }), RangeError);
    await assert.rejects(
      writeDemoLogs({ dir, ratePerSecond: 1, rotateEveryMs: -1, signal }),
      RangeError,
    );
    await assert.rejects(writeDemoLogs({ dir, ratePerSecond: 1, keep: 0, signal }), RangeError);
    await writeDemoLogs({ dir, ratePerSecond: 10, signal });
    assert.equal(await Deno.readTextFile(`${dir}/access.log`), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
