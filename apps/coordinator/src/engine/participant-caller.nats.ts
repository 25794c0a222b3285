import { ClientNats, NatsResponseJSONDeserializer, type IncomingResponse } from '@nestjs/microservices';
import { BROKER_HEARTBEAT_MS, BROKER_MISSED_HEARTBEATS } from '#contracts';
import { BrokerParticipantCaller, type BrokerClient } from './participant-caller.broker';

/**
 * Nest's reply deserializer parses the reply inside the subscription's callback, where a throw
 * escapes every caller and ends the process: a participant (or anyone who can publish on its
 * subject) replying with text that is not JSON would crash the coordinator at every take-over.
 * Such a reply is an error of its call instead: an unknown answer, retried like any other.
 */
class TolerantReplyDeserializer extends NatsResponseJSONDeserializer {
  override deserialize(
    value: Parameters<NatsResponseJSONDeserializer['deserialize']>[0],
    options?: Record<string, unknown>,
  ): IncomingResponse | Promise<IncomingResponse> {
    try {
      return super.deserialize(value, options);
    } catch (error) {
      // no id: ClientNats hands a reply without one to the call that subscribed for it
      return { id: '', err: `the reply is not JSON (${(error as Error).message})`, isDisposed: true };
    }
  }
}

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
      // a connection gone silent is called stale and made again within seconds (the default is minutes)
      pingInterval: BROKER_HEARTBEAT_MS,
      maxPingOut: BROKER_MISSED_HEARTBEATS,
      deserializer: new TolerantReplyDeserializer(),
    });
  }
}
