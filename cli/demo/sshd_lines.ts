/**
 * sshd auth log lines: root brute force, invalid users, scanners, and the
 * logins of real users, several connections interleaved.
 *
 * @module
 */
import type { Dice } from "./dice.ts";
import type { LogTime } from "./log_time.ts";
import type { Pids } from "./pids.ts";
import { SSH_INVALID_USERS, SSH_USERS } from "./words.ts";

/** Who connects over ssh: drawn once per generator. */
export interface SshPools {
  /** Brute-force sources. */
  attackers: string[];
  /** Where real users log in from. */
  offices: string[];
  /** Port scanners. */
  scanners: string[];
}

/** Lines of an sshd auth log. */
export class SshdLines {
  readonly #dice: Dice;
  readonly #time: LogTime;
  readonly #hostname: string;
  readonly #pids: Pids;
  readonly #attackers: string[];
  readonly #offices: string[];
  readonly #scanners: string[];
  #sshStreams: string[][] = [];

  /** Lines for `hostname`, pids from the host's shared counter. */
  constructor(dice: Dice, time: LogTime, hostname: string, pools: SshPools, pids: Pids) {
    this.#dice = dice;
    this.#time = time;
    this.#hostname = hostname;
    this.#pids = pids;
    this.#attackers = pools.attackers;
    this.#offices = pools.offices;
    this.#scanners = pools.scanners;
  }

  /**
   * One sshd line for `/var/log/auth.log`. Connections span several lines (an
   * invalid user, then its failed password, then the disconnect); several are open
   * at once, so their lines interleave.
   */
  line(): string {
    if (
      this.#sshStreams.length === 0 || (this.#sshStreams.length < 4 && this.#dice.random() < 0.35)
    ) {
      this.#sshStreams.push(this.#sshConnection());
    }
    const index = Math.floor(this.#dice.random() * this.#sshStreams.length);
    const stream = this.#sshStreams[index];
    const line = stream.shift()!;
    if (stream.length === 0) this.#sshStreams.splice(index, 1);
    return this.#time.syslog(this.#hostname, [[0, "", line]], this.#time.now().getTime())[0];
  }

  #sshConnection(): string[] {
    const pid = this.#pids.next();
    const sshd = `sshd[${pid}]`;
    const port = this.#dice.int(1024, 65535);
    const kind = this.#dice.weighted([
      ["bruteRoot", 30],
      ["invalidUser", 25],
      ["publickey", 15],
      ["password", 8],
      ["typo", 5],
      ["probe", 17],
    ]);
    const out = (message: string) => `${sshd}: ${message}`;
    switch (kind) {
      case "bruteRoot": {
        const ip = this.#dice.pick(this.#attackers);
        const tries = this.#dice.int(1, 6);
        const lines = Array.from(
          { length: tries },
          () => out(`Failed password for root from ${ip} port ${port} ssh2`),
        );
        lines.push(
          tries === 6
            ? out(
              `error: maximum authentication attempts exceeded for root from ${ip} port ${port} ssh2 [preauth]`,
            )
            : out(`Connection closed by authenticating user root ${ip} port ${port} [preauth]`),
        );
        return lines;
      }
      case "invalidUser": {
        const ip = this.#dice.pick(this.#attackers);
        const user = this.#dice.pick(SSH_INVALID_USERS);
        const lines = [out(`Invalid user ${user} from ${ip} port ${port}`)];
        for (let i = this.#dice.int(1, 3); i > 0; i--) {
          lines.push(out(`Failed password for invalid user ${user} from ${ip} port ${port} ssh2`));
        }
        lines.push(out(`Connection closed by invalid user ${user} ${ip} port ${port} [preauth]`));
        return lines;
      }
      case "publickey":
      case "password":
      case "typo": {
        const user = this.#dice.pick(SSH_USERS);
        const ip = this.#dice.random() < 0.8 ? this.#dice.pick(this.#offices) : this.#dice.ipv4();
        const uid = 1000 + SSH_USERS.indexOf(user);
        const lines: string[] = [];
        if (kind === "typo") {
          lines.push(out(`Failed password for ${user} from ${ip} port ${port} ssh2`));
        }
        lines.push(
          kind === "publickey"
            ? out(
              `Accepted publickey for ${user} from ${ip} port ${port} ssh2: ${
                this.#dice.pick(["ED25519", "ED25519", "RSA", "ECDSA"])
              } SHA256:${this.#dice.base64(43)}`,
            )
            : out(`Accepted password for ${user} from ${ip} port ${port} ssh2`),
        );
        lines.push(
          out(`pam_unix(sshd:session): session opened for user ${user}(uid=${uid}) by (uid=0)`),
        );
        lines.push(out(`Received disconnect from ${ip} port ${port}:11: disconnected by user`));
        lines.push(out(`Disconnected from user ${user} ${ip} port ${port}`));
        lines.push(out(`pam_unix(sshd:session): session closed for user ${user}`));
        return lines;
      }
      default: {
        const ip = this.#dice.pick(this.#scanners);
        return [this.#dice.weighted([
          [out(`Connection closed by ${ip} port ${port} [preauth]`), 50],
          [out(`Connection reset by ${ip} port ${port} [preauth]`), 20],
          [out(`banner exchange: Connection from ${ip} port ${port}: invalid format`), 15],
          [out(`Did not receive identification string from ${ip} port ${port}`), 15],
        ])];
      }
    }
  }
}
