import assert from "node:assert/strict";
import { join } from "node:path";
import { compileLogFormat } from "./log_format.ts";
import {
  listAccessLogs,
  listLogFormats,
  loadLogFormatSync,
  NginxConfError,
  parseNginxConf,
  readNginxConfSync,
} from "./nginx_conf.ts";

// Debian's stock nginx.conf layout, with the format from the nginx documentation.
const MAIN_CONF = `# nginx.conf
user www-data;
worker_processes auto;
events {
    worker_connections 768; # per worker
}

http {
    sendfile on;
    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';
    log_format json escape=json
        '{"time":"$time_iso8601",'
        '"status":$status,'   # numbers stay unquoted
        '"ua":"$http_user_agent"}';
    log_format "quoted \\"name\\"" "$status\\t$request_time";
    access_log /var/log/nginx/access.log main;
    include conf.d/*.conf;
    include sites/default;
}
`;

Deno.test("parseNginxConf: blocks, comments, multi-string directives, escapes", () => {
  const directives = parseNginxConf(MAIN_CONF, { file: "nginx.conf" });
  assert.deepEqual(directives.map((d) => d.name), ["user", "worker_processes", "events", "http"]);
  const http = directives[3];
  const formats = http.block!.filter((d) => d.name === "log_format");
  assert.equal(formats.length, 3);
  assert.deepEqual(formats[0].args, [
    "main",
    '$remote_addr - $remote_user [$time_local] "$request" ',
    '$status $body_bytes_sent "$http_referer" ',
    '"$http_user_agent" "$http_x_forwarded_for"',
  ]);
  assert.equal(formats[0].line, 10);
  assert.deepEqual(formats[1].args.slice(0, 2), ["json", "escape=json"]);
  assert.deepEqual(formats[2].args, ['quoted "name"', "$status\t$request_time"]);
  assert.equal(directives[2].block![0].args[0], "768");
});

Deno.test("parseNginxConf keeps ${var} braces inside bare words", () => {
  const [directive] = parseNginxConf("log_format x ${status}|$request_time;");
  assert.deepEqual(directive.args, ["x", "${status}|$request_time"]);
});

Deno.test("parseNginxConf reports unbalanced input with file and line", () => {
  assert.throws(() => parseNginxConf("http {\n  a b;\n", { file: "x.conf" }), NginxConfError);
  assert.throws(() => parseNginxConf("a 'b;\n", { file: "x.conf" }), /x\.conf:1: unexpected end/);
  assert.throws(() => parseNginxConf("a b\n", { file: "x.conf" }), /expecting ";"/);
  assert.throws(() => parseNginxConf("}\n", { file: "x.conf" }), /unexpected "}"/);
});

Deno.test("listLogFormats concatenates strings and knows combined", () => {
  const formats = listLogFormats(parseNginxConf(MAIN_CONF));
  assert.deepEqual(formats.map((f) => [f.name, f.escape]), [
    ["combined", "default"],
    ["main", "default"],
    ["json", "json"],
    ['quoted "name"', "default"],
  ]);
  assert.equal(
    formats[1].format,
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"',
  );
  assert.equal(
    formats[2].format,
    '{"time":"$time_iso8601","status":$status,"ua":"$http_user_agent"}',
  );
  // The format read from the configuration parses a line nginx wrote with it.
  const main = compileLogFormat(formats[1].format, { escape: formats[1].escape });
  const fields = main.parse(
    '10.0.0.5 - - [02/Mar/2024:10:11:12 +0100] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0" "203.0.113.9"',
  );
  assert.equal(fields?.http_x_forwarded_for, "203.0.113.9");
});

Deno.test("listLogFormats rejects an escape nginx would reject", () => {
  assert.throws(
    () => listLogFormats(parseNginxConf("http { log_format x escape=xml '$status'; }")),
    /unknown log format escaping "xml"/,
  );
});

Deno.test("listAccessLogs names formats, combined by default, skipping off", () => {
  const logs = listAccessLogs(parseNginxConf(`http {
    access_log /var/log/nginx/a.log main buffer=32k;
    server { access_log /srv/b.log; location /x { access_log off; } }
  }`));
  assert.deepEqual(logs, [
    { path: "/var/log/nginx/a.log", format: "main" },
    { path: "/srv/b.log", format: "combined" },
  ]);
});

Deno.test("readNginxConfSync follows includes, globs in sorted order", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(join(dir, "conf.d"));
    Deno.mkdirSync(join(dir, "sites"));
    Deno.writeTextFileSync(join(dir, "nginx.conf"), MAIN_CONF);
    Deno.writeTextFileSync(join(dir, "conf.d", "b.conf"), "log_format b '$status b';\n");
    Deno.writeTextFileSync(join(dir, "conf.d", "a.conf"), "log_format a '$status a';\n");
    Deno.writeTextFileSync(join(dir, "conf.d", "skip.txt"), "this is not nginx syntax {");
    Deno.writeTextFileSync(
      join(dir, "sites", "default"),
      "server { access_log /srv/site.log b; }\n",
    );
    const directives = readNginxConfSync(join(dir, "nginx.conf"));
    const names = listLogFormats(directives).map((f) => f.name);
    assert.deepEqual(names, ["combined", "main", "json", 'quoted "name"', "a", "b"]);
    assert.equal(loadLogFormatSync(join(dir, "nginx.conf"), { name: "a" }).format, "$status a");
    // Without a name, the access_log that writes the file decides.
    assert.equal(
      loadLogFormatSync(join(dir, "nginx.conf"), { logPath: "/srv/site.log" }).name,
      "b",
    );
    assert.equal(
      loadLogFormatSync(join(dir, "nginx.conf"), { logPath: "/var/log/nginx/access.log" }).name,
      "main",
    );
    assert.equal(loadLogFormatSync(join(dir, "nginx.conf")).name, "combined");
    assert.throws(
      () => loadLogFormatSync(join(dir, "nginx.conf"), { name: "nope" }),
      /no log_format "nope" \(defined: combined, main, json, quoted "name", a, b\)/,
    );
    Deno.removeSync(join(dir, "sites", "default"));
    assert.throws(
      () => readNginxConfSync(join(dir, "nginx.conf")),
      /cannot read nginx configuration/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("readNginxConfSync globs includes as glob(3) does: classes, no dot files", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(join(dir, "conf.d"));
    Deno.writeTextFileSync(join(dir, "nginx.conf"), "http { include conf.d/[ac]*.conf; }\n");
    for (const name of ["a1", "b1", "c1"]) {
      Deno.writeTextFileSync(
        join(dir, "conf.d", `${name}.conf`),
        `log_format ${name} '$status';\n`,
      );
    }
    // A leading dot is never matched by a wildcard or class, so this is not read.
    Deno.writeTextFileSync(join(dir, "conf.d", ".a-backup.conf"), "not nginx syntax {");
    const names = listLogFormats(readNginxConfSync(join(dir, "nginx.conf"))).map((f) => f.name);
    assert.deepEqual(names, ["combined", "a1", "c1"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("readNginxConfSync stops include loops", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(join(dir, "nginx.conf"), "include nginx.conf;\n");
    assert.throws(() => readNginxConfSync(join(dir, "nginx.conf")), /nested too deeply/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
