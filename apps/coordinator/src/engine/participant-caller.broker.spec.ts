import { of } from 'rxjs';
import { Outcome, Phase, Protocol, Transport } from '#contracts';
import type { Resolver } from '../participants/url-safety';
import {
  BrokerParticipantCaller,
  type BrokerClient,
  type BrokerParticipantCallerOptions,
} from './participant-caller.broker';

/** A broker caller whose clients answer 200 at once and record the URL each was made for. */
class RecordingBrokerCaller extends BrokerParticipantCaller {
  readonly made: string[] = [];
  constructor(options: BrokerParticipantCallerOptions) {
    super(options);
  }
  protected createClient(url: URL): BrokerClient {
    this.made.push(url.href);
    return {
      send: () => of({ status: 200, body: { ok: true } }),
      close: async () => undefined,
    } as unknown as BrokerClient;
  }
}

const callTo = (url: string, transport: Transport = Transport.Nats) => ({
  url,
  transport,
  participant: 'p1',
  path: '/saga/action',
  secret: null,
  timeoutMs: 2_000,
  body: { transactionId: 't1', branchId: 'b1', protocol: Protocol.Saga, phase: Phase.Action, attempt: 1, payload: {} },
});

/**
 * The URL guard on broker transports (NATS, Redis, RabbitMQ): the broker's host is checked when its
 * client is made, at the first call, and a plain-text client connects to the very address checked.
 */
describe('BrokerParticipantCaller connect-time guard', () => {
  it('never makes a client for a broker name that rebinds to a forbidden address after registration', async () => {
    let answer = ['127.0.0.1']; // what the name said when the URL was registered
    const resolve: Resolver = async () => answer;
    const caller = new RecordingBrokerCaller({ resolve });
    answer = ['169.254.169.254'];
    const result = await caller.call(callTo('nats://broker.test:4222'));
    expect(result).toMatchObject({ outcome: Outcome.Unknown, httpStatus: null });
    expect(result.error).toBe('connection refused by the participant URL guard: address 169.254.169.254 is link-local');
    expect(caller.made).toEqual([]);
  });

  it('pins a plain-text client to the address the guard checked: a later rebinding is never followed', async () => {
    let answer = ['127.0.0.1'];
    const asked: string[] = [];
    const resolve: Resolver = async (host) => {
      asked.push(host);
      return answer;
    };
    const caller = new RecordingBrokerCaller({ resolve });
    expect((await caller.call(callTo('nats://broker.test:4222'))).outcome).toBe(Outcome.Yes);
    answer = ['169.254.169.254'];
    expect((await caller.call(callTo('nats://broker.test:4222'))).outcome).toBe(Outcome.Yes);
    expect(caller.made).toEqual(['nats://127.0.0.1:4222']);
    expect(asked).toEqual(['broker.test']);
  });

  it.each([
    ['redis://cache.test:6379', Transport.Redis, 'redis://[::1]:6379'],
    ['amqp://guest:guest@mq.test:5672/vhost', Transport.RabbitMq, 'amqp://guest:guest@[::1]:5672/vhost'],
  ])('pins %s the same way', async (url, transport, pinned) => {
    const caller = new RecordingBrokerCaller({ resolve: async () => ['::1'] });
    expect((await caller.call(callTo(url, transport))).outcome).toBe(Outcome.Yes);
    expect(caller.made).toEqual([pinned]);
  });

  it('checks a TLS broker name too, but leaves it unpinned for the certificate check', async () => {
    const refused = new RecordingBrokerCaller({ resolve: async () => ['fd00:ec2::254'] });
    const result = await refused.call(callTo('tls://broker.test:4222'));
    expect(result.error).toBe(
      'connection refused by the participant URL guard: address fd00:ec2::254 is a cloud metadata service',
    );
    expect(refused.made).toEqual([]);
    const allowed = new RecordingBrokerCaller({ resolve: async () => ['10.1.2.3'] });
    expect((await allowed.call(callTo('tls://broker.test:4222'))).outcome).toBe(Outcome.Yes);
    expect(allowed.made).toEqual(['tls://broker.test:4222']);
  });

  it('applies PARTICIPANT_URL_ALLOWLIST at connect time, IP literals included', async () => {
    const caller = new RecordingBrokerCaller({ allowList: '10.0.0.0/8' });
    const result = await caller.call(callTo('redis://127.0.0.1:6379', Transport.Redis));
    expect(result.error).toBe(
      'connection refused by the participant URL guard: host "127.0.0.1" is not in PARTICIPANT_URL_ALLOWLIST',
    );
    expect(caller.made).toEqual([]);
  });

  it('keeps no refused set-up: once the name resolves to an allowed address, the next call makes the client', async () => {
    let answer = ['169.254.169.254'];
    const caller = new RecordingBrokerCaller({ resolve: async () => answer });
    expect((await caller.call(callTo('nats://broker.test:4222'))).outcome).toBe(Outcome.Unknown);
    answer = ['192.168.1.5'];
    expect((await caller.call(callTo('nats://broker.test:4222'))).outcome).toBe(Outcome.Yes);
    expect(caller.made).toEqual(['nats://192.168.1.5:4222']);
  });
});
