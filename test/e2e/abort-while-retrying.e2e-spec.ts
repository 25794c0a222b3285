import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TcpProxy,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  startTestStack,
  type ApiClient,
  type FreshDatabase,
  type TestStack,
  until,
} from '#testing';

const FORWARD: Record<string, 'prepare' | 'try' | 'action'> = { '2pc': 'prepare', tcc: 'try', saga: 'action' };
const protocolLabel = (protocol: string) => protocol.replace(/\W/g, '');

/** An operator's abort reaches a transaction whose forward phase is waiting out a retry backoff. */
describe.each(['2pc', 'tcc', 'saga'])('%s: abort while a branch retries', (protocol) => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack(`abortretry${protocolLabel(protocol)}`);
  });
  afterAll(() => s.close());

  it.each([
    ['short backoff', { maxAttempts: 50, initialBackoffMs: 200, maxBackoffMs: 400 }],
    ['long backoff', { maxAttempts: 50, initialBackoffMs: 5000, maxBackoffMs: 5000 }],
  ])('%s', async (_label, retry) => {
    const id = `${protocol}-abort-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'b', phase: FORWARD[protocol], status: 503, times: 1000 });
    const branches = ['a', 'b'].map((b) => ({ id: b, participant: 'p1', payload: {} }));
    const started = await s.api.post('/v1/transactions', { id, protocol, branches, retry, timeoutMs: 120000 });
    expect(started.status).toBeLessThan(300);
    // wait until b has failed at least twice
    for (let i = 0; i < 100; i++) {
      const calls = s.participant.callsFor(id).filter((c) => c.body.branchId === 'b');
      if (calls.length >= 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const abort = await s.api.post(`/v1/transactions/${id}/abort`, { reason: 'test' });
    expect(abort.status).toBeLessThan(300);
    let status = '';
    for (let i = 0; i < 75 && status !== 'aborted'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await s.api.get(`/v1/transactions/${id}`)).body.status;
    }
    expect(status).toBe('aborted');
  });
});

/**
 * The abort arrives while the step that records a failed forward call is being written, queued
 * behind it on the transaction's driver; that step lets the transaction go (nothing else in flight,
 * the retry is seconds away). The coordinator reaches Postgres through a proxy held still while the
 * abort is queued, so the order is certain. An abort dropped with the driver would leave the
 * transaction running (and retrying) until its deadline.
 */
describe.each(['2pc', 'tcc', 'saga'])('%s: abort queued behind a step that lets the transaction go', (protocol) => {
  let db: FreshDatabase;
  let proxy: TcpProxy;
  let participant: TestParticipant;
  let coordinator: CoordinatorProcess;
  let api: ApiClient;

  beforeAll(async () => {
    const label = `abortqueued${protocolLabel(protocol)}`;
    db = await freshDatabase(label);
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    participant = await TestParticipant.start();
    coordinator = new CoordinatorProcess({
      databaseUrl: proxy.through(db.url),
      redisUrl: TEST_REDIS_URL,
      redisPrefix: freshRedisPrefix(label),
      // the instance must not fence itself while its Postgres is held still for a second
      env: { LOG_LEVEL: 'warn', INSTANCE_TTL_MS: '15000', SWEEP_INTERVAL_MS: '1000', CALL_TIMEOUT_MS: '5000' },
    });
    api = apiClient(await coordinator.start());
    expect((await api.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);
  });
  afterAll(async () => {
    await coordinator?.stop();
    await proxy?.close();
    await participant?.close();
    await db?.drop();
  });

  it('is applied, not dropped with the driver', async () => {
    const id = `${protocol}-queued-${Date.now()}`;
    // b's forward call answers "busy" slowly, so the log can be held still while it is in flight
    participant.fault({
      transactionId: id,
      branchId: 'b',
      phase: FORWARD[protocol],
      status: 503,
      times: 1000,
      delayMs: 1_500,
    });
    const branches = ['a', 'b'].map((b) => ({ id: b, participant: 'p1', payload: {} }));
    const retry = { maxAttempts: 50, initialBackoffMs: 5_000, maxBackoffMs: 5_000 };
    const started = await api.post('/v1/transactions', { id, protocol, branches, retry, timeoutMs: 120_000 });
    expect(started.status).toBe(201);
    const bCall = () => participant.callsFor(id).find((c) => c.body.branchId === 'b');
    await until(() => bCall() !== undefined);
    proxy.pause();
    try {
      // the answer is in: the step recording it is now waiting on its write
      await until(() => bCall()?.answeredAt != null);
      await new Promise((r) => setTimeout(r, 300));
      const abort = api.post(`/v1/transactions/${id}/abort`, { reason: 'queued' });
      await new Promise((r) => setTimeout(r, 500)); // reaches the driver and waits behind that step
      proxy.resume();
      expect((await abort).status).toBe(202);
    } finally {
      proxy.resume();
    }
    const t = await api.until(`/v1/transactions/${id}`, (x: any) => x.status === 'aborted', 20_000);
    expect(t.status).toBe('aborted');
    expect(t.error).toMatch(/queued/);
    expect(participant.outcome(id, 'a').undone).toBe(1);
  });
});
