/**
 * Fuzzing of the sshd parser with generated auth logs, mutated and random: whatever a
 * line holds, it returns events the emitter can send or nothing.
 */
import { LogGenerator } from "../../cli/demo/loggen.ts";
import { FUZZ_SEED, fuzzParser } from "../../tests/fuzz.ts";
import { SshdParser } from "./sshd_parser.ts";

Deno.test("fuzz: the sshd parser returns sendable events or nothing", () => {
  const generator = new LogGenerator({ seed: FUZZ_SEED, hostname: "bastion", utcOffsetMinutes: 0 });
  const parser = new SshdParser({ utc: true });
  const context = { path: "auth.log", host: "fuzz", readAt: new Date("2026-12-04T06:00:00Z") };
  fuzzParser(
    Array.from({ length: 500 }, () => generator.sshdLine()),
    (line) => parser.parse(line, context),
  );
});
