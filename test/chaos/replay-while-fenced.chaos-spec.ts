import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TcpProxy,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  type FreshDatabase,
} from '#testing';

/**
 * A replay sent to an instance that has paused driving (its own heartbeat to the log is overdue, so
 * others may already count it dead) does nothing. It must say so as the busy answer an operator
 * sends again, not as "already being replayed", which tells them someone else is at it.
 */
describe('a replay sent to an instance whose heartbeat is overdue', () => {
  let db: FreshDatabase;
  let proxy: TcpProxy;
  let participant: TestParticipant;
  let coordinator: CoordinatorProcess;
  const prefix = freshRedisPrefix('fenced_replay');
  const env = { INSTANCE_TTL_MS: '3000', SWEEP_INTERVAL_MS: '200', CALL_TIMEOUT_MS: '2000' };

  beforeAll(async () => {
    db = await freshDatabase('fenced_replay');
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    participant = await TestParticipant.start();
    coordinator = new CoordinatorProcess({
      databaseUrl: proxy.through(db.url),
      redisUrl: TEST_REDIS_URL,
      redisPrefix: prefix,
    });
  });
  afterAll(async () => {
    await coordinator?.stop();
    await proxy?.close();
    await participant?.close();
    await db?.drop();
  });

  it('is answered busy (send it again) while paused, and replays once the instance drives again', async () => {
    const api = apiClient(await coordinator.start(env));
    expect((await api.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);
    const id = `fenced-replay-${Date.now()}`;
    // the second step says no; the first step's compensation fails: parked failed
    participant.fault({ transactionId: id, branchId: 's2', phase: 'action', status: 409, times: 1 });
    participant.fault({ transactionId: id, branchId: 's1', phase: 'compensate', status: 500, times: 1 });
    const failed = await api.post('/v1/transactions?wait=10000', {
      id,
      protocol: 'saga',
      retry: { maxAttempts: 1 },
      branches: ['s1', 's2'].map((s) => ({ id: s, participant: 'p1', payload: { s } })),
    });
    expect(failed.body.status).toBe('failed');

    // only the heartbeat's connection is cut off: every other query of the instance goes through
    proxy.holdWhenSent('heartbeat_at = now()');
    const deadline = Date.now() + 15_000;
    while (!coordinator.log.includes('heartbeat overdue') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(coordinator.log).toMatch(/heartbeat overdue: this instance stops driving/);

    const paused = await api.post(`/v1/transactions/${id}/replay`, { reason: 'fixed' });
    expect(paused.status).toBe(409);
    expect(paused.body.type).toMatch(/transaction_busy$/);
    expect(paused.body.detail).toMatch(/heartbeat/);
    expect((await api.get(`/v1/transactions/${id}`)).body.status).toBe('failed');

    proxy.resume();
    await api.until('/health/ready', () => coordinator.log.includes('heartbeat restored'), 15_000);
    const replayed = await api.post(`/v1/transactions/${id}/replay`, { reason: 'fixed' });
    expect(replayed.status).toBe(202);
    await api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted', 15_000);
  });
});
