/**
 * `eventstorm keygen NAME`: a CURVE key pair as two certificate files in the CZMQ
 * format, `NAME` (public, to hand out) and `NAME_secret` (mode 0600, to keep).
 *
 * @module
 */
import { writeKeyPair } from "@eventstorm/core";
import {
  type Command,
  type FlagSpec,
  helpText,
  parseFlags,
  UsageError,
} from "@eventstorm/core/cli";

const KEYGEN_FLAGS = {
  name: {
    type: "string",
    value: "TEXT",
    help: "the certificate's metadata name [default: the file name]",
  },
  force: { type: "boolean", help: "overwrite existing files" },
} as const satisfies Record<string, FlagSpec>;

/** The `eventstorm keygen` command line. */
export const command: Command<typeof KEYGEN_FLAGS> = {
  name: "eventstorm keygen",
  summary: "make a CURVE key pair: NAME (public) and NAME_secret (mode 0600)",
  positionals: "NAME",
  flags: KEYGEN_FLAGS,
  epilog: `The files are CZMQ certificates (zcert), so keys made here work with CZMQ, rsyslog
omczmq and pyzmq's zmq.auth, and theirs work here. Give NAME to --curve-server
or put it in a router's --allow-keys directory; keep NAME_secret to yourself.

Examples:
  eventstorm keygen router             # router, router_secret
  eventstorm keygen /etc/eventstorm/web1 --name web1.example.com`,
  main: keygenMain,
};

/**
 * Runs `eventstorm keygen`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * import { command } from "./keygen.ts";
 * await command.main(["router"]);
 * ```
 */
// deno-lint-ignore require-await -- every command's main has the same async shape
async function keygenMain(args: string[]): Promise<number> {
  const parsed = parseFlags(args, command);
  if (parsed.help) {
    console.log(helpText(command));
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    throw new UsageError("keygen takes one NAME (the public file; the secret one is NAME_secret)");
  }
  const [base] = parsed.positionals;
  const pair = writeKeyPair(base, {
    name: parsed.values.name,
    overwrite: parsed.values.force,
  });
  console.error(`keygen: wrote ${base} (public) and ${base}_secret (secret, mode 0600)`);
  console.log(pair.publicKey);
  return 0;
}
