/**
 * A test's own Cassandra client, beside the sink under test: connected on first use,
 * reading every page of a query.
 *
 * @module
 */
import cassandra from "cassandra-driver";

/** A lazily connected client and a reader of whole query results. */
export interface CqlReader {
  /** The client, connected. */
  client(): Promise<cassandra.Client>;
  /** Every row of a query, across pages. */
  rows(query: string, params?: unknown[]): Promise<cassandra.types.Row[]>;
  /** Shuts the client down, if it was ever connected. */
  close(): Promise<void>;
}

/**
 * A reader on `contactPoints`, at the driver's default consistency or `consistency`.
 *
 * @example
 * ```ts ignore
 * const reader = cqlReader(["127.0.0.1:9042"]);
 * const rows = await reader.rows("SELECT id FROM ks.events");
 * await reader.close();
 * ```
 */
export function cqlReader(contactPoints: string[], consistency?: number): CqlReader {
  let client: cassandra.Client | undefined;
  const connect = async () => {
    if (!client) {
      client = new cassandra.Client({
        contactPoints,
        localDataCenter: "datacenter1",
        socketOptions: { readTimeout: 60_000 },
        ...(consistency === undefined ? {} : { queryOptions: { consistency } }),
        policies: {
          reconnection: new cassandra.policies.reconnection.ConstantReconnectionPolicy(500),
        },
      });
      await client.connect();
    }
    return client;
  };
  return {
    client: connect,
    rows: async (query, params = []) => {
      const db = await connect();
      const all: cassandra.types.Row[] = [];
      let pageState: string | undefined;
      do {
        const result = await db.execute(query, params, {
          prepare: true,
          fetchSize: 5000,
          pageState,
        });
        all.push(...result.rows);
        pageState = result.pageState ?? undefined;
      } while (pageState);
      return all;
    },
    close: async () => {
      await client?.shutdown();
    },
  };
}
