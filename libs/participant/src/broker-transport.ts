import { TRANSPORT_SCHEMES, schemesAsUrls } from '#contracts';
import type { BrokerKind } from './broker-delivery';

const BROKER_KINDS: readonly BrokerKind[] = ['nats', 'redis', 'rmq', 'rabbitmq'];

/**
 * Checks a participant's broker transport option before anything connects: a known `kind`, and a
 * `url` of that broker's scheme (the coordinator's own rule for the registration). A URL of another
 * broker went to the broker's client, which timed out (NATS), failed with a parser error (Redis) or
 * retried for good (RabbitMQ), before the registration could say why. The message names the option
 * and shows the URL without its credentials.
 */
export function checkBrokerTransport(transport: { kind: string; url: string }): void {
  const kind = transport.kind as BrokerKind;
  if (!BROKER_KINDS.includes(kind)) {
    throw new TypeError(`transport.kind "${String(transport.kind)}" is not one of ${BROKER_KINDS.join(', ')}`);
  }
  let url: URL;
  try {
    url = new URL(transport.url);
  } catch {
    throw new TypeError(
      `transport.url is not a URL (kind ${kind}): give the broker's, e.g. ${TRANSPORT_SCHEMES[kind][0]}://host:port`,
    );
  }
  const schemes = TRANSPORT_SCHEMES[kind];
  if (!schemes.includes(url.protocol.slice(0, -1))) {
    throw new TypeError(
      `transport.url must be ${schemesAsUrls(schemes)} URL for kind ${kind} (got ${url.protocol}//${url.host})`,
    );
  }
}
