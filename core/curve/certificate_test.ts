import assert from "node:assert/strict";
import {
  certificateText,
  generateKeyPair,
  looksLikeKey,
  parseCertificate,
  publicKeyOf,
  readCertificate,
  writeKeyPair,
} from "./certificate.ts";
import { UsageError } from "../flags.ts";
import { curveFromFlags, serverKeyFrom } from "./options.ts";
import { mulberry32 } from "../random.ts";
import { z85Decode, z85Encode } from "./z85.ts";

Deno.test("z85: the RFC 32 example, and a round trip of random bytes", () => {
  const hello = new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
  assert.equal(z85Encode(hello), "HelloWorld");
  assert.deepEqual(z85Decode("HelloWorld"), hello);
  const random = mulberry32(7);
  for (let i = 0; i < 200; i++) {
    const bytes = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
    assert.deepEqual(z85Decode(z85Encode(bytes)), bytes);
  }
  assert.equal(z85Decode("Hell"), undefined, "not a multiple of 5");
  assert.equal(z85Decode("Hell~"), undefined, "~ is not in the alphabet");
  assert.equal(z85Decode("#####"), undefined, "above 2^32");
});

Deno.test("certificates: a pair written by writeKeyPair reads back, secret file mode 0600", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const pair = writeKeyPair(`${dir}/web1`, { name: "web1.example" });
    assert.equal(Deno.statSync(`${dir}/web1_secret`).mode! & 0o777, 0o600);
    const publicCert = readCertificate(`${dir}/web1`);
    assert.equal(publicCert.publicKey, pair.publicKey);
    assert.equal(publicCert.secretKey, undefined);
    assert.equal(publicCert.metadata.get("name"), "web1.example");
    const secretCert = readCertificate(`${dir}/web1_secret`, { secret: true });
    assert.equal(secretCert.secretKey, pair.secretKey);
    assert.equal(publicKeyOf(pair.secretKey), pair.publicKey);
    assert.throws(() => writeKeyPair(`${dir}/web1`), /exists already/);
    Deno.chmodSync(`${dir}/web1`, 0o600);
    assert.throws(() => readCertificate(`${dir}/web1`, { secret: true }), /holds no secret key/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("certificates: a secret file readable by group or others is refused, naming the file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const pair = writeKeyPair(`${dir}/k`);
    for (const mode of [0o640, 0o604, 0o644]) {
      Deno.chmodSync(`${dir}/k_secret`, mode);
      assert.throws(
        () => readCertificate(`${dir}/k_secret`, { secret: true }),
        (error: Error) => {
          assert.ok(error instanceof UsageError);
          assert.match(error.message, /k_secret is readable by group or others/);
          assert.ok(!error.message.includes(pair.secretKey));
          return true;
        },
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("certificates: the CZMQ layout is what zcert writes (sections, indents, quotes)", () => {
  const pair = generateKeyPair();
  const text = certificateText({ ...pair, metadata: new Map([["name", "a"]]) });
  assert.ok(text.startsWith("#   ****  Generated on "));
  const lines = text.trimEnd().split("\n").slice(-5);
  assert.deepEqual(lines.slice(0, 3), ["metadata", '    name = "a"', "curve"]);
  assert.equal(lines[3], `    public-key = "${pair.publicKey}"`);
  assert.equal(lines[4], `    secret-key = "${pair.secretKey}"`);
  // What pyzmq's zmq.auth and CZMQ write: comments, blank lines, tab or space indents.
  const czmq =
    `#   ****  Generated on 2016-01-01 by CZMQ  ****\n\nmetadata\ncurve\n\tpublic-key = "${pair.publicKey}"\n\tsecret-key = "${pair.secretKey}"\n`;
  assert.equal(parseCertificate(czmq, "x").secretKey, pair.secretKey);
});

Deno.test("certificates fuzz: truncated, mutated, binary and huge files give one-line errors", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const pair = generateKeyPair();
    const good = certificateText({ ...pair, metadata: new Map([["name", "fuzz"]]) });
    const random = mulberry32(2026);
    const cases: Uint8Array[] = [];
    const bytes = new TextEncoder().encode(good);
    for (let cut = 0; cut < bytes.length; cut += 7) cases.push(bytes.slice(0, cut));
    for (let i = 0; i < 300; i++) {
      const mutated = bytes.slice();
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) {
        mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
      }
      cases.push(mutated);
    }
    cases.push(Uint8Array.from({ length: 4096 }, () => Math.floor(random() * 256)));
    cases.push(new Uint8Array(200 * 1024).fill(0x41));
    let accepted = 0;
    for (const content of cases) {
      const path = `${dir}/case_secret`;
      Deno.writeFileSync(path, content, { mode: 0o600 });
      try {
        const certificate = readCertificate(path, { secret: true });
        // Whatever parses must be a real key pair shape.
        assert.equal(certificate.publicKey.length, 40);
        accepted++;
      } catch (error) {
        assert.ok(error instanceof UsageError, `not a UsageError: ${error}`);
        assert.equal(error.message.split("\n").length, 1);
        assert.match(error.message, /case_secret/);
        assert.ok(!error.message.includes(pair.secretKey), "an error quoted the secret key");
      }
    }
    assert.ok(accepted >= 1, "the untouched prefix cases include the whole file");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("certificates: a key given where a file is wanted is never echoed (audit #7, #16)", () => {
  const dir = Deno.makeTempDirSync();
  const cwd = Deno.cwd();
  try {
    // Relative paths resolve here: no file can be named like the key by accident.
    Deno.chdir(dir);
    const pair = writeKeyPair(`${dir}/web1`);
    const refusals: [() => unknown, RegExp][] = [
      [
        () => curveFromFlags({ "curve-server": [`${dir}/web1`], "curve-secret": pair.secretKey }),
        /^--curve-secret takes a certificate FILE \(from eventstorm keygen\), not a key$/,
      ],
      [
        () => curveFromFlags({ "curve-server": [], "curve-secret": pair.publicKey }),
        /--curve-secret takes a certificate FILE/,
      ],
      [
        () => serverKeyFrom(`${pair.publicKey}X`),
        /--curve-server is neither a valid CURVE key .* nor a certificate file/,
      ],
      [() => serverKeyFrom(pair.secretKey.slice(1)), /neither a valid CURVE key/],
      [() => readCertificate(pair.secretKey, { secret: true }), /looks like a key \(not shown\)/],
    ];
    for (const [call, expected] of refusals) {
      assert.throws(call, (error: Error) => {
        assert.ok(error instanceof UsageError, String(error));
        assert.match(error.message, expected);
        for (const key of [pair.secretKey, pair.publicKey, pair.secretKey.slice(1)]) {
          assert.ok(!error.message.includes(key), `key material in: ${error.message}`);
        }
        return true;
      });
    }
    // A valid key still works for --curve-server, and file paths are still named.
    assert.equal(serverKeyFrom(pair.publicKey), pair.publicKey);
    assert.throws(
      () => serverKeyFrom(`${dir}/nope`),
      /cannot read certificate .*\/nope: no such file/,
    );
    assert.ok(looksLikeKey(pair.secretKey) && looksLikeKey(`${pair.publicKey}X`));
    assert.ok(!looksLikeKey("/etc/eventstorm/clients/web1.example.com"));
  } finally {
    Deno.chdir(cwd);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("certificates: a public certificate as the secret one is named so, not told to chmod (audit #16)", () => {
  const dir = Deno.makeTempDirSync();
  try {
    writeKeyPair(`${dir}/router`);
    assert.equal(Deno.statSync(`${dir}/router`).mode! & 0o777, 0o644);
    assert.throws(() => readCertificate(`${dir}/router`, { secret: true }), (error: Error) => {
      assert.match(error.message, /router holds no secret key: it is a public certificate/);
      assert.match(error.message, /router_secret$/);
      assert.doesNotMatch(error.message, /chmod/);
      return true;
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("certificates: keygen DIR/ or into a taken name writes nothing; a failed half is removed (audit #8)", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const listing = () => [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assert.throws(() => writeKeyPair(`${dir}/`), /is a directory: give a NAME .*\/router\)/);
    assert.throws(() => writeKeyPair(dir), /is a directory/);
    assert.deepEqual(listing(), []);
    // The public name taken (and the secret free): refused before the secret is written.
    Deno.writeTextFileSync(`${dir}/web1`, "mine");
    assert.throws(() => writeKeyPair(`${dir}/web1`), /web1 exists already/);
    assert.deepEqual(listing(), ["web1"]);
    Deno.removeSync(`${dir}/web1`);
    // The public file cannot be written although the checks passed: the secret goes too.
    Deno.symlinkSync(`${dir}/missing/dir/web2`, `${dir}/web2`);
    assert.throws(() => writeKeyPair(`${dir}/web2`, { overwrite: true }), /cannot write .*web2/);
    assert.deepEqual(listing(), ["web2"], "only the symlink, no web2_secret");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("certificates: a systemd credential (0400, or 0440 through its ACL) in $CREDENTIALS_DIRECTORY is accepted", () => {
  const dir = Deno.makeTempDirSync();
  const before = Deno.env.get("CREDENTIALS_DIRECTORY");
  try {
    Deno.mkdirSync(`${dir}/credentials`);
    Deno.mkdirSync(`${dir}/elsewhere`);
    const pair = writeKeyPair(`${dir}/router`);
    const credential = `${dir}/credentials/router_secret`;
    Deno.copyFileSync(`${dir}/router_secret`, credential);
    Deno.copyFileSync(`${dir}/router_secret`, `${dir}/elsewhere/router_secret`);
    // systemd chmods a credential 0400; owned by the service's user it reads anywhere.
    Deno.chmodSync(credential, 0o400);
    assert.equal(readCertificate(credential, { secret: true }).secretKey, pair.secretKey);
    // Through an ACL the user entry's mask shows as group bits: accepted only there.
    Deno.chmodSync(credential, 0o440);
    Deno.chmodSync(`${dir}/elsewhere/router_secret`, 0o440);
    Deno.env.delete("CREDENTIALS_DIRECTORY");
    assert.throws(() => readCertificate(credential, { secret: true }), /readable by group/);
    Deno.env.set("CREDENTIALS_DIRECTORY", `${dir}/credentials`);
    assert.equal(readCertificate(credential, { secret: true }).secretKey, pair.secretKey);
    assert.throws(
      () => readCertificate(`${dir}/elsewhere/router_secret`, { secret: true }),
      /readable by group/,
    );
  } finally {
    if (before === undefined) Deno.env.delete("CREDENTIALS_DIRECTORY");
    else Deno.env.set("CREDENTIALS_DIRECTORY", before);
    Deno.removeSync(dir, { recursive: true });
  }
});
