import type { MessageHandler, Server } from '@nestjs/microservices';
import { ServerNats, ServerRMQ, ServerRedis } from '@nestjs/microservices';
import {
  BROKER_HEARTBEAT_MS,
  BROKER_MISSED_HEARTBEATS,
  RABBITMQ_EXCHANGE,
  brokerPattern,
  watchConnections,
} from '#contracts';
import { answerBrokerMessage } from '../broker-delivery';
import { checkBrokerTransport } from '../broker-transport';
import type { PhaseDispatcher } from '../phase-dispatcher';
import type { PhaseKey } from '../phase-route';
import type { ParticipantTransportOptions } from './participant-options';

/** What the runtime uses of a Nest server strategy (ServerNats, ServerRedis, ServerRMQ differ in their status types). */
export type PhaseServer = Pick<Server, 'addHandler' | 'listen' | 'close'>;

/**
 * A Nest microservice server answering `txn.<name>.<phase>` for every phase that has a handler, over
 * the broker in `transport`; not yet listening. Instances of one participant share the work: NATS
 * queue group and RabbitMQ queue `txn.<name>` (Redis pub/sub has no such thing: every instance
 * answers, and the coordinator keeps the first reply; the barrier makes the others duplicates).
 */
export function phaseServer(
  transport: ParticipantTransportOptions,
  name: string,
  routes: { key: PhaseKey }[],
  dispatcher: PhaseDispatcher,
): PhaseServer {
  const server = createServer(transport, name);
  const phases = new Set(routes.map((r) => r.key.phase));
  for (const phase of phases) {
    const handler = (async (message: unknown) => answerBrokerMessage(dispatcher, phase, message)) as MessageHandler;
    server.addHandler(brokerPattern(name, phase), handler, false);
  }
  return server;
}

function createServer(transport: ParticipantTransportOptions, name: string): PhaseServer {
  checkBrokerTransport(transport); // before the broker's client gets a URL it cannot use
  const url = new URL(transport.url);
  switch (transport.kind) {
    case 'nats':
      return new ServerNats({
        servers: [transport.url],
        queue: `txn.${name}`,
        maxReconnectAttempts: -1,
        // a connection gone silent is called stale and made again within seconds (the default is minutes)
        pingInterval: BROKER_HEARTBEAT_MS,
        maxPingOut: BROKER_MISSED_HEARTBEATS,
      });
    case 'redis':
      return new WatchedServerRedis({
        host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: Number(url.port || 6379),
        db: Number(url.pathname.slice(1) || 0),
        ...(url.protocol === 'rediss:' ? { tls: { servername: url.hostname } } : {}),
        retryAttempts: Number.MAX_SAFE_INTEGER,
        retryDelay: 1_000,
      });
    case 'rabbitmq':
    case 'rmq':
      return new RabbitMqPhaseServer({
        urls: [transport.url],
        queue: `txn.${name}`,
        exchange: RABBITMQ_EXCHANGE,
        exchangeType: 'topic',
        wildcards: true,
        // the queue goes with its last instance: requests sent while none runs are dropped (unknown, retried), not
        // delivered late to an instance that starts later
        queueOptions: { durable: false, autoDelete: true },
        socketOptions: { heartbeatIntervalInSeconds: BROKER_HEARTBEAT_MS / 1000 },
      });
  }
}

/**
 * Nest's Redis server, with its two connections pinged (`watchConnections`): one gone silent is made
 * again within seconds. ioredis itself would keep it, and no call would reach this participant.
 */
class WatchedServerRedis extends ServerRedis {
  private readonly stopWatching = watchConnections(() => [this.pubClient, this.subClient]);

  override async close(): Promise<void> {
    this.stopWatching();
    await super.close();
  }
}

/**
 * Nest's RabbitMQ server, except that a reply whose publish fails is logged instead of being left as
 * an unhandled rejection, which ends a Node process: a connection cut between a phase's end and its
 * reply's confirmation (the reply then goes out on the new connection, to a reply queue that went
 * with the old one, and the channel closes) took the whole participant down. A lost reply is a lost
 * answer: the coordinator asks again, and the barrier answers as the phase did.
 */
class RabbitMqPhaseServer extends ServerRMQ {
  override sendMessage<T = unknown>(message: T, replyTo: string, correlationId: string): void {
    const outgoing = this.serializer.serialize(message as Parameters<typeof this.serializer.serialize>[0]);
    const { options, ...packet } = outgoing as { options?: Record<string, unknown> };
    const content = Buffer.from(JSON.stringify(packet));
    this.channel
      ?.sendToQueue(replyTo, content, { correlationId, ...options })
      .catch((error: unknown) =>
        this.logger.warn(`reply ${correlationId} not sent (the coordinator will ask again): ${error}`),
      );
  }
}
