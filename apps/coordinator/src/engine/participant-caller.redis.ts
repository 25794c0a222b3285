import { ClientRedis } from '@nestjs/microservices';
import { watchConnections } from '#contracts';
import { BrokerParticipantCaller, type BrokerClient } from './participant-caller.broker';

/**
 * Nest's Redis client, with its two connections pinged (`watchConnections`): one gone silent is
 * made again within seconds. ioredis itself would keep it, and every call over it would time out.
 */
class WatchedClientRedis extends ClientRedis {
  private readonly stopWatching = watchConnections(() => [this.pubClient, this.subClient]);

  override async close(): Promise<void> {
    this.stopWatching();
    await super.close();
  }
}

/**
 * {@link BrokerParticipantCaller} over Redis pub/sub (Nest's ClientRedis): the request is published
 * on channel `txn.<participant>.<phase>` and the reply read on `txn.<participant>.<phase>.reply`.
 * Pub/sub has no "no responders": a call nobody serves waits for its timeout (unknown, retried).
 */
export class RedisParticipantCaller extends BrokerParticipantCaller {
  protected createClient(url: URL): BrokerClient {
    const db = Number(url.pathname.slice(1) || 0);
    return new WatchedClientRedis({
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port || 6379),
      db: Number.isInteger(db) ? db : 0,
      ...(url.protocol === 'rediss:' ? { tls: { servername: url.hostname } } : {}),
      retryAttempts: Number.MAX_SAFE_INTEGER,
      retryDelay: 1_000,
    });
  }
}
