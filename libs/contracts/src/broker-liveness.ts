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
  /** `ready` while usable. */
  readonly status: string;
  ping(): Promise<unknown>;
  /** With `true`, the client connects again on its own. */
  disconnect(reconnect?: boolean): void;
}

/**
 * Pings each ready connection `connections()` gives every {@link BROKER_HEARTBEAT_MS}; one that
 * leaves {@link BROKER_MISSED_HEARTBEATS} pings in a row unanswered is dropped and connects again,
 * which fails what was waiting on it at once (an unknown outcome, retried) rather than by timeout,
 * call after call, for as long as the silence lasts. Returns the stop.
 */
export function watchConnections(
  connections: () => Iterable<PingableConnection | null | undefined>,
  heartbeatMs = BROKER_HEARTBEAT_MS,
): () => void {
  /** Connections with a ping out, and how many beats it has been out. */
  const out = new Map<PingableConnection, number>();
  const timer = setInterval(() => {
    for (const connection of connections()) {
      if (!connection || connection.status !== 'ready') continue;
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
  };
}
