import { ClientRMQ } from '@nestjs/microservices';
import { RABBITMQ_EXCHANGE } from '#contracts';
import { BrokerParticipantCaller, type BrokerClient } from './participant-caller.broker';

/**
 * {@link BrokerParticipantCaller} over RabbitMQ (Nest's ClientRMQ with a topic exchange): the request
 * is published on exchange `txn` with routing key `txn.<participant>.<phase>` and the reply read on
 * the direct reply-to queue. A key no queue is bound to is dropped by the broker: the call waits for
 * its timeout (unknown, retried).
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
      socketOptions: { heartbeatIntervalInSeconds: 5, reconnectTimeInSeconds: 1 },
    });
  }
}
