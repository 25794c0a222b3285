import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { RABBITMQ_EXCHANGE } from '#contracts';
import { startTestStack, until, type TestStack } from '#testing';

const AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://127.0.0.1:5672';

/**
 * A request over RabbitMQ lives no longer than its call. A participant written as a plain Nest
 * microservice declares a durable queue (Nest's default): while its process is stopped, the requests
 * routed there wait in the queue. Delivered when the process comes back, they would reach it after
 * the coordinator gave them up, and out of order (a try after its cancel). They expire instead.
 */
describe('a request over RabbitMQ to a stopped participant with a durable queue', () => {
  const name = `rmq-durable-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const queue = `txn.${name}`;
  let s: TestStack;
  let amqp: ChannelModel;
  let channel: Channel;

  beforeAll(async () => {
    s = await startTestStack('rmq_request_expiry', { env: { CALL_TIMEOUT_MS: '500' } });
    amqp = await connect(AMQP_URL);
    channel = await amqp.createChannel();
    // what Nest's ServerRMQ declares by default, left without a consumer (the process is stopped)
    await channel.assertExchange(RABBITMQ_EXCHANGE, 'topic');
    await channel.assertQueue(queue, { durable: true });
    await channel.bindQueue(queue, RABBITMQ_EXCHANGE, `txn.${name}.*`);
    const registered = await s.api.post('/v1/participants', { name, transport: 'rabbitmq', url: AMQP_URL });
    expect(registered.status).toBe(201);
  });

  afterAll(async () => {
    await channel?.deleteQueue(queue).catch(() => undefined);
    await amqp?.close();
    await s?.close();
  });

  it('is dropped once its call timed out, not delivered when a consumer comes back', async () => {
    const started = await s.api.post('/v1/transactions?wait=15000', {
      protocol: 'saga',
      timeoutMs: 10_000,
      retry: { maxAttempts: 2, initialBackoffMs: 100, maxBackoffMs: 100 },
      branches: [{ id: 'a', participant: name, paths: { action: '/a', compensate: null } }],
    });
    expect(started.body.status).toBe('aborted');
    const attempts = started.body.events.filter((e: { type: string }) => e.type === 'call.started');
    expect(attempts).toHaveLength(2);

    // the participant comes back: past the calls' timeouts, nothing of theirs is delivered
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const delivered: ConsumeMessage[] = [];
    await channel.consume(queue, (m) => m && delivered.push(m), { noAck: true });
    // a request published now still arrives: the queue is bound and consumed
    channel.publish(RABBITMQ_EXCHANGE, `txn.${name}.action`, Buffer.from('{"probe":true}'));
    await until(() => delivered.length > 0, 5_000, 'the probe');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(delivered.map((m) => m.content.toString())).toEqual(['{"probe":true}']);
  });
});
