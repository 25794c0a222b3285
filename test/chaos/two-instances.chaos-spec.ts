import { Client } from 'pg';
import {
  BREAKERS_OFF,
  CoordinatorProcess,
  TEST_REDIS_URL,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  type FreshDatabase,
} from '#testing';

/** Several coordinators on one database and one Redis: each transaction is advanced by one at a time. */
describe('two coordinator processes on one database', () => {
  let db: FreshDatabase;
  let participant: TestParticipant;
  const prefix = freshRedisPrefix('two');
  let one: CoordinatorProcess;
  let two: CoordinatorProcess;

  beforeAll(async () => {
    db = await freshDatabase('two');
    participant = await TestParticipant.start();
    one = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    two = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
  });
  afterAll(async () => {
    await one.stop();
    await two.stop();
    await participant.close();
    await db.drop();
  });

  it('never drives a branch phase twice at once, and takes over a killed instance’s work', async () => {
    // breakers off: the 503s are there for retries, and a breaker they open (5 s, and again for each
    // probe that meets another 503) made a transaction wait past this test's patience under CI load
    const api1 = apiClient(await one.start({ LOG_LEVEL: 'warn', ...BREAKERS_OFF }));
    const api2 = apiClient(await two.start({ LOG_LEVEL: 'warn', ...BREAKERS_OFF }));
    await api1.post('/v1/participants', { name: 'p1', url: participant.url });
    const ids = Array.from({ length: 40 }, (_, i) => `two-${Date.now()}-${i}`);
    ids.forEach((id, i) => {
      // slow answers keep calls in flight across the kill; 503s send retries through the shared queue
      participant.fault({
        transactionId: id,
        branchId: 'a',
        phase: 'action',
        status: 200,
        times: 1,
        when: 'after',
        delayMs: 150,
      });
      if (i % 2) participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 503, times: 2 });
      if (i % 5 === 0)
        participant.fault({ transactionId: id, branchId: 'c', phase: 'action', status: 409, times: 100 });
    });
    await Promise.all(
      ids.map((id, i) =>
        (i % 2 ? api2 : api1).post('/v1/transactions', {
          id,
          protocol: 'saga',
          branches: ['a', 'b', 'c'].map((b) => ({ id: b, participant: 'p1' })),
          retry: { maxAttempts: 6, initialBackoffMs: 100, maxBackoffMs: 300 },
        }),
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    await one.kill(); // its in-flight transactions are orphans now

    for (const [i, id] of ids.entries()) {
      const t = await api2.until(
        `/v1/transactions/${id}`,
        (x: any) => ['committed', 'aborted'].includes(x.status),
        30_000,
      );
      expect(t.status).toBe(i % 5 === 0 ? 'aborted' : 'committed');
      for (const b of ['a', 'b']) {
        expect(participant.effects(id, b)).toEqual({ applied: 1, compensated: i % 5 === 0 ? 1 : 0 });
      }
    }
    expect(participant.maxConcurrentSamePhase).toBe(1);

    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    const recovered = await pg.query(
      `SELECT count(DISTINCT transaction_id)::int AS n FROM txc_events WHERE type = 'transaction.recovered'`,
    );
    await pg.end();
    expect(recovered.rows[0].n).toBeGreaterThan(0); // the survivor did take over work of the killed one
  });
});
