import { ClientRMQ, RmqRecord } from '@nestjs/microservices';
import { BROKER_HEARTBEAT_MS, RABBITMQ_EXCHANGE, type BrokerCallMessage } from '#contracts';
import { BrokerParticipantCaller, type BrokerClient } from './participant-caller.broker';

/**
 * {@link BrokerParticipantCaller} over RabbitMQ (Nest's ClientRMQ with a topic exchange): the request
 * is published on exchange `txn` with routing key `txn.<participant>.<phase>` and the reply read on
 * the direct reply-to queue. A key no queue is bound to is dropped by the broker: the call waits for
 * its timeout (unknown, retried). A request expires with its call: one held in a queue nobody
 * consumes (a participant's durable queue, its process stopped) is dropped there, not delivered
 * when a consumer comes back, after the call was given up and maybe followed by the next phase.
 */
export class RabbitMqParticipantCaller extends BrokerParticipantCaller {
  protected createClient(url: URL): BrokerClient {
    return new ClientRMQ({
      urls: [url.href],
      exchange: RABBITMQ_EXCHANGE,
      exchangeType: 'topic',
      wildcards: true,
      // a request that outlives its call's timeout is of no use to anyone
      persistent: false,
      socketOptions: { heartbeatIntervalInSeconds: BROKER_HEARTBEAT_MS / 1000, reconnectTimeInSeconds: 1 },
    });
  }

  protected override outgoing(message: BrokerCallMessage, timeoutMs: number): unknown {
    return new RmqRecord(message, { expiration: String(Math.max(1, Math.ceil(timeoutMs))) });
  }
}
