import { ClientNats } from '@nestjs/microservices';
import { BrokerParticipantCaller, type BrokerClient } from './participant-caller.broker';

/**
 * {@link BrokerParticipantCaller} over NATS request/reply (Nest's ClientNats): the subject is
 * `txn.<participant>.<phase>`; a subject nobody serves is answered at once with "no responders"
 * (unknown, retried). Reconnects forever; servers the cluster gossips about are not used, so only
 * the registered (and guarded) address is connected to.
 */
export class NatsParticipantCaller extends BrokerParticipantCaller {
  protected createClient(url: URL): BrokerClient {
    return new ClientNats({
      servers: [url.href],
      ignoreClusterUpdates: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
    });
  }
}
