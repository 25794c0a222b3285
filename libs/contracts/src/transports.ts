/**
 * How the coordinator reaches a participant: HTTP, or request/reply over a broker (docs/transports.md).
 * RabbitMQ answers to two names, `rabbitmq` and `rmq` (Nest's own), and is registered under the one given.
 */
export const Transport = { Http: 'http', Nats: 'nats', Redis: 'redis', RabbitMq: 'rabbitmq', Rmq: 'rmq' } as const;
export type Transport = (typeof Transport)[keyof typeof Transport];

/** Whether `transport` is RabbitMQ, by either of its names. */
export const isRabbitMq = (transport: string | null | undefined): boolean =>
  transport === Transport.RabbitMq || transport === Transport.Rmq;

/** The URL schemes each transport accepts (the broker's own: `nats://`, `redis://`, `amqp://`, and their TLS forms). */
export const TRANSPORT_SCHEMES: Readonly<Record<Transport, readonly string[]>> = {
  [Transport.Http]: ['http', 'https'],
  [Transport.Nats]: ['nats', 'tls'],
  [Transport.Redis]: ['redis', 'rediss'],
  [Transport.RabbitMq]: ['amqp', 'amqps'],
  [Transport.Rmq]: ['amqp', 'amqps'],
};

/** Schemes as a message names them, with their article: "an amqp:// or amqps://", "a nats:// or tls://". */
export function schemesAsUrls(schemes: readonly string[]): string {
  const article = /^[aeiouh]/.test(schemes[0] ?? '') ? 'an' : 'a';
  return `${article} ${schemes.map((s) => `${s}://`).join(' or ')}`;
}
