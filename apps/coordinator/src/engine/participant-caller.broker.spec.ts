import { createHmac } from 'node:crypto';
import { of } from 'rxjs';
import { Outcome, Phase, Protocol, Transport } from '#contracts';
import type { Resolver } from '../participants/url-safety';
import {
  BrokerParticipantCaller,
  describeError,
  type BrokerClient,
  type BrokerParticipantCallerOptions,
} from './participant-caller.broker';

/** A broker caller whose clients answer `reply` at once and record the URL each was made for and what was sent. */
class RecordingBrokerCaller extends BrokerParticipantCaller {
  readonly made: string[] = [];
  readonly sent: { pattern: string; message: unknown }[] = [];
  constructor(
    options: BrokerParticipantCallerOptions,
    private readonly reply: unknown = { outcome: 'yes', result: { ok: true } },
  ) {
    super(options);
  }
  protected createClient(url: URL): BrokerClient {
    this.made.push(url.href);
    return {
      send: (pattern: string, message: unknown) => {
        this.sent.push({ pattern, message });
        return of(this.reply);
      },
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

describe('BrokerParticipantCaller wire format', () => {
  const local: Resolver = async () => ['127.0.0.1'];

  it('sends the envelope itself with the HTTP headers beside it, signed over the envelope text', async () => {
    const caller = new RecordingBrokerCaller({ resolve: local });
    const call = { ...callTo('nats://broker.test:4222'), secret: 'a-secret-of-sixteen+' };
    await caller.call(call);
    const [{ pattern, message }] = caller.sent;
    expect(pattern).toBe('txn.p1.action');
    const { headers, ...envelope } = message as { headers: Record<string, string> };
    expect(envelope).toEqual(call.body);
    expect(headers).toMatchObject({ 'idempotency-key': 't1/b1/action', 'txn-path': '/saga/action' });
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(headers['txn-signature'])!;
    expect(
      createHmac('sha256', call.secret)
        .update(`${t}.${JSON.stringify(envelope)}`)
        .digest('hex'),
    ).toBe(v1);
  });

  it.each([
    [{ outcome: 'yes', result: { id: 7 } }, Phase.Action, Outcome.Yes, null, { id: 7 }],
    [{ outcome: 'yes' }, Phase.Compensate, Outcome.Yes, null, null],
    [{ outcome: 'no', result: { why: 'stock' } }, Phase.Action, Outcome.No, 'answered no', { why: 'stock' }],
    // a no from a completion phase is a protocol error: retried
    [{ outcome: 'no' }, Phase.Compensate, Outcome.Unknown, 'answered no', null],
    [{ outcome: 'retry' }, Phase.Action, Outcome.Unknown, 'answered retry', null],
    [{ outcome: 'no', result: {}, status: 409 }, Phase.Action, Outcome.No, 'HTTP 409', {}],
    // the SDK's reply before `outcome`: the HTTP status and body
    [{ status: 200, body: { ok: 1 } }, Phase.Action, Outcome.Yes, null, { ok: 1 }],
    [{ status: 422, body: {} }, Phase.Action, Outcome.No, 'HTTP 422', {}],
    [{ status: 503 }, Phase.Action, Outcome.Unknown, 'HTTP 503', null],
  ])('reads the reply %j to %s as %s', async (reply, phase, outcome, error, result) => {
    const caller = new RecordingBrokerCaller({ resolve: local }, reply);
    const call = callTo('nats://broker.test:4222');
    const r = await caller.call({ ...call, body: { ...call.body, phase } });
    expect(r).toMatchObject({ outcome, error, result });
  });

  it.each([[{ outcome: 'maybe' }], [{ ok: true }], ['yes'], [null], [{ status: 700 }]])(
    'takes the reply %j as unknown, naming the format',
    async (reply) => {
      const caller = new RecordingBrokerCaller({ resolve: local }, reply);
      const r = await caller.call(callTo('nats://broker.test:4222'));
      expect(r.outcome).toBe(Outcome.Unknown);
      expect(r.error).toMatch(/^reply is not \{outcome, result\?\}: /);
    },
  );
});

describe('a broker client error, in words', () => {
  it('reads the error inside what a client rejects with, not "[object Object]"', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7243'), { code: 'ECONNREFUSED' });
    // Nest's RabbitMQ client rejects with a plain object holding the error and the URL
    expect(describeError({ err: refused, url: 'amqp://127.0.0.1:7243' })).toBe('connect ECONNREFUSED 127.0.0.1:7243');
    expect(describeError({ reason: 'gone' })).toBe('{"reason":"gone"}');
    expect(describeError({ message: 'plain' })).toBe('plain');
  });
});
