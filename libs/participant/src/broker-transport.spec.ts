import { checkBrokerTransport } from './broker-transport';

describe('checkBrokerTransport', () => {
  it.each([
    [
      { kind: 'nats', url: 'redis://127.0.0.1:6379' },
      /transport\.url must be a nats:\/\/ or tls:\/\/ URL for kind nats/,
    ],
    [{ kind: 'redis', url: 'nats://127.0.0.1:4222' }, /transport\.url must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ kind: 'rmq', url: 'http://127.0.0.1:5672' }, /transport\.url must be an amqp:\/\/ or amqps:\/\/ URL/],
    [{ kind: 'nats', url: '127.0.0.1:4222' }, /transport\.url is not a URL/],
    [
      { kind: 'kafka', url: 'kafka://127.0.0.1:9092' },
      /transport\.kind "kafka" is not one of nats, redis, rmq, rabbitmq/,
    ],
  ])('refuses %j', (transport, message) => {
    expect(() => checkBrokerTransport(transport)).toThrow(message);
  });

  it.each([
    { kind: 'nats', url: 'nats://127.0.0.1:4222' },
    { kind: 'redis', url: 'rediss://127.0.0.1:6379/2' },
    { kind: 'rabbitmq', url: 'amqp://guest:guest@127.0.0.1:5672' },
  ])('takes %j', (transport) => {
    expect(() => checkBrokerTransport(transport)).not.toThrow();
  });

  it('does not print the URL’s password', () => {
    expect(() => checkBrokerTransport({ kind: 'rmq', url: 'http://guest:s3cret@127.0.0.1:5672' })).toThrow(
      /^(?![\s\S]*s3cret)/,
    );
  });
});
