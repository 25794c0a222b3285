import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  type FreshDatabase,
} from '#testing';

/**
 * A coordinator killed (SIGKILL) with calls in flight and started again on the same host: the new
 * process sees that its predecessor's process is gone and takes its transactions at once, without
 * waiting for the predecessor's heartbeat to be a TTL old (a minute here, longer than the test
 * waits). Another coordinator that is alive on the same host is never taken for dead.
 */
describe('a coordinator restarted after a crash recovers its work before the heartbeat TTL', () => {
  let db: FreshDatabase;
  let participant: TestParticipant;
  const prefix = freshRedisPrefix('restartrec');
  // the hanging first calls stay in flight until the kill however slow the machine is (the default
  // 10 s call timeout let them fail over to a scheduled retry first on a loaded one, with no owner to recover)
  const env = { INSTANCE_TTL_MS: '60000', SWEEP_INTERVAL_MS: '200', LOG_LEVEL: 'warn', CALL_TIMEOUT_MS: '60000' };
  beforeAll(async () => {
    db = await freshDatabase('restartrec');
    participant = await TestParticipant.start();
  });
  afterAll(async () => {
    await participant.close();
    await db.drop();
  });

  it('finishes the crashed instance’s transactions within seconds, each step applied once', async () => {
    const crashed = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    const api = apiClient(await crashed.start(env));
    expect((await api.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);
    const ids = Array.from({ length: 5 }, (_, i) => `restart-${Date.now()}-${i}`);
    for (const id of ids) {
      // the first action hangs (no effect) until the process that called it is gone
      participant.fault({ transactionId: id, branchId: 'a', phase: 'action', status: 503, times: 1, delayMs: 30_000 });
      const r = await api.post('/v1/transactions', {
        id,
        protocol: 'saga',
        branches: ['a', 'b'].map((b) => ({ id: b, participant: 'p1' })),
      });
      expect(r.status).toBe(201);
    }
    // a second coordinator, alive on the same host, drives a transaction of its own through the crash
    const bystander = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    const restarted = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    const theirs = `bystander-${Date.now()}`;
    try {
      const other = apiClient(await bystander.start(env));
      participant.fault({
        transactionId: theirs,
        branchId: 'a',
        phase: 'action',
        status: 503,
        times: 1,
        delayMs: 30_000,
      });
      const started = await other.post('/v1/transactions', {
        id: theirs,
        protocol: 'saga',
        branches: [{ id: 'a', participant: 'p1' }],
      });
      expect(started.status).toBe(201);
      await other.until(`/v1/transactions/${theirs}`, () => participant.callsFor(theirs).length > 0, 10_000);
      await api.until(`/v1/transactions/${ids[4]}`, () => participant.callsFor(ids[4]).length > 0, 10_000);
      await crashed.kill();

      const again = apiClient(await restarted.start(env));
      for (const id of ids) {
        const t = await again.until(`/v1/transactions/${id}`, (x: any) => x.status === 'committed', 15_000);
        expect(t.events.map((e: any) => e.type)).toContain('transaction.recovered');
        for (const b of ['a', 'b']) expect(participant.effects(id, b)).toEqual({ applied: 1, compensated: 0 });
      }
      // the live bystander in the same process scope was not taken for dead: its transaction is its own
      const mine = await again.get(`/v1/transactions/${theirs}`);
      expect(mine.body.events.map((e: any) => e.type)).not.toContain('transaction.recovered');
      expect(bystander.log).not.toMatch(/taken over by another instance/);
    } finally {
      await restarted.stop();
      await bystander.stop();
    }
  }, 90_000);
});
