/**
 * How a broker connection that went silent is noticed, on both sides (the coordinator's clients and
 * the participant SDK's servers). A connection whose peer vanished without a reset (a NAT or
 * firewall that dropped the flow, a partition) raises no error: TCP alone notices after many
 * minutes, and until then every call over it times out. So each side pings: NATS with its own
 * pings (`pingInterval`, `maxPingOut`), Redis with {@link watchConnections}; RabbitMQ's heartbeats
 * run at the same period.
 */
export const BROKER_HEARTBEAT_MS = 5_000;
/** Pings in a row left unanswered before the connection is dropped and made again. */
export const BROKER_MISSED_HEARTBEATS = 2;

/** What {@link watchConnections} needs of a connection (an ioredis client). */
export interface PingableConnection {
  /** `ready` while usable; `connect` once connected, while its ready check waits for an answer. */
  readonly status: string;
  ping(): Promise<unknown>;
  /** With `true`, the client connects again on its own. */
  disconnect(reconnect?: boolean): void;
}

/**
 * Pings each ready connection `connections()` gives every {@link BROKER_HEARTBEAT_MS}; one that
 * leaves {@link BROKER_MISSED_HEARTBEATS} pings in a row unanswered is dropped and connects again,
 * which fails what was waiting on it at once (an unknown outcome, retried) rather than by timeout,
 * call after call, for as long as the silence lasts. A connection made again into the silence
 * completes its handshake and then waits for the answer to its ready check, with no bound of its
 * own (the connect timeout covers the handshake only), failing every call at once meanwhile: one
 * still waiting after as many beats is dropped and made again too. Returns the stop.
 */
export function watchConnections(
  connections: () => Iterable<PingableConnection | null | undefined>,
  heartbeatMs = BROKER_HEARTBEAT_MS,
): () => void {
  /** Connections with a ping out, and how many beats it has been out. */
  const out = new Map<PingableConnection, number>();
  /** Connections seen waiting for their ready check, and at how many beats in a row. */
  const unready = new Map<PingableConnection, number>();
  const timer = setInterval(() => {
    for (const connection of connections()) {
      if (!connection) continue;
      if (connection.status === 'connect') {
        const beats = (unready.get(connection) ?? 0) + 1;
        if (beats <= BROKER_MISSED_HEARTBEATS) {
          unready.set(connection, beats);
          continue;
        }
        unready.delete(connection);
        connection.disconnect(true);
        continue;
      }
      unready.delete(connection);
      if (connection.status !== 'ready') continue;
      const missed = out.get(connection);
      if (missed !== undefined) {
        if (missed + 1 < BROKER_MISSED_HEARTBEATS) {
          out.set(connection, missed + 1);
          continue;
        }
        out.delete(connection);
        connection.disconnect(true);
        continue;
      }
      out.set(connection, 0);
      const answered = () => void out.delete(connection);
      connection.ping().then(answered, answered);
    }
  }, heartbeatMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    out.clear();
    unready.clear();
  };
}
