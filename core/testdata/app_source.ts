// A minimal file source on the shared CLI: lines starting with a letter become
// app.line events, others are unparsed. A line `@NAME …` names its host, as a
// syslog line does.
import { runCommand } from "../flags.ts";
import { runFileSourceMain } from "../source_cli.ts";

await runCommand(() =>
  runFileSourceMain(Deno.args, {
    name: "app",
    summary: "application log lines as app.line events",
    flags: { tag: { type: "string", value: "TAG", default: "none", help: "tag field" } },
    makeParser: (values) => ({
      parse: (line, ctx) => {
        const host = line.match(/^@(\S+)/)?.[1] ?? ctx.host;
        return /^[a-z@]/i.test(line)
          ? [{ type: "app.line", time: ctx.readAt, host, line, tag: values.tag }]
          : undefined;
      },
    }),
  })
);
