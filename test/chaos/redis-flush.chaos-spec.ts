import IORedis from 'ioredis';
import {
  BREAKERS_OFF,
  CoordinatorProcess,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  type FreshDatabase,
} from '#testing';

/**
 * BullMQ holds only wake-ups; Postgres holds the work. Wiping Redis while retries are parked there
 * delays them until the sweeper finds them in Postgres; it loses nothing. The test flushes a Redis
 * database of its own (FLUSHDB on index 7), which is FLUSHALL as far as this coordinator can tell,
 * without wiping the queues of test files running beside it.
 */
describe('Redis flushed in the middle of a run', () => {
  const redisUrl = 'redis://127.0.0.1:6379/7';
  let db: FreshDatabase;
  let participant: TestParticipant;
  let coordinator: CoordinatorProcess;
  let redis: IORedis;

  beforeAll(async () => {
    db = await freshDatabase('flush');
    participant = await TestParticipant.start();
    redis = new IORedis(redisUrl);
    coordinator = new CoordinatorProcess({ databaseUrl: db.url, redisUrl, redisPrefix: freshRedisPrefix('flush') });
  });
  afterAll(async () => {
    await coordinator.stop();
    redis.disconnect();
    await participant.close();
    await db.drop();
  });

  it('every saga still finishes, each effect applied once', async () => {
    // 40 planned failures of one participant would open its circuit, and its probes, one per 5 s,
    // would pace the retries: this test is about the lost wake-ups, not the breaker
    const api = apiClient(await coordinator.start({ ...BREAKERS_OFF, SWEEP_INTERVAL_MS: '500', LOG_LEVEL: 'warn' }));
    await api.post('/v1/participants', { name: 'p1', url: participant.url });
    const ids = Array.from({ length: 20 }, (_, i) => `flush-${Date.now()}-${i}`);
    for (const id of ids)
      participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 503, times: 2 });
    for (const id of ids) {
      const r = await api.post('/v1/transactions', {
        id,
        protocol: 'saga',
        branches: ['a', 'b', 'c'].map((b) => ({ id: b, participant: 'p1' })),
        retry: { maxAttempts: 6, initialBackoffMs: 1500, maxBackoffMs: 3000 },
      });
      expect(r.status).toBe(201);
    }
    // wait until retries are parked as delayed jobs in Redis, then wipe Redis
    const deadline = Date.now() + 10_000;
    let delayed = 0;
    while (Date.now() < deadline && delayed < 5) {
      const keys = await redis.keys('*:wake:delayed');
      delayed = keys.length ? await redis.zcard(keys[0]) : 0;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(delayed).toBeGreaterThanOrEqual(5);
    // the coordinator keeps writing (a retry due meanwhile parks a new job), so the wipe is checked
    // on a key of the test's own, not by an empty database
    await redis.set('flush-sentinel', '1');
    expect(await redis.flushdb()).toBe('OK');
    expect(await redis.exists('flush-sentinel')).toBe(0);

    for (const id of ids) {
      const t = await api.until(`/v1/transactions/${id}`, (x: any) => x.status === 'committed', 30_000);
      expect(t.branches.map((b: any) => b.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      for (const b of ['a', 'b', 'c']) expect(participant.effects(id, b)).toEqual({ applied: 1, compensated: 0 });
    }
  });
});
