/**
 * Endpoint strings in the CZMQ convention: `@tcp://*:5555` binds,
 * `>tcp://host:5555` connects, a bare address connects. A comma separates several.
 *
 * @module
 */
import { UsageError } from "./flags.ts";

/** One parsed endpoint. */
export interface Endpoint {
  /** Whether the socket binds (`@`) rather than connects (`>` or bare). */
  bind: boolean;
  /** The libzmq address, like `tcp://127.0.0.1:5555`. */
  address: string;
}

/**
 * Parses one or more comma-separated endpoints, blanks around each trimmed;
 * throws {@linkcode UsageError} with one clear line when one is malformed or
 * empty (`,,`, a trailing comma).
 *
 * @example
 * ```ts
 * import { parseEndpoints } from "@eventstorm/core/cli";
 * parseEndpoints("@tcp://*:5555"); // [{ bind: true, address: "tcp://*:5555" }]
 * parseEndpoints("tcp://10.0.0.1:5555"); // [{ bind: false, address: "tcp://10.0.0.1:5555" }]
 * ```
 */
export function parseEndpoints(text: string): Endpoint[] {
  const parts = text.split(",").map((part) => part.trim());
  if (parts.every((part) => part === "")) throw new UsageError(`invalid endpoint '${text}': empty`);
  // Refused, not skipped, as libeventstorm and the nginx module refuse it: a list
  // with a hole in it is more likely a name left out than a stray comma.
  const empty = parts.indexOf("");
  if (empty >= 0) throw new UsageError(`invalid endpoint '${text}': empty (entry ${empty + 1})`);
  return parts.map(parseOne);
}

function parseOne(text: string): Endpoint {
  let bind = false;
  let address = text;
  if (text.startsWith("@")) {
    bind = true;
    address = text.slice(1);
  } else if (text.startsWith(">")) {
    address = text.slice(1);
  }
  const problem = addressProblem(address, bind);
  if (problem) throw new UsageError(`invalid endpoint '${text}': ${problem}`);
  return { bind, address };
}

function addressProblem(address: string, bind: boolean): string | undefined {
  const match = address.match(/^([a-z]+):\/\/(.+)$/);
  if (!match) return "expected @tcp://*:5555, >tcp://host:5555, ipc://PATH or inproc://NAME";
  const [, transport, rest] = match;
  if (transport === "ipc" || transport === "inproc") return undefined;
  if (transport !== "tcp") return `unsupported transport '${transport}' (tcp, ipc, inproc)`;
  const hostPort = rest.match(/^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d+|\*)$/);
  if (!hostPort) return "tcp needs HOST:PORT";
  const [, host, port] = hostPort;
  if (port === "*") {
    if (!bind) return "a connect needs a port number, not *";
    return undefined;
  }
  const number = Number(port);
  if (number < 1 || number > 65535) return `port ${port} is out of range 1-65535`;
  if (host === "*" && !bind) return "a connect needs a host, not *";
  return undefined;
}

/**
 * Formats an endpoint back into its string form.
 *
 * @example
 * ```ts
 * import { formatEndpoint } from "@eventstorm/core/cli";
 * formatEndpoint({ bind: true, address: "tcp://*:5555" }); // "@tcp://*:5555"
 * ```
 */
export function formatEndpoint(endpoint: Endpoint): string {
  return `${endpoint.bind ? "@" : ">"}${endpoint.address}`;
}

/**
 * A list flag of endpoints (`--to`, `--from`, `--sources`, …), each checked, so
 * that a typo is a usage error before a command opens a file or waits for a
 * server rather than after. `inproc://` is refused too: it reaches only sockets
 * of the same process, and a command's flags always name another process (a
 * source its router, a tap the router), so it would wait for ever.
 *
 * @example
 * ```ts
 * import { endpointsFlag } from "@eventstorm/core/cli";
 * endpointsFlag({ to: [">tcp://127.0.0.1:5555"] }, "to"); // [">tcp://127.0.0.1:5555"]
 * ```
 */
export function endpointsFlag<K extends string>(
  values: { readonly [P in NoInfer<K>]: readonly string[] },
  name: K,
): string[] {
  const endpoints = [...values[name]];
  for (const endpoint of endpoints) {
    const parsed = parseEndpoints(endpoint);
    if (parsed.some(({ address }) => address.startsWith("inproc://"))) {
      throw new UsageError(
        `--${name} ${endpoint}: inproc:// reaches only this process; use tcp:// or ipc://`,
      );
    }
  }
  return endpoints;
}

/**
 * The host names of connecting tcp endpoints that do not resolve now, each with
 * the resolver's reason. Binds, IP addresses, ipc and inproc are not looked up.
 * libzmq accepts such an endpoint and retries forever in silence, so a command
 * should say it (see {@linkcode warnUnresolvableHosts}).
 *
 * @example
 * ```ts
 * import { unresolvableHosts } from "@eventstorm/core/cli";
 * await unresolvableHosts([">tcp://no-such-host.invalid:5555"]);
 * // [{ host: "no-such-host.invalid", reason: "ENOTFOUND" }]
 * ```
 */
export async function unresolvableHosts(
  endpoints: readonly string[],
): Promise<{ host: string; reason: string }[]> {
  const hosts = new Set<string>();
  for (const endpoint of endpoints.flatMap((text) => parseEndpoints(text))) {
    const host = endpoint.address.match(/^tcp:\/\/(.+):\d+$/)?.[1];
    if (endpoint.bind || host === undefined || host.startsWith("[") || isIpAddress(host)) continue;
    hosts.add(host);
  }
  if (hosts.size === 0) return [];
  // Loaded when a name is to be looked up: Node's resolver is a share of every command's start.
  const { lookup } = await import("node:dns/promises");
  const results = await Promise.all([...hosts].map(async (host) => {
    try {
      await lookup(host);
      return undefined;
    } catch (error) {
      return { host, reason: (error as { code?: string }).code ?? String(error) };
    }
  }));
  return results.filter((result) => result !== undefined);
}

/** Whether `host` is an IP address rather than a name: a dotted quad, or IPv6 (colons). */
function isIpAddress(host: string): boolean {
  if (host.includes(":")) return true;
  const parts = host.split(".");
  return parts.length === 4 &&
    parts.every((part) => /^(0|[1-9][0-9]{0,2})$/.test(part) && Number(part) <= 255);
}

/**
 * Looks up the hosts of `endpoints` in the background and prints one warning
 * line per host that does not resolve. The command goes on: the name may
 * resolve later (DNS not up yet at boot), and libzmq keeps trying.
 *
 * @example
 * ```ts
 * import { warnUnresolvableHosts } from "@eventstorm/core/cli";
 * warnUnresolvableHosts("source nginx", [">tcp://router.example:5555"]);
 * ```
 */
export function warnUnresolvableHosts(label: string, endpoints: readonly string[]): void {
  void unresolvableHosts(endpoints).then((problems) => {
    for (const { host, reason } of problems) {
      console.error(
        `${label}: warning: cannot resolve host '${host}' (${reason}); connecting keeps being retried`,
      );
    }
  }, () => {});
}
