import { createHmac } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  startBrokerResponder,
  startTestStack,
  stopBrokerResponder,
  type BrokerResponder,
  type TestStack,
} from '#testing';

/**
 * The broker contract as a participant not built on the SDK sees it (libs/testing/broker-responder:
 * a plain Nest microservice, one handler per pattern): its data is the participant envelope itself,
 * and it answers `{outcome: "yes" | "no" | "retry", result?}`.
 */
const SECRET = 'broker-wire-secret-0123456789';

const BROKERS = [
  { kind: 'nats', url: process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222' },
  { kind: 'redis', url: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
  { kind: 'rmq', url: process.env.TEST_AMQP_URL ?? 'amqp://127.0.0.1:5672' },
] as const;

describe.each(BROKERS)('a plain Nest microservice over $kind', ({ kind, url }) => {
  const name = `wire-${kind}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let s: TestStack;
  let responder: BrokerResponder;

  beforeAll(async () => {
    s = await startTestStack(`wire_${kind}`, { env: { CALL_TIMEOUT_MS: '1500', SWEEP_INTERVAL_MS: '200' } });
    responder = await startBrokerResponder({ TRANSPORT: kind, BROKER_URL: url, PARTICIPANT_NAME: name });
    const r = await s.api.post('/v1/participants', { name, transport: kind, url, secret: SECRET });
    expect(r.status).toBe(201);
  });

  afterAll(async () => {
    await stopBrokerResponder(responder);
    await s?.close();
  });

  const seenOf = (id: string) => responder.seen().filter((m) => m.transactionId === id);

  it('gets the envelope itself as its data, signed, and its yes commits the saga with its result kept', async () => {
    const id = `wire-yes-${kind}-${Date.now()}`;
    const r = await s.api.post('/v1/transactions?wait=15000', {
      id,
      protocol: 'saga',
      branches: [{ id: 'a', participant: name, payload: { amount: 5 } }],
    });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('committed');
    expect(r.body.branches[0].result).toEqual({ done: 'action' });
    const [data] = seenOf(id);
    expect(data).toMatchObject({
      transactionId: id,
      branchId: 'a',
      protocol: 'saga',
      phase: 'action',
      attempt: 1,
      deadline: expect.any(String),
      payload: { amount: 5 },
      headers: {
        'idempotency-key': `${id}/a/action`,
        'txn-signature': expect.stringMatching(/^t=\d+,v1=[0-9a-f]{64}$/),
      },
    });
    // the signature covers the envelope's JSON text: the message without its headers
    const { headers, ...envelope } = data as { headers: Record<string, string> };
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]+)$/.exec(headers['txn-signature'])!;
    expect(
      createHmac('sha256', SECRET)
        .update(`${t}.${JSON.stringify(envelope)}`)
        .digest('hex'),
    ).toBe(v1);
  });

  it('takes a no from a forward phase as definite: the saga is compensated and aborted', async () => {
    const id = `wire-no-${kind}-${Date.now()}`;
    const r = await s.api.post('/v1/transactions?wait=15000', {
      id,
      protocol: 'saga',
      branches: [
        { id: 'a', participant: name },
        { id: 'b', participant: name, payload: { answers: { action: ['no'] } } },
      ],
    });
    expect(r.body.status).toBe('aborted');
    expect(seenOf(id).map((m) => `${m.branchId}:${m.phase}`)).toEqual(['a:action', 'b:action', 'a:compensate']);
  });

  it('asks again after a retry, and a TCC commits once its try answers yes', async () => {
    const id = `wire-retry-${kind}-${Date.now()}`;
    const r = await s.api.post('/v1/transactions?wait=15000', {
      id,
      protocol: 'tcc',
      retry: { maxAttempts: 5, initialBackoffMs: 50, maxBackoffMs: 100 },
      branches: [{ id: 't', participant: name, payload: { answers: { try: ['retry', 'retry'] } } }],
    });
    expect(r.body.status).toBe('committed');
    expect(seenOf(id).map((m) => `${m.phase}#${m.attempt}`)).toEqual(['try#1', 'try#2', 'try#3', 'confirm#1']);
  });

  it('retries a no from a completion phase (a protocol error), as over HTTP', async () => {
    const id = `wire-cno-${kind}-${Date.now()}`;
    const r = await s.api.post('/v1/transactions?wait=15000', {
      id,
      protocol: 'tcc',
      retry: { maxAttempts: 5, initialBackoffMs: 50, maxBackoffMs: 100 },
      branches: [{ id: 't', participant: name, payload: { answers: { confirm: ['no'] } } }],
    });
    expect(r.body.status).toBe('committed');
    expect(seenOf(id).map((m) => `${m.phase}#${m.attempt}`)).toEqual(['try#1', 'confirm#1', 'confirm#2']);
  });
});

describe('a NATS participant that replies with something that is not JSON', () => {
  const url = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
  const name = `wire-raw-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let s: TestStack;
  let nc: NatsConnection;

  beforeAll(async () => {
    s = await startTestStack('wire_raw', { env: { CALL_TIMEOUT_MS: '1500', SWEEP_INTERVAL_MS: '200' } });
    nc = await connect({ servers: url });
    nc.subscribe(`txn.${name}.*`, { callback: (_error, msg) => void msg.respond('not json at all') });
    await nc.flush();
    expect((await s.api.post('/v1/participants', { name, transport: 'nats', url })).status).toBe(201);
  });

  afterAll(async () => {
    await nc?.close();
    await s?.close();
  });

  it('is an unknown answer, retried: the coordinator lives on and the saga ends', async () => {
    const id = `wire-raw-${Date.now()}`;
    const r = await s.api.post('/v1/transactions?wait=15000', {
      id,
      protocol: 'saga',
      retry: { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 },
      branches: [{ id: 'a', participant: name, paths: { compensate: null } }],
    });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('aborted');
    expect(r.body.branches[0]).toMatchObject({ attempt: 2, lastError: expect.stringMatching(/not JSON/) });
    expect((await s.api.get('/health/live')).status).toBe(200);
  });
});
